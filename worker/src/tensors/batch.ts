/**
 * Running packed rows through a model in pieces: models with a fixed batch dimension get chunks of
 * exactly that many rows (the last one zero-padded, its padding dropped from the outputs); others
 * get one run, or chunks of at most `maxBatch` rows.
 */
import { BadInputError } from '../../../core/src/contract/index.js';
import type { DenseTensor, PackedTensor, TensorData } from '../../../core/src/tensors/types.js';

export interface RowChunk {
  start: number;
  count: number;
}

/** [0, rows) in chunks of `size` rows; the last may be shorter. */
export function chunkRows(rows: number, size: number): RowChunk[] {
  if (!(size >= 1)) throw new Error(`chunk size must be at least 1, got ${size}`);
  const out: RowChunk[] = [];
  for (let start = 0; start < rows; start += size) out.push({ start, count: Math.min(size, rows - start) });
  return out;
}

const rowSizeOf = (dims: readonly number[]): number => dims.slice(1).reduce((a, b) => a * b, 1);

/** Rows [start, start + count) of a [rows, ...] tensor, zero-padded to `padTo` rows. No copy when no padding is needed. */
export function sliceRows<T extends DenseTensor>(t: T, start: number, count: number, padTo = count): T {
  const rowSize = rowSizeOf(t.dims);
  const part = t.data.subarray(start * rowSize, (start + count) * rowSize) as TensorData;
  let data: TensorData = part;
  if (padTo > count) {
    data = new (part.constructor as new (n: number) => TensorData)(padTo * rowSize);
    (data as Float32Array).set(part as Float32Array);
  }
  return { ...t, dims: [padTo, ...t.dims.slice(1)], data };
}

/** Concatenates tensors along the first axis. */
export function concatRows(parts: readonly DenseTensor[]): DenseTensor {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new (first.data.constructor as new (n: number) => TensorData)(total);
  let at = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return { type: first.type, dims: [parts.reduce((n, p) => n + p.dims[0], 0), ...first.dims.slice(1)], data };
}

export interface BatchOptions {
  /** The model's fixed batch size: every run gets exactly this many rows. */
  fixedBatch?: number;
  /** Without a fixed batch, at most this many rows per run (default: all in one run). */
  maxBatch?: number;
}

export type RunFn = (feeds: PackedTensor[]) => Promise<Record<string, DenseTensor>>;

/**
 * Runs `rows` packed rows through `run` and returns each output with exactly `rows` rows. With zero
 * rows the model still runs once, on one zero-filled row (or a fixed batch of them), so the outputs
 * keep their shapes and types.
 */
export async function runInBatches(inputs: readonly PackedTensor[], rows: number, options: BatchOptions, run: RunFn): Promise<Record<string, DenseTensor>> {
  const { fixedBatch } = options;
  const size = fixedBatch ?? Math.max(1, Math.min(options.maxBatch ?? rows, rows));
  const chunks = rows === 0 ? [{ start: 0, count: 0 }] : chunkRows(rows, size);
  const parts: Record<string, DenseTensor[]> = {};
  for (const { start, count } of chunks) {
    const fed = fixedBatch ?? Math.max(count, 1);
    const result = await run(inputs.map((t) => sliceRows(t, start, count, fed)));
    for (const [name, out] of Object.entries(result)) {
      if (out.dims.length === 0 || out.dims[0] !== fed) {
        throw new BadInputError(`model output '${name}' has shape [${out.dims.join(', ')}] for a batch of ${fed} rows; mapped outputs must have the batch as their first dimension`);
      }
      const trimmed = count === fed ? out : sliceRows(out, 0, count);
      (parts[name] ??= []).push(trimmed);
    }
  }
  return Object.fromEntries(Object.entries(parts).map(([name, ps]) => [name, concatRows(ps)]));
}
