/**
 * End to end on S3: model, input and output live in a local S3 server (SeaweedFS on 127.0.0.1,
 * started and stopped here). The operator plans from footers read with ranged GETs, worker processes
 * get the endpoint from spec.storage.s3 and credentials from the environment, and the commit promotes
 * the chosen attempts with server-side copies.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../cluster/src/embedded/run-local.js';
import { silentLogger } from '../operator/src/log.js';
import { RunManifestSchema } from '../core/src/contract/index.js';
import { openStorage } from '../core/src/storage/index.js';
import { startS3Server, s3OptionsFor, type S3Server } from './support/s3-server.js';
import { useS3Credentials } from './support/s3-target.js';
import { expectStatsMatchDuckDB } from './support/output-stats-check.js';
import { writeDataset, writeModel, readScores, referenceScore, Duck, sqlString } from '../core/testing/fixtures.js';

describe('bij run, S3', () => {
  let server: S3Server;
  let restore: () => void;
  let local: string;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['models', 'lake', 'scores'] });
    restore = useS3Credentials(server.env);
    local = mkdtempSync(join(tmpdir(), 'bij-e2e-s3-'));
    writeModel(join(local, 'models'));
    await writeDataset(join(local, 'in'), { files: 4, rowsPerFile: 2500, rowGroupRows: 500 });
    const s3 = openStorage({ s3: s3OptionsFor(server) });
    await s3.copy(join(local, 'models', 'model.onnx'), 's3://models/churn/v3/model.onnx');
    for (const f of readdirSync(join(local, 'in'))) await s3.copy(join(local, 'in', f), `s3://lake/features/date=2024-02-27/${f}`);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    restore?.();
  });

  const job = (output: string, over: Record<string, unknown> = {}) => ({
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name: 'churn-2024-02-27' },
    spec: {
      model: { uri: 's3://models/churn/v3/model.onnx', version: 'v3', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: 's3://lake/features/date=2024-02-27/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: output },
      shards: 5,
      parallelism: 3,
      batchSize: 1024,
      worker: { executionProvider: 'cpu' },
      storage: { s3: { endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true } },
      ...over,
    },
  });

  test('scores every row once from S3 to S3', async () => {
    const result = await runLocal(job('s3://scores/churn/v3/date=2024-02-27/'), {
      log: silentLogger(), timeoutMs: 120_000, workerEnv: { ...server.env },
    });
    expect([result.phase, result.message]).toEqual(['Succeeded', 'committed 10000 rows in 5 shards']);

    const s3 = openStorage({ s3: s3OptionsFor(server) });
    const manifest = RunManifestSchema.parse(JSON.parse(await s3.readText('s3://scores/churn/v3/date=2024-02-27/_manifest.json')));
    expect(manifest.rowCount).toBe(10_000);
    expect(await s3.exists('s3://scores/churn/v3/date=2024-02-27/_SUCCESS')).toBe(true);
    // Copy the committed parts down and check every row against the reference.
    const down = mkdtempSync(join(tmpdir(), 'bij-e2e-s3-out-'));
    for (const f of manifest.files.filter((x) => x.kind === 'data')) await s3.copy(`s3://scores/churn/v3/date=2024-02-27/${f.path}`, join(down, f.path));
    const scores = await readScores(join(down, '*.parquet'));
    expect(scores.size).toBe(10_000);
    for (let i = 0; i < 10_000; i++) {
      expect(scores.get(i)?.count).toBe(1);
      expect(scores.get(i)!.score).toBeCloseTo(referenceScore(i), 5);
    }
    // Nothing of the attempts is left in the bucket but the frozen plan.
    const left = [];
    for await (const o of s3.list(`s3://scores/churn/v3/date=2024-02-27/_bij/`)) left.push(o.uri);
    // The plan stays for audit, and the run's released claim (commit/claim.ts) as the record of who wrote it.
    expect(left).toEqual([`s3://scores/churn/v3/date=2024-02-27/_bij/claims/0000000001.json`, `s3://scores/churn/v3/date=2024-02-27/_bij/${manifest.runId}/plan.json`]);
  }, 180_000);

  test('partitionBy on S3: every row once, in the folder its values name (DuckDB hive_partitioning), stale partition parts removed', async () => {
    const out = 's3://scores/churn/v3/partitioned/';
    const s3 = openStorage({ s3: s3OptionsFor(server) });
    await s3.write(`${out}region=old/part-s00009-00000.parquet`, 'stale');
    const result = await runLocal(job(out, { output: { uri: out, partitionBy: ['region'], maxOpenPartitions: 2, addColumns: [{ name: 'run_id', source: 'runId' }] } }), {
      log: silentLogger(), timeoutMs: 120_000, workerEnv: { ...server.env },
    });
    expect([result.phase, result.message]).toEqual(['Succeeded', 'committed 10000 rows in 5 shards']);
    const manifest = RunManifestSchema.parse(JSON.parse(await s3.readText(`${out}_manifest.json`)));
    expect(manifest.partitions?.map((p) => [p.path, p.values])).toEqual([0, 1, 2].map((r) => [`region=r${r}`, { region: `r${r}` }]));
    expect(await s3.exists(`${out}region=old/part-s00009-00000.parquet`)).toBe(false);
    const keys: string[] = [];
    for await (const o of s3.list(out)) if (o.uri.endsWith('.parquet')) keys.push(o.uri.slice(out.length));
    expect(keys.sort()).toEqual(manifest.files.map((f) => f.path).sort());
    // Copy the committed tree down, keys as they are, and read it with DuckDB's Hive partitioning.
    const down = mkdtempSync(join(tmpdir(), 'bij-e2e-s3-part-'));
    for (const k of keys) await s3.copy(`${out}${k}`, join(down, k));
    const duck = await Duck.open();
    try {
      const rows = await duck.all(`SELECT id::BIGINT AS id, region, run_id, churn_score FROM read_parquet(${sqlString(join(down, '**', '*.parquet'))}, hive_partitioning = true)`);
      expect(rows).toHaveLength(10_000);
      const seen = new Set<number>();
      for (const r of rows) {
        const id = Number(r.id);
        expect(seen.has(id)).toBe(false);
        seen.add(id);
        expect([r.region, r.run_id]).toEqual([`r${id % 3}`, manifest.runId]);
        expect(Number(r.churn_score)).toBeCloseTo(referenceScore(id), 5);
      }
    } finally {
      duck.close();
    }
  }, 180_000);

  test('prediction statistics and drift on S3: checked against DuckDB; previousRun, then failPSI on a shifted input leaves the output as it was', async () => {
    const out = 's3://scores/churn/v3/monitored/';
    const s3 = openStorage({ s3: s3OptionsFor(server) });
    const run = (over: Record<string, unknown>) => runLocal(job(out, over), { log: silentLogger(), timeoutMs: 120_000, workerEnv: { ...server.env } });
    const monitoring = { baseline: { previousRun: true }, warnPSI: 0.1, failPSI: 0.5 };

    // The first run: no baseline yet.
    const first = await run({ monitoring });
    expect(first.phase).toBe('Succeeded');
    expect(first.status?.conditions?.find((c) => c.type === 'Drifted')).toMatchObject({ status: 'False', reason: 'NoBaseline' });
    const m1 = RunManifestSchema.parse(JSON.parse(await s3.readText(`${out}_manifest.json`)));
    const down = mkdtempSync(join(tmpdir(), 'bij-e2e-s3-stats-'));
    for (const f of m1.files.filter((x) => x.kind === 'data')) await s3.copy(`${out}${f.path}`, join(down, f.path));
    await expectStatsMatchDuckDB(down, m1);
    expect(m1.drift).toBeUndefined();

    // The same input again: compared with the first run, no drift.
    const second = await run({ monitoring, maxRetries: 2 });
    expect(second.phase).toBe('Succeeded');
    const m2 = RunManifestSchema.parse(JSON.parse(await s3.readText(`${out}_manifest.json`)));
    expect(m2.drift).toMatchObject({ baseline: { uri: `${out}_manifest.json`, runId: m1.runId }, columns: { churn_score: { psi: 0, meanShift: 0 } } });

    // A shifted input (f3 held high): above failPSI, so not committed; the second run's output stays.
    const duck = await Duck.open();
    const shifted = join(local, 'shifted.parquet');
    try {
      await duck.run(`COPY (SELECT i::BIGINT AS id, 'r0' AS region, 0.1::FLOAT AS f0, 0.2::FLOAT AS f1, 0.3::FLOAT AS f2, (0.7 + (i % 3) / 10.0)::FLOAT AS f3
        FROM range(0, 3000) t(i)) TO ${sqlString(shifted)} (FORMAT parquet, ROW_GROUP_SIZE 500)`);
    } finally {
      duck.close();
    }
    await s3.copy(shifted, 's3://lake/shifted/part-0.parquet');
    const third = await run({ monitoring, input: { uri: 's3://lake/shifted/', idColumn: 'id', passthroughColumns: ['region'] } });
    expect(third.phase).toBe('Failed');
    expect(third.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ reason: 'Drifted' });
    expect(third.message).toMatch(new RegExp(`output column churn_score: PSI [0-9.]+ against baseline run ${m2.runId}.*above spec\\.monitoring\\.failPSI 0\\.5`));
    const after = RunManifestSchema.parse(JSON.parse(await s3.readText(`${out}_manifest.json`)));
    expect(after.runId).toBe(m2.runId);
    expect(JSON.parse(await s3.readText(`${out}_SUCCESS`))).toMatchObject({ runId: m2.runId });
  }, 300_000);

  test('a missing input bucket fails the run with a message naming the bucket', async () => {
    const result = await runLocal(job('s3://scores/missing/', {
      input: { uri: 's3://no-such-lake/features/', idColumn: 'id' },
    }), { log: silentLogger(), timeoutMs: 60_000, workerEnv: { ...server.env } });
    expect(result.phase).toBe('Failed');
    expect(result.message).toMatch(/no-such-lake/);
  }, 120_000);
});
