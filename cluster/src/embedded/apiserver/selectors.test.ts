/** Label and field selector parsing and matching, table-driven: the subset bij run serves, and clear refusals beyond it. */
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError } from './status.js';

const labels = { env: 'prod', tier: 'web' };

test.each<[string, boolean]>([
  ['', true],
  ['env=prod', true],
  ['env==prod', true],
  ['env!=prod', false],
  ['missing!=x', true],
  ['tier', true],
  ['!tier', false],
  ['!missing', true],
  [' env = prod , tier ', true],
  ['env=prod,tier=db', false],
])('label selector %j -> %s', (sel, want) => {
  expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
});

test.each(['env in (dev,prod)', 'env notin (dev)', 'n>4', '=x', 'a=b=c', '!a=b'])('label selector %j is a 400 naming what is supported', (sel) => {
  let err: unknown;
  try { parseLabelSelector(sel); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe(400);
  expect((err as ApiError).message).toMatch(/supports only =, ==, !=/);
});

test('field selectors: =, ==, != on metadata.name and metadata.namespace; other fields are a 400', () => {
  const obj = { metadata: { name: 'a', namespace: 'ns' } };
  expect(matchesFields(parseFieldSelector('metadata.name=a'), obj)).toBe(true);
  expect(matchesFields(parseFieldSelector('metadata.namespace==ns,metadata.name!=x'), obj)).toBe(true);
  expect(matchesFields(parseFieldSelector('metadata.namespace!=ns'), obj)).toBe(false);
  expect(() => parseFieldSelector('spec.nodeName=n1')).toThrow(/not a field selector the embedded API server of bij run supports/);
});
