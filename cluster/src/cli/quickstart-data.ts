/**
 * Creates the quickstart's model and data when they are missing: a linear churn model encoded from
 * code (8 features -> 2 sigmoid scores) and 120,000 rows of features in 4 Parquet files.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as arrow from 'apache-arrow';
import { linearModel, prng } from '../../../core/src/modelgen/index.js';
import { encodeParquet } from '../../../worker/src/writer/index.js';

export const QUICKSTART = { features: 8, files: 4, rowsPerFile: 30_000, seed: 7 };

export function quickstartModel() {
  const rand = prng(QUICKSTART.seed);
  const weights = Array.from({ length: QUICKSTART.features }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  return linearModel({ features: QUICKSTART.features, weights, bias: [0.1, -0.2], sigmoid: true, inputName: 'X', outputName: 'probs' });
}

/** Rows of file `f`: customer ids are unique across files, features are deterministic. */
export function quickstartTable(f: number): arrow.Table {
  const n = QUICKSTART.rowsPerFile;
  const rand = prng(QUICKSTART.seed * 1000 + f);
  const ids = new BigInt64Array(n);
  const region = new Array<string>(n);
  const cols: Record<string, Float32Array> = {};
  for (let j = 0; j < QUICKSTART.features; j++) cols[`f${j}`] = new Float32Array(n);
  const regions = ['emea', 'amer', 'apac'];
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt(f * n + i + 1);
    region[i] = regions[(f + i) % 3];
    for (let j = 0; j < QUICKSTART.features; j++) cols[`f${j}`][i] = rand() * 2 - 1;
  }
  return arrow.tableFromArrays({ customer_id: ids, region, ...cols });
}

/** Writes whatever is missing under `examplesDir`; returns what it created. */
export function ensureQuickstartData(examplesDir: string): string[] {
  const created: string[] = [];
  const modelPath = join(examplesDir, 'models', 'churn.onnx');
  if (!existsSync(modelPath)) {
    mkdirSync(dirname(modelPath), { recursive: true });
    writeFileSync(modelPath, quickstartModel().bytes);
    created.push(modelPath);
  }
  for (let f = 0; f < QUICKSTART.files; f++) {
    const path = join(examplesDir, 'data', 'features', `part-${f}.parquet`);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, encodeParquet(quickstartTable(f), { compression: 'zstd', rowGroupRows: 10_000 }));
    created.push(path);
  }
  return created;
}
