/**
 * The bench's data and model, shared by `npm run bench` and the GPU device check (e2e/bench/device):
 * `rows` rows of an int64 `id` and `features` float32 columns f0.. in uniform [-1, 1), spread over
 * `files` snappy Parquet files of 64Ki-row row groups (parquet-rs's writer, by parquet-wasm: every number
 * dictionary-encoded, the dictionary page never full), and the 16-64-64-2 MLP (softmax) the bench scores.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import { mlpModel, prng } from '../../core/src/modelgen/index.js';
import { encodeParquet } from '../../worker/src/writer/index.js';

export const BENCH_FILES = 4;
export const BENCH_ROW_GROUP = 64 * 1024;

/** What gen wrote, saved as meta.json beside the files so that readers need no flags. */
export interface BenchDataMeta {
  rows: number;
  features: number;
  files: number;
  rowGroupRows: number;
}

export const featureColumns = (features: number): string[] => Array.from({ length: features }, (_, j) => `f${j}`);

function makeTable(file: number, firstId: number, rows: number, features: number): arrow.Table {
  const rand = prng(1000 + file);
  const cols: Record<string, Float32Array | BigInt64Array> = { id: new BigInt64Array(rows) };
  for (let j = 0; j < features; j++) cols[`f${j}`] = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    (cols.id as BigInt64Array)[i] = BigInt(firstId + i);
    for (let j = 0; j < features; j++) (cols[`f${j}`] as Float32Array)[i] = rand() * 2 - 1;
  }
  return arrow.tableFromArrays(cols);
}

/** The Arrow schema of the bench's files (id int64, f0..fN float32). */
export const benchSchema = (features: number): arrow.Schema => makeTable(0, 0, 1, features).schema;

/** Writes `dir`/part-N.parquet and `dir`/meta.json. */
export function writeBenchData(dir: string, rows: number, features: number, files = BENCH_FILES, rowGroupRows = BENCH_ROW_GROUP): BenchDataMeta {
  mkdirSync(dir, { recursive: true });
  const perFile = Math.ceil(rows / files);
  for (let f = 0; f < files; f++) {
    const n = Math.max(0, Math.min(perFile, rows - f * perFile));
    writeFileSync(join(dir, `part-${f}.parquet`), encodeParquet(makeTable(f, f * perFile, n, features), { compression: 'snappy', rowGroupRows }));
  }
  const meta: BenchDataMeta = { rows, features, files, rowGroupRows };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  return meta;
}

/** The bench's model: MLP features-64-64-2 with a softmax, input X, output probs. */
export const benchModel = (features: number) =>
  mlpModel({ features, hidden: [64, 64], outputs: 2, seed: 3, softmax: true, inputName: 'X', outputName: 'probs' });
