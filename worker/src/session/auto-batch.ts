/**
 * `batchSize: auto`: the rows per run, tuned while the shard runs. Pure: the caller measures and
 * passes the figures in (no clock, no I/O here).
 *
 * The policy: start small, and double the size while a size's measured throughput (rows per
 * millisecond of model time) beats the best so far by more than `gain`; once `patience` + 1 sizes in a
 * row do not (one dip in a noisy measurement does not end the search), settle on the best size. An out-of-memory error at some size lowers the ceiling below that size for the rest
 * of the shard, backs off to half of it, and stops the growth (the device is at its limit). A model
 * with a fixed batch dimension gets exactly that size, and nothing is tuned.
 *
 * Each size is measured over at least `sampleMs` of model time, and only by runs of that full size
 * (a row group's short tail says nothing about the size being tried).
 */
import { isOutOfMemory } from './out-of-memory.js';

export interface AutoBatchOptions {
  /** Never more rows per run than this (the rows that reach the model at once, at most). */
  max: number;
  /** The model's fixed batch dimension, if it has one: the size, untuned. */
  fixedBatch?: number;
  /** The first size tried (default 32). */
  start?: number;
  /** The throughput gain, as a fraction, that makes a doubling worth it (default 0.05). */
  gain?: number;
  /** Model time to measure each size over, in milliseconds (default 100). */
  sampleMs?: number;
  /** Sizes that may fail to beat the best before it settles, less one (default 1: two in a row). */
  patience?: number;
}

export const AUTO_BATCH_START = 32;

export interface AutoBatchState {
  /** Rows per run to use now. */
  readonly size: number;
  /** The largest size allowed: the options' max, lowered by out-of-memory errors. */
  readonly max: number;
  /** Done tuning: `size` is the choice (it still drops after an out-of-memory error). */
  readonly settled: boolean;
  readonly best?: { size: number; rowsPerMs: number };
  /** What was measured at `size` so far. */
  readonly sample: { rows: number; ms: number };
  /** Sizes that ran out of memory, in order. */
  readonly oom: readonly number[];
  /** Sizes in a row, since the best, that did not beat it. */
  readonly misses: number;
  readonly gain: number;
  readonly sampleMs: number;
  readonly patience: number;
}

/** The state before the first run. */
export function startAutoBatch(o: AutoBatchOptions): AutoBatchState {
  if (!(Number.isInteger(o.max) && o.max >= 1)) throw new Error(`auto batch size: max must be a positive integer, not ${o.max}`);
  const common = { sample: { rows: 0, ms: 0 }, oom: [], misses: 0, gain: o.gain ?? 0.05, sampleMs: o.sampleMs ?? 100, patience: o.patience ?? 1 };
  if (o.fixedBatch !== undefined) return { ...common, size: o.fixedBatch, max: o.fixedBatch, settled: true };
  const size = Math.max(1, Math.min(o.start ?? AUTO_BATCH_START, o.max));
  return { ...common, size, max: o.max, settled: size >= o.max };
}

/** A measurement: `rows` rows scored in runs of `size` rows, taking `ms` of model time. */
export interface BatchTiming {
  size: number;
  rows: number;
  ms: number;
}

/** The state after a measurement. Measurements at another size than the current one do not count. */
export function afterTiming(s: AutoBatchState, t: BatchTiming): AutoBatchState {
  if (s.settled || t.size !== s.size || !(t.rows > 0) || !(t.ms >= 0)) return s;
  const sample = { rows: s.sample.rows + t.rows, ms: s.sample.ms + t.ms };
  if (sample.ms < s.sampleMs) return { ...s, sample };
  const rowsPerMs = sample.rows / Math.max(sample.ms, 1e-6);
  const fresh = { rows: 0, ms: 0 };
  if (s.best !== undefined && rowsPerMs <= s.best.rowsPerMs * (1 + s.gain)) {
    // No better than the best so far (by the margin): settle there, unless patience allows one more size.
    const misses = s.misses + 1;
    if (misses > s.patience || s.size >= s.max) return { ...s, size: s.best.size, settled: true, misses, sample: fresh };
    return { ...s, size: Math.min(s.max, s.size * 2), misses, sample: fresh };
  }
  const best = { size: s.size, rowsPerMs };
  if (s.size >= s.max) return { ...s, best, settled: true, misses: 0, sample: fresh };
  return { ...s, best, size: Math.min(s.max, s.size * 2), misses: 0, sample: fresh };
}

/**
 * The rows per run to retry with after a run of `rows` rows ran out of memory (half), or undefined
 * when it cannot be smaller.
 */
export function oomBackoff(rows: number): number | undefined {
  return rows > 1 ? Math.floor(rows / 2) : undefined;
}

/** The state after a run of `rows` rows ran out of memory: never that size again, half of it now, no more growth. */
export function afterOom(s: AutoBatchState, rows: number): AutoBatchState {
  const max = Math.max(1, Math.min(s.max, rows - 1));
  const size = Math.max(1, Math.min(s.size, oomBackoff(rows) ?? 1, max));
  const best = s.best !== undefined && s.best.size <= max ? s.best : undefined;
  return { ...s, size, max, best, settled: true, sample: { rows: 0, ms: 0 }, oom: [...s.oom, rows] };
}

/** For tensors/batch.ts retrySmaller: a run that ran out of memory is retried with half its rows. */
export function retrySmallerOnOom(rows: number, error: unknown): number | undefined {
  return isOutOfMemory(error) ? oomBackoff(rows) : undefined;
}
