/**
 * Classify: the current run's attempts and manifests -> one ShardState per planned shard. Pure and
 * linear: attempts are grouped by shard once, then each shard is looked at once.
 *
 * - A shard is done when a manifest exists for it; the chosen attempt is the lowest attempt number
 *   that wrote one (deterministic, so a re-run commit picks the same). Exit codes do not make a
 *   shard done.
 * - An attempt failed when its Job failed, or when its Job completed without a manifest of its own
 *   ("exited 0 without writing its shard manifest").
 * - A failure counts toward maxRetries unless it was a disruption. A speculative attempt's failure is
 *   no failure of the shard at all (not counted, not a retry, not bad input): it is listed apart, and
 *   the shard's own attempt goes on. Bad input (exit 65, or a
 *   TerminationSummary outcome 'bad-input') that was not a disruption fails the run.
 * - Retry backoff after a counted failure: 10s * 2^(n-1), at most 5 min, from the failed attempt's
 *   finishedAt (n = counted failures of the shard). After a disruption: at once.
 */
import { EXIT } from '../../../core/src/contract/process.js';
import type { Backoff, ManifestSummary, ObservedAttempt } from './types.js';

export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;

/** Delay before retrying after the n-th counted failure (n >= 1). */
export const DEFAULT_BACKOFF: Backoff = { baseMs: BACKOFF_BASE_MS, maxMs: BACKOFF_MAX_MS };

export const retryBackoffMs = (n: number, b: Backoff = DEFAULT_BACKOFF): number => Math.min(b.baseMs * 2 ** Math.max(0, n - 1), b.maxMs);

export interface FailedAttempt {
  attempt: ObservedAttempt;
  /** Counts toward maxRetries (not a disruption). */
  counted: boolean;
  badInput: boolean;
  /** The Job completed, but no manifest of this attempt exists. */
  withoutManifest: boolean;
}

/** What happened, for messages: "exit 75: cannot reach s3", "disrupted (Evicted): ...". */
export const failureText = (f: FailedAttempt): string => describeFailure(f.attempt, f.withoutManifest);

export interface ShardState {
  index: number;
  plannedRows: number;
  /** This shard's attempts of the current run, by attempt number. */
  attempts: readonly ObservedAttempt[];
  /** The attempt whose manifest the commit uses; set when the shard is done. */
  chosen?: ManifestSummary;
  active: ObservedAttempt[];
  deleting: ObservedAttempt[];
  failures: FailedAttempt[];
  /** Speculative attempts that ended without a manifest of their own: never failures of the shard. */
  speculativeFailures: ObservedAttempt[];
  countedFailures: number;
  /** The first bad-input failure, if any. */
  badInput?: FailedAttempt;
  /** Attempt number for a new attempt: one more than any seen (Jobs or manifests). */
  nextAttempt: number;
  /** When a new attempt may start (ms since epoch); 0 = now. Meaningful only when it may start at all. */
  retryAtMs: number;
}

export const isBadInputAttempt = (a: ObservedAttempt): boolean =>
  !a.disrupted && (a.exitCode === EXIT.badInput || a.summary?.outcome === 'bad-input');

export function describeFailure(a: ObservedAttempt, withoutManifest: boolean): string {
  if (withoutManifest) return 'exited 0 without writing its shard manifest';
  const head = a.disrupted ? `disrupted${a.reason ? ` (${a.reason})` : ''}`
    : a.exitCode !== undefined ? `exit ${a.exitCode}${a.reason && a.reason !== 'Error' ? ` (${a.reason})` : ''}`
      : a.reason ?? 'failed';
  return a.message ? `${head}: ${truncate(a.message, 512)}` : head;
}

export const truncate = (s: string, n: number): string => (s.length <= n ? s : s.slice(0, n - 1) + '…');

const timeMs = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

/** Groups attempts by shard (attempts outside [0, shardCount) are returned separately). */
export function groupByShard(attempts: readonly ObservedAttempt[], shardCount: number): { byShard: Map<number, ObservedAttempt[]>; outOfRange: ObservedAttempt[] } {
  const byShard = new Map<number, ObservedAttempt[]>();
  const outOfRange: ObservedAttempt[] = [];
  for (const a of attempts) {
    if (a.shard < 0 || a.shard >= shardCount) {
      outOfRange.push(a);
      continue;
    }
    const list = byShard.get(a.shard);
    if (list) list.push(a);
    else byShard.set(a.shard, [a]);
  }
  for (const list of byShard.values()) if (list.length > 1) list.sort((x, y) => x.attempt - y.attempt);
  return { byShard, outOfRange };
}

const NONE: ObservedAttempt[] = [];
const NO_MANIFESTS: readonly ManifestSummary[] = [];

/** One ShardState per planned shard, in shard order. `attempts` must be those of the current run. */
export function classifyShards(
  shardRows: readonly number[],
  attempts: readonly ObservedAttempt[],
  manifests: ReadonlyMap<number, readonly ManifestSummary[]>,
  backoff: Backoff = DEFAULT_BACKOFF,
): { shards: ShardState[]; outOfRange: ObservedAttempt[] } {
  const { byShard, outOfRange } = groupByShard(attempts, shardRows.length);
  const shards: ShardState[] = new Array(shardRows.length);
  for (let s = 0; s < shardRows.length; s++) {
    const list = byShard.get(s) ?? NONE;
    const ms = manifests.get(s) ?? NO_MANIFESTS;
    let chosen: ManifestSummary | undefined;
    let maxAttempt = -1;
    for (const m of ms) {
      if (!chosen || m.attempt < chosen.attempt) chosen = m;
      if (m.attempt > maxAttempt) maxAttempt = m.attempt;
    }
    const hasManifest = (n: number) => ms.some((m) => m.attempt === n);
    const state: ShardState = {
      index: s, plannedRows: shardRows[s], attempts: list, chosen,
      active: [], deleting: [], failures: [], speculativeFailures: [], countedFailures: 0, nextAttempt: 0, retryAtMs: 0,
    };
    let latest: FailedAttempt | undefined;
    let latestAttempt = -1;
    for (const a of list) {
      if (a.attempt > maxAttempt) maxAttempt = a.attempt;
      if (a.state === 'active') state.active.push(a);
      else if (a.state === 'deleting') state.deleting.push(a);
      const withoutManifest = a.state === 'succeeded' && !hasManifest(a.attempt);
      if (a.speculative) {
        if (a.state === 'failed' || withoutManifest) state.speculativeFailures.push(a);
        continue;
      }
      if (a.state === 'failed' || withoutManifest) {
        const f: FailedAttempt = {
          attempt: a,
          counted: withoutManifest || !a.disrupted,
          badInput: !withoutManifest && isBadInputAttempt(a),
          withoutManifest,
        };
        state.failures.push(f);
        if (f.counted) state.countedFailures++;
        if (f.badInput && !state.badInput) state.badInput = f;
      }
      if (a.attempt >= latestAttempt && a.state !== 'active' && a.state !== 'deleting') {
        latestAttempt = a.attempt;
        latest = state.failures[state.failures.length - 1]?.attempt === a ? state.failures[state.failures.length - 1] : undefined;
      }
    }
    state.nextAttempt = maxAttempt + 1;
    if (latest?.counted) {
      const end = timeMs(latest.attempt.finishedAt) ?? timeMs(latest.attempt.startedAt);
      if (end !== undefined) state.retryAtMs = end + retryBackoffMs(state.countedFailures, backoff);
    }
    shards[s] = state;
  }
  return { shards, outOfRange };
}
