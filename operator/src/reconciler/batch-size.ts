/**
 * status.batchSize: with spec.batchSize auto, the rows per run the shards chose, from their
 * manifests (each shard tunes its own: worker/src/session/auto-batch.ts). Pure.
 */
import type { BatchSizeUsed } from '../../../core/src/contract/index.js';

export interface BatchSizeChosen {
  min: number;
  max: number;
  /** How many shard manifests the figures come from. */
  shards: number;
  /** Of those, how many ran out of memory at some size and backed off. */
  outOfMemoryShards: number;
}

/** The sizes auto chose, or undefined when no manifest says (or the sizes were not auto). */
export function batchSizeChosen(used: readonly BatchSizeUsed[]): BatchSizeChosen | undefined {
  const auto = used.filter((u) => u.auto);
  if (auto.length === 0) return undefined;
  const sizes = auto.map((u) => u.chosen);
  return {
    min: Math.min(...sizes),
    max: Math.max(...sizes),
    shards: auto.length,
    outOfMemoryShards: auto.filter((u) => (u.outOfMemory?.length ?? 0) > 0).length,
  };
}
