/**
 * Test fixtures shared by worker and end-to-end tests: a scoring dataset written by DuckDB (an engine
 * independent of parquet-wasm), a linear model encoded from code, and the expected score of every row
 * computed in plain JS (independent of ONNX Runtime).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duck, sqlString } from './duck.js';
import { linearModel } from '../src/modelgen/index.js';

export const FEATURES = ['f0', 'f1', 'f2', 'f3'];
/** Weights (features x 2) and bias of the reference model; churn_score = sigmoid(x . W[:,1] + b[1]). */
export const WEIGHTS = [[0.5, -0.25], [-1, 0.75], [0.25, 0.5], [2, -1.5]];
export const BIAS = [0.1, -0.3];

/** Feature j of row i: exact in float32, so the reference sees what the model sees. */
export const feature = (i: number, j: number): number => (((i * (j + 3)) % 17) - 8) / 8;
/** Rows whose f2 is null (they cannot be scored). */
export const isBadRow = (i: number, every: number): boolean => every > 0 && i % every === 0;

export function referenceScore(i: number): number {
  let z = BIAS[1];
  for (let j = 0; j < FEATURES.length; j++) z += feature(i, j) * WEIGHTS[j][1];
  return 1 / (1 + Math.exp(-z));
}

export function writeModel(dir: string, name = 'model.onnx', batch: number | 'dynamic' = 'dynamic'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, linearModel({ features: 4, weights: WEIGHTS, bias: BIAS, sigmoid: true, inputName: 'X', outputName: 'probs', batch }).bytes);
  return path;
}

export interface DatasetOptions {
  files: number;
  rowsPerFile: number;
  rowGroupRows: number;
  /** Every n-th row has a null f2 (0: none). */
  badEvery?: number;
  compression?: 'zstd' | 'snappy' | 'gzip' | 'lz4';
}

/** Writes `files` Parquet files under dir with DuckDB: id BIGINT (1-based, unique), region, f0..f3 (FLOAT). */
export async function writeDataset(dir: string, o: DatasetOptions): Promise<{ rows: number; bad: number }> {
  mkdirSync(dir, { recursive: true });
  const duck = await Duck.open();
  let bad = 0;
  try {
    for (let f = 0; f < o.files; f++) {
      const lo = f * o.rowsPerFile;
      const feats = FEATURES.map((name, j) => {
        const expr = `((((i * ${j + 3}) % 17) - 8) / 8.0)::FLOAT`;
        return name === 'f2' && o.badEvery ? `CASE WHEN i % ${o.badEvery} = 0 THEN NULL ELSE ${expr} END AS ${name}` : `${expr} AS ${name}`;
      }).join(', ');
      await duck.run(`COPY (SELECT i::BIGINT AS id, 'r' || (i % 3) AS region, ${feats}
        FROM range(${lo}, ${lo + o.rowsPerFile}) t(i)) TO ${sqlString(join(dir, `part-${f}.parquet`))}
        (FORMAT parquet, COMPRESSION ${o.compression ?? 'snappy'}, ROW_GROUP_SIZE ${o.rowGroupRows})`);
      if (o.badEvery) for (let i = lo; i < lo + o.rowsPerFile; i++) if (isBadRow(i, o.badEvery)) bad++;
    }
  } finally {
    duck.close();
  }
  return { rows: o.files * o.rowsPerFile, bad };
}

/** Every data row under a committed or attempt folder, read back with DuckDB: id -> [count, score]. */
export async function readScores(glob: string, scoreColumn = 'churn_score'): Promise<Map<number, { count: number; score: number; region: string }>> {
  const duck = await Duck.open();
  try {
    const rows = await duck.all(`SELECT id, region, ${scoreColumn} AS s FROM read_parquet(${sqlString(glob)})`);
    const out = new Map<number, { count: number; score: number; region: string }>();
    for (const r of rows) {
      const id = Number(r.id);
      const prev = out.get(id);
      out.set(id, { count: (prev?.count ?? 0) + 1, score: Number(r.s), region: String(r.region) });
    }
    return out;
  } finally {
    duck.close();
  }
}

/**
 * What is wrong with a set of scores read back (readScores) for ids [0, totalRows): ids that cannot
 * be scored must be absent; every other id present exactly once with the reference score. Empty when
 * the scores are exactly once and right.
 */
export function scoreProblems(scores: Map<number, { count: number; score: number }>, totalRows: number, badEvery = 0): string[] {
  const problems: string[] = [];
  let expected = 0;
  for (let i = 0; i < totalRows && problems.length <= 10; i++) {
    const got = scores.get(i);
    if (isBadRow(i, badEvery)) {
      if (got) problems.push(`id ${i} cannot be scored but is in the output`);
      continue;
    }
    expected++;
    if (!got) problems.push(`id ${i} is missing`);
    else if (got.count !== 1) problems.push(`id ${i} appears ${got.count} times`);
    else if (Math.abs(got.score - referenceScore(i)) > 1e-5) problems.push(`id ${i} scored ${got.score}, expected ${referenceScore(i)}`);
  }
  if (problems.length === 0 && scores.size !== expected) problems.push(`${scores.size} distinct ids, expected ${expected}`);
  return problems;
}

/** Ids in [0, totalRows) that can be scored. */
export function scorableRows(totalRows: number, badEvery = 0): number {
  let n = 0;
  for (let i = 0; i < totalRows; i++) if (!isBadRow(i, badEvery)) n++;
  return n;
}

export { Duck, sqlString };
