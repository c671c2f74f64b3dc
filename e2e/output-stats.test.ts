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
import { RunManifestSchema, type RunManifest } from '../core/src/contract/index.js';
import { expectStatsMatchDuckDB } from './support/output-stats-check.js';
import { BIAS, Duck, WEIGHTS, sqlString, writeDataset, writeModel } from '../core/testing/fixtures.js';
import { linearModel } from '../core/src/modelgen/index.js';

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

  test('other values: bins chosen once per run from the first batch scored (shards/bins.json), the same in every shard', async () => {
    const out = join(root, 'out-logits');
    let bins: unknown;
    const result = await runLocal(job(root, out, {}, 'logits.onnx'), {
      log: silentLogger(), timeoutMs: 120_000,
      // While the run runs, the bins are in shards/bins.json (the commit removes it with the attempts).
      onStatus: (st) => {
        const f = st?.runId ? join(out, '_bij', st.runId, 'shards', 'bins.json') : '';
        if (!bins && f && existsSync(f)) bins = JSON.parse(readFileSync(f, 'utf8'));
      },
    });
    expect(result.phase).toBe('Succeeded');
    const m = readManifest(out);
    const s = await expectStatsMatchDuckDB(out, m);
    expect(s.histogram.layout.source).toBe('sample');
    expect(m.shards.map((sh) => sh.outputs!.churn_score.histogram.layout)).toEqual(new Array(6).fill(s.histogram.layout));
    expect(bins).toEqual({ kind: 'OutputBins', columns: { churn_score: s.histogram.layout } });
    expect(existsSync(join(out, '_bij', m.runId, 'shards'))).toBe(false);
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
