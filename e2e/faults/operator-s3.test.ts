/**
 * Fault case 7: S3 misbehaves under a whole run. A fault proxy sits in front of a real S3 server
 * (SeaweedFS) and the job's spec.storage.s3.endpoint points at it, so the operator (planning, commit)
 * and every worker process go through it. Faults: 503 SlowDown, reset connections, slow answers and lost answers (the request
 * took effect, the client never heard), on
 *   - planning: the input listing, footer reads, the plan.json write;
 *   - workers: ranged GETs of the input and the model read, attempt data writes, shard manifests;
 *   - the commit: the server-side copies to the committed names, _manifest.json and _SUCCESS.
 * No single request meets more failures than the storage layer's retries absorb (5 attempts), so the
 * run succeeds with no shard retried, every fault fired as many times as it was armed, and the
 * committed output (copied down and read with DuckDB) holds every row exactly once.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../core/src/storage/index.js';
import type { Storage } from '../../core/src/storage/types.js';
import { TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import { s3OptionsFor } from '../support/s3-server.js';
import { startProxiedS3, type ProxiedS3 } from '../support/s3-target.js';
import type { FaultRule, S3FaultProxy } from '../support/s3-fault-proxy.js';
import { DATA, writeFixtures } from '../support/operator-process.js';

const INPUT = '/lake/features/';
const ATTEMPT_DATA = /\/_bij\/[^/]+\/shards\/\d+\/a\d+\/part-[^/]+\.parquet$/;
const SHARD_MANIFEST = /\/_bij\/[^/]+\/shards\/\d+\/a\d+\/manifest\.json$/;
const COMMITTED = /^\/scores\/out\/part-s\d+-\d+\.parquet$/;

/** While the operator plans (nothing else reads the input or writes plan.json then). */
const PLANNING: FaultRule[] = [
  { method: 'GET', path: '/lake', query: 'list-type', action: 'slowdown', times: 1 },
  { method: 'GET', path: INPUT, action: 'slowdown', times: 1 },
  { method: 'GET', path: INPUT, action: 'reset', times: 1 },
  { method: 'PUT', path: /\/plan\.json$/, action: 'slowdown', times: 1 },
];

/** From the first worker's start to the end: worker reads and writes, then the commit. */
const RUNNING: FaultRule[] = [
  { method: 'GET', path: INPUT, action: 'slowdown', times: 2 },
  { method: 'GET', path: INPUT, action: 'reset', times: 1 },
  { method: 'GET', path: INPUT, action: 'delay', delayMs: 400, times: 3 },
  { method: 'GET', path: '/models/', action: 'reset', times: 1 },
  { method: 'PUT', path: ATTEMPT_DATA, action: 'slowdown', times: 2 },
  { method: 'PUT', path: ATTEMPT_DATA, action: 'reset', times: 1 },
  { method: 'PUT', path: SHARD_MANIFEST, action: 'slowdown', times: 1 },
  // the conditional put lands, the answer is lost: the retry finds its own object (412) and accepts it
  { method: 'PUT', path: SHARD_MANIFEST, action: 'lose-response', times: 1 },
  { method: 'PUT', path: COMMITTED, action: 'slowdown', times: 1 },
  { method: 'PUT', path: COMMITTED, action: 'reset', times: 1 },
  { method: 'PUT', path: COMMITTED, action: 'lose-response', times: 1 },
  { method: 'PUT', path: COMMITTED, action: 'delay', delayMs: 300, times: 2 },
  { method: 'PUT', path: /^\/scores\/out\/_manifest\.json$/, action: 'slowdown', times: 1 },
  { method: 'PUT', path: /^\/scores\/out\/_SUCCESS$/, action: 'reset', times: 1 },
];

describe('S3 faults under a run', () => {
  let s3: ProxiedS3;
  let proxy: S3FaultProxy;
  let direct: Storage;
  let cluster: TestCluster | undefined;

  beforeAll(async () => {
    s3 = await startProxiedS3(['models', 'lake', 'scores']);
    proxy = s3.proxy;
    direct = openStorage({ s3: s3OptionsFor(s3.server) });
    const local = mkdtempSync(join(tmpdir(), 'bij-op-s3-'));
    const data = await writeFixtures(local);
    await direct.copy(data.model, 's3://models/churn/model.onnx');
    for (const f of readdirSync(data.input)) await direct.copy(join(data.input, f), `s3://lake/features/${f}`);
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    await s3?.close();
  });

  test('SlowDown, resets, slow and lost answers on reads, writes and commit copies: exactly once', async () => {
    cluster = await TestCluster.start({ workerEnv: { ...s3.server.env } });
    proxy.setRules(PLANNING);
    let planningFired: number[] | undefined;
    cluster.runner.onPodStarted = () => {
      // Synchronous, before the first worker does anything: planning is over (the Jobs come after the plan).
      if (planningFired) return;
      planningFired = PLANNING.map((_, i) => proxy.fired(i));
      proxy.setRules(RUNNING);
    };

    const name = 's3-faults';
    await cluster.apply(fixtureJob(name, { model: 's3://models/churn/model.onnx', input: 's3://lake/features/', output: 's3://scores/out/' }, {
      shards: 4, parallelism: 2, batchSize: 512,
      storage: { s3: { endpoint: proxy.endpoint, region: 'us-east-1', forcePathStyle: true } },
    }));
    const status = await cluster.waitForPhase(name, ['Succeeded', 'Failed'], 90_000);
    expect(status).toMatchObject({ phase: 'Succeeded', shards: { total: 4, succeeded: 4, retries: 0 }, rows: { total: DATA.total, processed: DATA.total } });

    // Every armed fault fired, as often as it was armed.
    expect(planningFired).toEqual(PLANNING.map((r) => r.times));
    expect(RUNNING.map((_, i) => proxy.fired(i))).toEqual(RUNNING.map((r) => r.times));
    const acted = proxy.log.filter((e) => e.action !== 'pass');
    expect(acted.length).toBe([...PLANNING, ...RUNNING].reduce((n, r) => n + (r.times ?? 1), 0));
    // ... on the requests they were meant for, which were retried past them: every request a fault
    // hit was sent again and answered (a lost answer included: the retry finds the object in place).
    const forwarded = new Set(['pass', 'delay']);
    for (const [i, e] of proxy.log.entries()) {
      if (forwarded.has(e.action)) continue;
      expect({ fault: e, retried: proxy.log.slice(i + 1).some((x) => x.method === e.method && x.url === e.url && forwarded.has(x.action)) })
        .toEqual({ fault: e, retried: true });
    }
    const kinds = (re: RegExp) => acted.filter((e) => re.test(e.url.split('?')[0])).map((e) => `${e.method} ${e.action}`);
    expect(kinds(/^\/lake\/features\//)).toEqual(expect.arrayContaining(['GET slowdown', 'GET reset', 'GET delay']));
    expect(kinds(ATTEMPT_DATA)).toEqual(['PUT slowdown', 'PUT slowdown', 'PUT reset']);
    expect(kinds(SHARD_MANIFEST).sort()).toEqual(['PUT lose-response', 'PUT slowdown']);
    expect(kinds(COMMITTED).sort()).toEqual(['PUT delay', 'PUT delay', 'PUT lose-response', 'PUT reset', 'PUT slowdown']);
    expect(proxy.log.some((e) => e.method === 'PUT' && e.url.startsWith('/scores/out/_SUCCESS') && e.action === 'pass')).toBe(true);

    // Copy the committed output down (everything at the top level of the output) and check it.
    const down = mkdtempSync(join(tmpdir(), 'bij-op-s3-out-'));
    const top: string[] = [];
    for await (const o of direct.list('s3://scores/out/')) {
      const rel = o.uri.slice('s3://scores/out/'.length);
      if (rel.includes('/')) continue;
      top.push(rel);
      await direct.copy(o.uri, join(down, rel));
    }
    expect(top.filter((f) => f.endsWith('.parquet'))).toHaveLength(4);
    expect(top).toEqual(expect.arrayContaining(['_SUCCESS', '_manifest.json']));
    const manifest = await expectExactlyOnce(down, DATA.total);
    expect(manifest.files.filter((f) => f.kind === 'data').map((f) => f.path).sort()).toEqual(top.filter((f) => f.endsWith('.parquet')).sort());
    expect(manifest.runId).toBe(status?.runId);
    // Attempt files are gone; only the frozen plan stays.
    const left: string[] = [];
    for await (const o of direct.list('s3://scores/out/_bij/')) left.push(o.uri);
    expect(left).toEqual([`s3://scores/out/_bij/claims/0000000001.json`, `s3://scores/out/_bij/${manifest.runId}/plan.json`]);
  }, 150_000);
});
