/**
 * Success policy: when is the run done? Pure; makes no API calls.
 *
 * All shards done (each has a manifest) -> ask for the commit with the chosen attempts (phase
 * Merging). A plan with zero shards is done at once (the commit writes an empty manifest and
 * _SUCCESS). A commit already done is handled before this (reconcile.ts): it wins over everything.
 */
import type { ShardState } from './shards.js';

export type RunCompletion =
  | { kind: 'incomplete'; done: number }
  | { kind: 'commit'; chosen: { shard: number; attempt: number }[] };

export function runCompletion(shards: readonly ShardState[]): RunCompletion {
  let done = 0;
  for (const s of shards) if (s.chosen) done++;
  if (done < shards.length) return { kind: 'incomplete', done };
  return { kind: 'commit', chosen: shards.map((s) => ({ shard: s.index, attempt: s.chosen!.attempt })) };
}
