/**
 * The run's plan is frozen by a conditional create on S3, and it is the server's answer that decides
 * who froze it: a real S3 server (SeaweedFS, e2e/support/s3-server.ts) behind the fault proxy, whose
 * log shows what went over the wire.
 */
import { AlreadyExistsError } from '../../../core/src/storage/backend-errors.js';
import { useProxiedS3Clients } from '../../../e2e/support/s3-target.js';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';
import { planUri, type ShardPlan } from '../../../core/src/contract/index.js';
import { freezePlan } from './plan-run.js';

const WRITERS = 16;
// one client per writer, so that their requests are concurrent (separate connections)
const s3 = useProxiedS3Clients(['scores'], WRITERS);
const clients = s3.clients;

/** The plan writer `i` would freeze: each writer's differs (its createdAt and shard split). */
function planOf(output: string, i: number): ShardPlan {
  return {
    kind: 'ShardPlan', runId: 'r1', createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    job: { namespace: 'ns', name: 'j', uid: 'u', generation: 1 },
    spec: BatchInferenceJobSpecSchema.parse({
      model: { uri: 's3://models/m.onnx', inputs: { X: { columns: ['a'] } }, outputs: { Y: { column: 'y' } } },
      input: { uri: 's3://lake/in/', idColumn: 'id' }, output: { uri: output },
    }),
    totalRows: 100 + i, files: [], shards: [{ index: 0, rows: 100 + i, ranges: [] }],
  };
}

const key = (uri: string): string => `/${uri.slice('s3://'.length)}`;

test('a conditional write is one PUT, no check first: the server answers the second writer 412', async () => {
  const uri = 's3://scores/one/_bij/r1/plan.json';
  await clients[0].write(uri, 'first', { ifNoneMatch: true });
  const err = await clients[1].write(uri, 'second', { ifNoneMatch: true }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AlreadyExistsError);
  expect(s3.proxy.log.map((e) => `${e.method} ${e.url} ${e.status}`)).toEqual([`PUT ${key(uri)}?x-id=PutObject 200`, `PUT ${key(uri)}?x-id=PutObject 412`]);
});

test('16 operators freezing one run at once, each checking first and told "absent": the server lets one plan through, and all use it', async () => {
  const output = 's3://scores/race/';
  const uri = planUri(output, 'r1');
  // Every writer's look before it writes says the plan is not there (as it does when all look before
  // any writes), and every write is held back a little so that all of them are in flight together:
  // only the server's conditional create is left to tell the writers apart.
  s3.proxy.setRules([
    { method: 'HEAD', path: key(uri), action: 'error', status: 404, code: 'NoSuchKey', times: WRITERS },
    { method: 'PUT', path: key(uri), action: 'delay', delayMs: 300, times: WRITERS },
  ]);
  const plans = Array.from({ length: WRITERS }, (_, i) => planOf(output, i));
  const frozen = await Promise.all(plans.map((p, i) => freezePlan(clients[i], p)));

  const puts = s3.proxy.log.filter((e) => e.method === 'PUT' && e.url.startsWith(key(uri)));
  expect(puts).toHaveLength(WRITERS);
  expect(puts.map((e) => e.status).sort()).toEqual([200, ...Array<number>(WRITERS - 1).fill(412)]);
  // The one that got 200 is the plan stored, and every writer returned it.
  const stored = JSON.parse(await clients[0].readText(uri)) as ShardPlan;
  const winner = plans.findIndex((p) => p.createdAt === stored.createdAt);
  expect(winner).toBeGreaterThanOrEqual(0);
  for (const f of frozen) expect(f).toEqual(plans[winner]);
});
