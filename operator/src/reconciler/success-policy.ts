/**
 * Success policy: when is the run done? Pure; makes no API calls.
 *
 * All shards done (each has a manifest) -> ask for the commit with the chosen attempts (phase
 * Merging); the commit reported done -> Succeeded. A plan with zero shards is done at once (the
 * commit writes an empty manifest and _SUCCESS).
 */
import type { ShardState } from './shards.js';
import type { ReconcileInput } from './types.js';

export type RunCompletion =
  | { kind: 'incomplete'; done: number }
  | { kind: 'commit'; chosen: { shard: number; attempt: number }[] }
  | { kind: 'committed'; manifestUri?: string };

export function runCompletion(shards: readonly ShardState[], commit: ReconcileInput['commit']): RunCompletion {
  let done = 0;
  for (const s of shards) if (s.chosen) done++;
  if (done < shards.length) return { kind: 'incomplete', done };
  if (commit.state === 'done') return { kind: 'committed', manifestUri: commit.manifestUri };
  return { kind: 'commit', chosen: shards.map((s) => ({ shard: s.index, attempt: s.chosen!.attempt })) };
}
