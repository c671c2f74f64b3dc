import { BadInputError } from './error-kinds.js';
import { parseShardPlan } from './run-plan.js';

const URI = 's3://b/out/_bij/r1/plan.json';
const thrown = (text: string): unknown => {
  try {
    parseShardPlan(text, URI);
  } catch (e) {
    return e;
  }
  return undefined;
};

test('parseShardPlan: text that is not a plan is bad input naming the file', () => {
  const notJson = thrown('{not json');
  expect(notJson).toBeInstanceOf(BadInputError);
  expect((notJson as Error).message).toBe(`${URI} is not a shard plan: not JSON`);
  const wrongShape = thrown('{"kind":"ShardPlan"}');
  expect(wrongShape).toBeInstanceOf(BadInputError);
  expect((wrongShape as Error).message.startsWith(`${URI} is not a shard plan: `)).toBe(true);
});
