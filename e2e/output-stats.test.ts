/**
 * End to end, local files (bij run: the embedded API server, the unmodified operator, real worker
 * processes): the prediction statistics of every shard and of the run, checked against DuckDB over the
 * committed files (count, min, max, mean, standard deviation, and every histogram bin), and drift
 * against a baseline run: none for the same input, a Warning and the Drifted condition for a shifted
 * one, and a run that stays uncommitted above failPSI.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../cluster/src/embedded/run-local.js';
import { silentLogger } from '../operator/src/log.js';
import { RunManifestSchema, mergeOutputStats, type ColumnStats, type RunManifest } from '../operator/src/contract/index.js';
import { BIAS, Duck, WEIGHTS, sqlString, writeDataset, writeModel } from '../worker/src/testing/fixtures.js';
import { linearModel } from '../worker/src/modelgen/index.js';

const ROWS_PER_FILE = 4_000;
const FILES = 3;
const BAD_EVERY = 251;

function job(root: string, out: string, over: Record<string, unknown> = {}, model = 'model.onnx') {
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name: 'stats' },
    spec: {
      model: { uri: join(root, 'models', model), inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: join(root, 'in') + '/', idColumn: 'id' },
      output: { uri: out + '/' },
      shards: 6,
      parallelism: 2,
      batchSize: 500,
      maxFailedRows: 1000,
      worker: { executionProvider: 'cpu' },
      ...over,
    },
  };
}

const readManifest = (out: string): RunManifest => RunManifestSchema.parse(JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')));

/** The statistics DuckDB computes over the committed data files, in the manifest's bins. */
async function duckStats(out: string, s: ColumnStats) {
  const { min, max, bins } = s.histogram.layout;
  const duck = await Duck.open();
  try {
    const src = `(SELECT churn_score::DOUBLE AS v FROM read_parquet(${sqlString(join(out, '*.parquet'))}))`;
    const [agg] = await duck.all(`SELECT count(*) AS n, count(v) AS nn, min(v) AS lo, max(v) AS hi, avg(v) AS mean, stddev_samp(v) AS sd FROM ${src}`);
    const hist = await duck.all(`SELECT CASE WHEN v < ${min}::DOUBLE THEN -1 WHEN v > ${max}::DOUBLE THEN ${bins}
        ELSE least(floor((v - ${min}::DOUBLE) / (${max}::DOUBLE - ${min}::DOUBLE) * ${bins}), ${bins - 1}) END::INTEGER AS b, count(*) AS c
      FROM ${src} WHERE NOT isnan(v) GROUP BY b ORDER BY b`);
    const counts = new Array<number>(bins).fill(0);
    let underflow = 0;
    let overflow = 0;
    for (const r of hist) {
      const b = Number(r.b);
      if (b < 0) underflow += Number(r.c);
      else if (b >= bins) overflow += Number(r.c);
      else counts[b] = Number(r.c);
    }
    return { n: Number(agg.n), nulls: Number(agg.n) - Number(agg.nn), min: Number(agg.lo), max: Number(agg.hi), mean: Number(agg.mean), sd: Number(agg.sd), counts, underflow, overflow };
  } finally {
    duck.close();
  }
}

async function expectStatsMatchDuckDB(out: string, m: RunManifest): Promise<ColumnStats> {
  const s = m.outputs?.churn_score;
  expect(s).toBeDefined();
  const d = await duckStats(out, s!);
  expect(s!.count).toBe(m.rowCount);
  expect({ count: s!.count, nulls: s!.nulls, nan: s!.nan, min: s!.min, max: s!.max }).toEqual({ count: d.n, nulls: d.nulls, nan: 0, min: d.min, max: d.max });
  expect(Math.abs(s!.mean! - d.mean)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(d.mean)));
  expect(Math.abs(s!.std! - d.sd) / d.sd).toBeLessThan(1e-9);
  expect(s!.histogram.counts).toEqual(d.counts);
  expect([s!.histogram.underflow, s!.histogram.overflow]).toEqual([d.underflow, d.overflow]);
  // The run's figures are the shards' merged; each shard counted what it scored.
  expect(m.shards.every((sh) => sh.outputs?.churn_score.count === sh.rows.scored)).toBe(true);
  expect(mergeOutputStats(m.shards.map((sh) => sh.outputs!))).toEqual(m.outputs);
  return s!;
}

describe('prediction statistics and drift, local files', () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-e2e-stats-'));
    writeModel(join(root, 'models'));
    // The same model without its sigmoid: logits, not probabilities (bins from a first sample).
    writeFileSync(join(root, 'models', 'logits.onnx'), linearModel({ features: 4, weights: WEIGHTS, bias: BIAS, sigmoid: false, inputName: 'X', outputName: 'probs', batch: 'dynamic' }).bytes);
    await writeDataset(join(root, 'in'), { files: FILES, rowsPerFile: ROWS_PER_FILE, rowGroupRows: 500, badEvery: BAD_EVERY, compression: 'zstd' });
    // A shifted input: f3 (weight -1.5 for class 1) held high, so the scores fall.
    mkdirSync(join(root, 'shifted'));
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT i::BIGINT AS id, ((i % 13) / 13.0)::FLOAT AS f0, ((i % 7) / 7.0)::FLOAT AS f1, ((i % 5) / 5.0)::FLOAT AS f2, (0.6 + (i % 3) / 10.0)::FLOAT AS f3
        FROM range(0, 6000) t(i)) TO ${sqlString(join(root, 'shifted', 'part-0.parquet'))} (FORMAT parquet, ROW_GROUP_SIZE 500)`);
    } finally {
      duck.close();
    }
  }, 60_000);

  test('probabilities: shard and run statistics in fixed 0-1 bins, as DuckDB computes them; status.outputs summarises them', async () => {
    const out = join(root, 'out-a');
    const result = await runLocal(job(root, out), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Succeeded');
    const m = readManifest(out);
    const s = await expectStatsMatchDuckDB(out, m);
    expect(s.histogram.layout).toEqual({ min: 0, max: 1, bins: 20, source: 'probability' });
    expect(m.drift).toBeUndefined();
    const summary = result.status?.outputs?.[0];
    expect(summary).toMatchObject({ column: 'churn_score', count: s.count, nulls: 0, nan: 0 });
    expect(summary!.mean).toBeCloseTo(s.mean!, 5);
    expect(summary!.std).toBeCloseTo(s.std!, 5);
    // No spec.monitoring: no Drifted condition.
    expect(result.status?.conditions?.some((c) => c.type === 'Drifted')).toBe(false);
  }, 180_000);

  test('other values: bins chosen once per run from the first batch scored (bins.json), the same in every shard', async () => {
    const out = join(root, 'out-logits');
    const result = await runLocal(job(root, out, {}, 'logits.onnx'), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Succeeded');
    const m = readManifest(out);
    const s = await expectStatsMatchDuckDB(out, m);
    expect(s.histogram.layout.source).toBe('sample');
    const bins = JSON.parse(readFileSync(join(out, '_bij', m.runId, 'bins.json'), 'utf8'));
    expect(bins.columns.churn_score).toEqual(s.histogram.layout);
    expect(s.min! < 0 && s.max! > 1).toBe(true);
  }, 180_000);

  test('drift: the same input against its baseline is no drift; previousRun finds the run committed before', async () => {
    const base = join(root, 'out-a', '_manifest.json');
    const out = join(root, 'out-b');
    const same = await runLocal(job(root, out, { monitoring: { baseline: { uri: base } } }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(same.phase).toBe('Succeeded');
    const m = readManifest(out);
    const baselineRun = readManifest(join(root, 'out-a')).runId;
    expect(m.drift).toMatchObject({ baseline: { uri: base, runId: baselineRun }, warnPSI: 0.2, columns: { churn_score: { psi: 0, meanShift: 0 } } });
    expect(same.status?.conditions?.find((c) => c.type === 'Drifted')).toMatchObject({ status: 'False', reason: 'WithinThreshold' });
    expect(same.status?.outputs?.[0]).toMatchObject({ psi: 0, meanShift: 0 });

    // previousRun: the shifted input scored into out-b is compared with the run out-b held before.
    const shifted = await runLocal(job(root, out, {
      input: { uri: join(root, 'shifted') + '/', idColumn: 'id' },
      monitoring: { baseline: { previousRun: true } },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(shifted.phase).toBe('Succeeded'); // warn only, by default
    const m2 = readManifest(out);
    expect(m2.runId).not.toBe(m.runId);
    expect(m2.drift?.baseline.runId).toBe(m.runId);
    const psi = m2.drift!.columns.churn_score.psi!;
    expect(psi).toBeGreaterThan(0.2);
    expect(m2.drift!.columns.churn_score.meanShift!).toBeLessThan(0);
    expect(shifted.status?.conditions?.find((c) => c.type === 'Drifted')).toMatchObject({ status: 'True', reason: 'PSIAboveWarning' });
    expect(shifted.warnings?.find((w) => w.reason === 'Drifted')?.message).toMatch(/output column churn_score: PSI [0-9.]+ against baseline run/);
    await expectStatsMatchDuckDB(out, m2);
  }, 240_000);

  test('failPSI: a drifted run fails before its commit, naming the column and the figure', async () => {
    const out = join(root, 'out-c');
    const result = await runLocal(job(root, out, {
      input: { uri: join(root, 'shifted') + '/', idColumn: 'id' },
      monitoring: { baseline: { uri: join(root, 'out-a') }, failPSI: 0.5 },
    }), { log: silentLogger(), timeoutMs: 120_000 });
    expect(result.phase).toBe('Failed');
    expect(result.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'Drifted' });
    expect(result.message).toMatch(/output column churn_score: PSI [0-9.]+ against baseline run r[0-9a-f]+.*above spec\.monitoring\.failPSI 0\.5; run r[0-9a-f]+ is not committed/);
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
    expect(existsSync(join(out, '_manifest.json'))).toBe(false);
  }, 180_000);

  test('a baseline that does not exist fails planning, naming it', async () => {
    const missing = join(root, 'nowhere', '_manifest.json');
    const result = await runLocal(job(root, join(root, 'out-d'), { monitoring: { baseline: { uri: missing } } }), { log: silentLogger(), timeoutMs: 60_000 });
    expect(result.phase).toBe('Failed');
    expect(result.message).toContain(`spec.monitoring.baseline.uri: ${missing} does not exist`);
  }, 60_000);
});
