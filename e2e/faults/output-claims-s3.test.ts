/**
 * Two runs, one output, on a real S3 server (SeaweedFS) behind the fault proxy: the case that used to
 * lose half the rows while both runs said Succeeded. Two clusters (two API servers, two operators)
 * each get a BatchInferenceJob naming s3://scores/shared/: a 6-shard run whose commit copies are slowed
 * by the proxy, then, while it commits, a 3-shard run. The output's claim (operator/src/commit/claim.ts,
 * created with If-None-Match: * on the real server) lets exactly one run commit: the first commits a
 * complete output, the second fails at once with OutputInUse naming the owner, and writes nothing.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../core/src/storage/index.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import { s3OptionsFor } from '../support/s3-server.js';
import { startProxiedS3, type ProxiedS3 } from '../support/s3-target.js';

const ROWS = 3 * 4_096;
const OUT = 's3://scores/shared/';
const COMMIT_COPY = /^\/scores\/shared\/part-s\d+-\d+\.parquet$/;

describe('two runs into one S3 output', () => {
  let s3: ProxiedS3;
  const clusters: TestCluster[] = [];
  beforeAll(async () => {
    s3 = await startProxiedS3(['models', 'lake', 'scores']);
    const direct = openStorage({ s3: s3OptionsFor(s3.server) });
    const local = mkdtempSync(join(tmpdir(), 'bij-claims-s3-'));
    const model = writeModel(join(local, 'models'));
    await writeDataset(join(local, 'in'), { files: 3, rowsPerFile: ROWS / 3, rowGroupRows: 1_024 });
    await direct.copy(model, 's3://models/m.onnx');
    for (const f of readdirSync(join(local, 'in'))) await direct.copy(join(local, 'in', f), `s3://lake/in/${f}`);
  }, 180_000);
  afterAll(async () => {
    for (const c of clusters) await c.close();
    await s3?.close();
  });

  test('the run that claimed the output commits it whole; the other fails at once naming it, and writes nothing', async () => {
    const storage = { s3: { endpoint: s3.proxy.endpoint, region: 'us-east-1', forcePathStyle: true } };
    const paths = { model: 's3://models/m.onnx', input: 's3://lake/in/', output: OUT };
    // The first run's commit copies are slow: each waits 8 s at the proxy (they run concurrently, so
    // the commit takes about 8 s: time for the second run to be planned and to reach the claim).
    s3.proxy.setRules([{ method: 'PUT', path: COMMIT_COPY, action: 'delay', delayMs: 8_000, times: 6 }]);
    // Both clusters first: starting a control plane takes seconds, longer than a commit.
    const a = await TestCluster.start({ workerEnv: { ...s3.server.env } });
    clusters.push(a);
    const b = await TestCluster.start({ workerEnv: { ...s3.server.env } });
    clusters.push(b);
    await a.apply(fixtureJob('nightly', paths, { shards: 6, parallelism: 3, batchSize: 512, storage }));
    const merging = await a.waitForPhase('nightly', 'Merging', 120_000);

    await b.apply(fixtureJob('backfill', paths, { shards: 3, parallelism: 3, batchSize: 512, storage }));
    const refused = await b.waitForPhase('backfill', ['Succeeded', 'Failed'], 60_000);
    expect(refused?.phase).toBe('Failed');
    const cond = refused?.conditions?.find((c) => c.type === 'Failed');
    expect(cond?.reason).toBe('OutputInUse');
    expect(cond?.message).toContain(`the output ${OUT} belongs to run ${merging?.runId} of BatchInferenceJob default/nightly`);
    expect(await b.jobs('backfill')).toEqual([]);

    const done = await a.waitForPhase('nightly', ['Succeeded', 'Failed'], 120_000);
    expect(done).toMatchObject({ phase: 'Succeeded', shards: { total: 6, succeeded: 6 } });
    expect(s3.proxy.fired(0)).toBe(6);

    // Nothing of the refused run is in the output: only the first run's plan and claim under _bij/.
    const direct = openStorage({ s3: s3OptionsFor(s3.server) });
    const bij: string[] = [];
    for await (const o of direct.list(`${OUT}_bij/`)) bij.push(o.uri.slice(OUT.length));
    expect(bij).toEqual(['_bij/claims/0000000001.json', `_bij/${done?.runId}/plan.json`]);
    // The committed output, copied down, holds every row exactly once, from the first run.
    const down = mkdtempSync(join(tmpdir(), 'bij-claims-s3-out-'));
    for await (const o of direct.list(OUT)) {
      const rel = o.uri.slice(OUT.length);
      if (!rel.includes('/')) await direct.copy(o.uri, join(down, rel));
    }
    const manifest = await expectExactlyOnce(down, ROWS);
    expect(manifest.runId).toBe(done?.runId);
    expect(manifest.shards).toHaveLength(6);
  }, 300_000);
});
