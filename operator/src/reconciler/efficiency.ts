/**
 * Where the shards' time went, from their manifests' stage timings. Pure. The question a user asks
 * is "did the model (the GPU) wait?": `modelBusyPercent` is the share of the shards' wall time in
 * which a batch was running in the model; `inputWaitPercent` the share spent waiting for the next
 * decoded batch (reads and decoding that read-ahead did not hide); `outputWaitPercent` the share spent
 * handing output to the writer (encoding or uploads that fell behind). They need not sum to 100: the
 * rest is packing, start-up, and work that overlapped.
 */
import type { StageTimings } from '../../../core/src/contract/index.js';

export interface Efficiency {
  modelBusyPercent: number;
  inputWaitPercent: number;
  outputWaitPercent: number;
  /** How many shard manifests the figures come from. */
  shards: number;
}

const pct = (part: number, whole: number): number => Math.max(0, Math.min(100, Math.round((100 * part) / whole)));

export function efficiencyOf(timings: readonly StageTimings[]): Efficiency | undefined {
  let total = 0;
  let infer = 0;
  let input = 0;
  let output = 0;
  for (const t of timings) {
    total += t.total;
    infer += t.infer;
    input += t.decode;
    output += t.write;
  }
  if (timings.length === 0 || !(total > 0)) return undefined;
  return { modelBusyPercent: pct(infer, total), inputWaitPercent: pct(input, total), outputWaitPercent: pct(output, total), shards: timings.length };
}

/** The verdict printed for users, e.g. "model busy 87% (input wait 5%, output wait 3%; 12 shards)". */
export function describeEfficiency(e: Efficiency): string {
  return `model busy ${e.modelBusyPercent}% (input wait ${e.inputWaitPercent}%, output wait ${e.outputWaitPercent}%; `
    + `${e.shards} shard${e.shards === 1 ? '' : 's'})`;
}
