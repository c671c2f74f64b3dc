/**
 * End to end, local files: the embedded API server, the unmodified operator, the local Job runner
 * and real worker processes (dist/worker/src/main.js, built by `npm test` before jest runs) score a
 * DuckDB-written dataset in several files and shards with parallelism below the shard count. Every
 * input id must come out exactly once, with the score an independent JS computation gives.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../cluster/src/embedded/run-local.js';
import { silentLogger } from '../operator/src/log.js';
import { RunManifestSchema } from '../core/src/contract/index.js';
import { writeDataset, writeModel, scorableRows, scoreProblems, Duck, sqlString } from '../core/testing/fixtures.js';
import { runCommand } from '../cluster/src/cli/run.js';
import { rewriteWithParquetWasm } from '../worker/src/reader/testdata-gen.js';
import { openStorage } from '../core/src/storage/index.js';
import { expectExactlyOnce } from './support/cluster.js';

const ROWS_PER_FILE = 5_000;
const FILES = 3;
const BAD_EVERY = 251;

function job(root: string, over: Record<string, unknown> = {}) {
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name: 'scores' },
    spec: {
      model: { uri: join(root, 'models', 'model.onnx'), version: 'v7', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: join(root, 'in') + '/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: join(root, 'out') + '/' },
      shards: 6,
      parallelism: 2,
      batchSize: 1000,
      maxFailedRows: 1000,
      worker: { executionProvider: 'cpu' },
      ...over,
    },
  };
}

describe('bij run, local files', () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-e2e-local-'));
    writeModel(join(root, 'models'));
    await writeDataset(join(root, 'in'), { files: FILES, rowsPerFile: ROWS_PER_FILE, rowGroupRows: 1000, badEvery: BAD_EVERY, compression: 'zstd' });
  }, 60_000);

  test('every row once, right scores, committed with a manifest and _SUCCESS last', async () => {
    const maxActive: number[] = [];
    // A credential in worker.env reaches the workers but never the plan kept in the output.
    const env = [{ name: 'API_TOKEN', value: 'tok-s3cr3t-value' }];
    const result = await runLocal(job(root, { worker: { executionProvider: 'cpu', env } }), {
      log: silentLogger(), timeoutMs: 120_000,
      onStatus: (s) => maxActive.push(s?.shards?.running ?? 0),
    });
    expect(result).toMatchObject({ phase: 'Succeeded', message: `committed ${FILES * ROWS_PER_FILE} rows in 6 shards` });
    expect(Math.max(...maxActive)).toBeLessThanOrEqual(2);

    const total = FILES * ROWS_PER_FILE;
    const bad = total - scorableRows(total, BAD_EVERY);
    await expectExactlyOnce(join(root, 'out'), total, BAD_EVERY);

    const manifest = RunManifestSchema.parse(JSON.parse(readFileSync(join(root, 'out', '_manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ rowCount: total - bad, failedRowCount: bad, inputRowCount: total, model: { version: 'v7' } });
    expect(manifest.shards).toHaveLength(6);
    const dataFiles = readdirSync(join(root, 'out')).filter((f) => f.endsWith('.parquet')).sort();
    expect(manifest.files.filter((f) => f.kind === 'data').map((f) => f.path).sort()).toEqual(dataFiles);
    expect(JSON.parse(readFileSync(join(root, 'out', '_SUCCESS'), 'utf8'))).toMatchObject({ runId: manifest.runId });
    // Attempt files are cleaned up after the commit; the frozen plan stays for audit.
    expect(existsSync(join(root, 'out', '_bij', manifest.runId, 'shards'))).toBe(false);
    expect(existsSync(join(root, 'out', '_bij', manifest.runId, 'plan.json'))).toBe(true);
    expect(readFileSync(join(root, 'out', '_bij', manifest.runId, 'plan.json'), 'utf8')).not.toContain('tok-s3cr3t-value');

    expect(result.status).toMatchObject({
      phase: 'Succeeded', shards: { total: 6, succeeded: 6, failed: 0 }, rows: { total, processed: total, failed: bad },
      progress: '100%', outputManifest: join(root, 'out') + '/_manifest.json',
    });
    // Where the time went, from all six shard manifests.
    const eff = result.status?.efficiency;
    expect(eff?.shards).toBe(6);
    for (const p of [eff!.modelBusyPercent, eff!.inputWaitPercent, eff!.outputWaitPercent]) expect(p).toBeGreaterThanOrEqual(0);
    expect(eff!.modelBusyPercent).toBeGreaterThan(0);
    expect(eff!.modelBusyPercent).toBeLessThanOrEqual(100);
  }, 180_000);

  test('a mapping that does not fit the model is refused at planning, before any pod starts, naming the input', async () => {
    const result = await runLocal(job(root, {
      output: { uri: join(root, 'out-unfit') + '/' },
      model: { uri: join(root, 'models', 'model.onnx'), inputs: { X: { columns: ['f0', 'f1', 'f2'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Failed');
    expect(result.message).toContain("model input 'X' takes 4 values per row (shape [batch, 4]), but spec.model.inputs.X gives 3 (columns f0, f1, f2)");
    expect(result.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'PlanFailed' });
    expect(result.status?.shards?.retries ?? 0).toBe(0);
    expect(existsSync(join(root, 'out-unfit', '_SUCCESS'))).toBe(false);
  }, 180_000);

  test('a model pinned to other bytes is refused at planning, naming both hashes', async () => {
    const result = await runLocal(job(root, {
      output: { uri: join(root, 'out-pinned') + '/' },
      model: { uri: join(root, 'models', 'model.onnx'), sha256: 'a'.repeat(64), inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Failed');
    expect(result.message).toMatch(/has sha256 [0-9a-f]{64}, but spec.model.sha256 is a{64}/);
    expect(result.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'PlanFailed' });
    expect(result.status?.shards?.retries ?? 0).toBe(0);
  }, 180_000);

  test('bad input only the worker can see fails the run at once with the worker\'s message and commits nothing', async () => {
    // A data page whose header is garbage: the footer (all the planner reads) is intact.
    const input = join(root, 'in-corrupt');
    mkdirSync(input, { recursive: true });
    for (const f of readdirSync(join(root, 'in'))) copyFileSync(join(root, 'in', f), join(input, f));
    const victim = join(input, readdirSync(input).filter((f) => f.endsWith('.parquet')).sort()[0]);
    const fd = openSync(victim, 'r+');
    writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, 4);
    closeSync(fd);
    const result = await runLocal(job(root, {
      input: { uri: input + '/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: join(root, 'out-bad') + '/' },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Failed');
    expect(result.message).toContain(victim);
    expect(result.message).toMatch(/corrupt|unreadable/);
    expect(existsSync(join(root, 'out-bad', '_SUCCESS'))).toBe(false);
    expect(existsSync(join(root, 'out-bad', '_manifest.json'))).toBe(false);
    // One failed attempt, not retried: the failure reason is the worker's bad-input exit.
    expect(result.status?.shards?.retries).toBe(1);
    expect(result.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BadInput' });
  }, 180_000);

  test('an input whose files hold no rows is a normal night: an empty, complete output, Succeeded, with a warning', async () => {
    // Zero-row files from DuckDB and from parquet-wasm.
    const dir = join(root, 'in-empty');
    mkdirSync(dir, { recursive: true });
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT * FROM read_parquet(${sqlString(join(root, 'in', 'part-0.parquet'))}) WHERE false)
        TO ${sqlString(join(dir, 'duckdb.parquet'))} (FORMAT parquet)`);
    } finally {
      duck.close();
    }
    await rewriteWithParquetWasm(openStorage(), join(dir, 'duckdb.parquet'), join(dir, 'parquet-wasm.parquet'), { rowGroupRows: 1000, dictionaryColumns: [] });
    const file = join(root, 'empty-job.yaml');
    writeFileSync(file, JSON.stringify(job(root, { input: { uri: dir + '/', idColumn: 'id', passthroughColumns: ['region'] }, output: { uri: join(root, 'out-empty') + '/' } })));
    let printed = '';
    const stdout = { isTTY: false, write: (s: string) => { printed += s; return true; } } as unknown as NodeJS.WriteStream;
    expect(await runCommand(file, { timeout: 120 }, stdout)).toBe(0);
    expect(printed).toMatch(/^Warning EmptyInput: run \S+: the Parquet files under .*in-empty\/ hold no rows; committed an empty output/m);
    expect(printed).toMatch(/^Succeeded: 0 rows scored, 0 failed, 0 shards, in /m);

    const out = join(root, 'out-empty');
    const manifest = RunManifestSchema.parse(JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ rowCount: 0, failedRowCount: 0, inputRowCount: 0, files: [], shards: [] });
    expect(JSON.parse(readFileSync(join(out, '_SUCCESS'), 'utf8'))).toMatchObject({ runId: manifest.runId });
    expect(readdirSync(out).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  }, 180_000);

  test('partitionBy and run columns: every row once, in the folder its values name (DuckDB hive_partitioning); stale partition parts removed', async () => {
    const out = join(root, 'out-part');
    // A stale part of an older run in a partition folder this run does not write. (DuckDB's `**` also
    // matches _errors/, which has no partition folders: the reads below glob the partition folders.)
    mkdirSync(join(out, 'region=old'), { recursive: true });
    writeFileSync(join(out, 'region=old', 'part-s00009-00000.parquet'), 'stale');
    const spec = {
      output: {
        uri: out + '/', partitionBy: ['region', 'run_date'], maxOpenPartitions: 2,
        addColumns: [{ name: 'run_id', source: 'runId' }, { name: 'run_date', source: 'scheduledDate' }, { name: 'job', source: 'jobName' }],
      },
    };
    const result = await runLocal(job(root, spec), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Succeeded');
    const total = FILES * ROWS_PER_FILE;
    const manifest = RunManifestSchema.parse(JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')));
    const day = manifest.startedAt.slice(0, 10);
    expect(manifest.partitionBy).toEqual(['region', 'run_date']);
    expect(manifest.partitions?.map((p) => p.path)).toEqual(['r0', 'r1', 'r2'].map((r) => `region=${r}/run_date=${day}`));
    expect(manifest.partitions?.reduce((a, p) => a + p.rowCount, 0)).toBe(manifest.rowCount);
    expect(existsSync(join(out, 'region=old', 'part-s00009-00000.parquet'))).toBe(false);
    const onDisk = (readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet') && !f.startsWith('_')).sort();
    expect(manifest.files.filter((f) => f.kind === 'data').map((f) => f.path).sort()).toEqual(onDisk);
    const duck = await Duck.open();
    try {
      const rows = await duck.all(`SELECT id::BIGINT AS id, region, run_date::VARCHAR AS run_date, run_id, job, churn_score
        FROM read_parquet(${sqlString(join(out, 'region=*', '**', '*.parquet'))}, hive_partitioning = true)`);
      const scores = new Map<number, { count: number; score: number }>();
      for (const r of rows) {
        const id = Number(r.id);
        expect(r.region).toBe(`r${id % 3}`); // the folder says what the input row held
        expect([r.run_date, r.run_id, r.job]).toEqual([day, manifest.runId, 'scores']);
        scores.set(id, { count: (scores.get(id)?.count ?? 0) + 1, score: Number(r.churn_score) });
      }
      expect(scoreProblems(scores, total, BAD_EVERY)).toEqual([]);
      // The files hold neither partition column; the run columns that are not partitions are inside.
      const cols = await duck.all(`DESCRIBE SELECT * FROM read_parquet(${sqlString(join(out, onDisk[0]))}, hive_partitioning = false)`);
      expect(cols.map((c) => c.column_name)).toEqual(['id', 'churn_score', 'run_id', 'job']);
    } finally {
      duck.close();
    }
  }, 180_000);

  test('partitionBy over an input without rows: no partition folders, and a manifest that says so', async () => {
    const out = join(root, 'out-part-empty');
    const result = await runLocal(job(root, {
      input: { uri: join(root, 'in-empty') + '/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: out + '/', partitionBy: ['region'] },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Succeeded');
    const manifest = RunManifestSchema.parse(JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ rowCount: 0, files: [], partitionBy: ['region'], partitions: [] });
    expect(readdirSync(out).filter((f) => !f.startsWith('_'))).toEqual([]);
  }, 180_000);

  test('an input folder without any Parquet file stays an error, with its message', async () => {
    const dir = join(root, 'in-none');
    mkdirSync(dir, { recursive: true });
    const result = await runLocal(job(root, { input: { uri: dir + '/', idColumn: 'id' }, output: { uri: join(root, 'out-none') + '/' } }), { log: silentLogger(), timeoutMs: 60_000 });
    expect(result.phase).toBe('Failed');
    expect(result.message).toMatch(/no Parquet files under .*in-none/);
    expect(result.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'PlanFailed' });
    expect(existsSync(join(root, 'out-none', '_SUCCESS'))).toBe(false);
  }, 60_000);

  test('a job that fails validation is refused before anything starts, naming the field', async () => {
    const bad = job(root);
    delete (bad.spec.input as { idColumn?: string }).idColumn;
    const result = await runLocal(bad, { log: silentLogger(), timeoutMs: 30_000 });
    expect(result.phase).toBe('Rejected');
    expect(result.message).toMatch(/spec\.input\.idColumn/);
  }, 60_000);
});
