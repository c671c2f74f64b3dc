/**
 * Shard and row counts for the status, and the Kueue queues the queued shards wait in. Pure.
 */
import type { ShardState } from './shards.js';

/** Whether every active attempt of the shard waits for admission (Kueue): queued, not running. */
export const isQueued = (s: ShardState): boolean => s.active.length > 0 && s.active.every((a) => a.queued);

/** The LocalQueues the queued shards wait in, sorted (empty when none has a queue name). */
export function queueNames(shards: readonly ShardState[]): string[] {
  const names = new Set<string>();
  for (const s of shards) if (!s.chosen && isQueued(s)) for (const a of s.active) if (a.queue) names.add(a.queue);
  return [...names].sort();
}

/** Shard counts and row counts. With `stopping`, running attempts are about to be deleted, so they
 * are not counted as running (or queued) and their progress is not counted as processed. A shard
 * whose attempt waits for Kueue's admission is queued: it holds a parallelism slot, but no pod. */
export function countShards(shards: readonly ShardState[], progress: ReadonlyMap<string, number>, stopping: boolean, speculation: boolean) {
  const c: { total: number; pending: number; running: number; queued: number; succeeded: number; failed: number; retries: number; speculative?: number } =
    { total: shards.length, pending: 0, running: 0, queued: 0, succeeded: 0, failed: 0, retries: 0 };
  // Speculative attempts running now (not those of done shards, which are being stopped).
  const speculative = stopping ? 0 : shards.reduce((n, s) => n + (s.chosen ? 0 : s.active.filter((a) => a.speculative && !a.queued).length), 0);
  if (speculation || speculative > 0) c.speculative = speculative;
  let processed = 0;
  let failedRows = 0;
  let occupied = 0;
  for (const s of shards) {
    c.retries += s.failures.length;
    occupied += s.active.length + s.deleting.length;
    if (s.chosen) {
      c.succeeded++;
      processed += s.chosen.rows.read;
      failedRows += s.chosen.rows.failed;
    } else if (s.active.length > 0 && !stopping && isQueued(s)) {
      c.queued++;
    } else if (s.active.length > 0 && !stopping) {
      c.running++;
      let best = 0;
      for (const a of s.active) best = Math.max(best, progress.get(`${s.index}/${a.attempt}`) ?? 0);
      processed += Math.min(best, s.plannedRows);
    } else if (s.failures.length > 0) {
      c.failed++;
    } else {
      c.pending++;
    }
  }
  return { shards: c, processed, failedRows, occupied };
}
