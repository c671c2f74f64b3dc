/**
 * Stragglers (spec.speculation): which shards get one more attempt now, and the events of how each
 * race ended. Pure.
 *
 * - A shard straggles when its one attempt has run (since its Job started: queued time does not count)
 *   longer than `multiplier` x the median run time of the finished shards (their chosen attempts, from
 *   Job start to finish), and at least `minRuntimeSeconds`. With no finished shard there is no median,
 *   and nothing is speculated.
 * - Each straggler gets one speculative attempt (the next attempt number, labelled
 *   batchinference.dev/speculative): never a second while one runs, is being stopped, or has failed
 *   since the attempt it races started (a shard whose speculative attempt failed is left to its own).
 * - Speculative attempts take parallelism slots left after every pending shard got one, and at most
 *   `maxSpeculative` run (or are being stopped) at once; the longest-running stragglers go first.
 * - The first manifest decides (shards.ts: the lowest attempt with a manifest is chosen; the others are
 *   stopped by reconcile.ts as redundant, and their files are swept by the commit's cleanup).
 */
import type { Speculation } from '../../../core/src/contract/job-spec.js';
import type { ShardState } from './shards.js';
import type { KubeEvent, ObservedAttempt } from './types.js';

export interface SpeculativePick {
  shard: number;
  /** The speculative attempt's number. */
  attempt: number;
  /** The attempt it races. */
  over: ObservedAttempt;
  runtimeSeconds: number;
  thresholdSeconds: number;
  medianSeconds: number;
  finishedShards: number;
}

export interface SpeculationPlan {
  picks: SpeculativePick[];
  /** Until the next running attempt crosses the threshold (ms), for the requeue; absent: none will. */
  nextCheckMs?: number;
}

const timeMs = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

/** The median run time (seconds) of the finished shards' chosen attempts whose Jobs are still observed. */
export function finishedMedian(shards: readonly ShardState[]): { medianSeconds: number; count: number } | undefined {
  const durations: number[] = [];
  for (const s of shards) {
    if (!s.chosen) continue;
    const a = s.attempts.find((x) => x.attempt === s.chosen!.attempt);
    const start = timeMs(a?.startedAt);
    const end = timeMs(a?.finishedAt);
    if (start !== undefined && end !== undefined && end >= start) durations.push((end - start) / 1000);
  }
  if (durations.length === 0) return undefined;
  durations.sort((x, y) => x - y);
  const mid = durations.length >> 1;
  const medianSeconds = durations.length % 2 === 1 ? durations[mid] : (durations[mid - 1] + durations[mid]) / 2;
  return { medianSeconds, count: durations.length };
}

/** Speculative attempts of unfinished shards that are running or being stopped. */
export const speculativeInFlight = (shards: readonly ShardState[]): number =>
  shards.reduce((n, s) => n + [...s.active, ...s.deleting].filter((a) => a.speculative).length, 0);

/** Which shards to speculate now, with `capacity` parallelism slots free. */
export function planSpeculation(shards: readonly ShardState[], spec: Speculation | undefined, now: Date, capacity: number): SpeculationPlan {
  if (!spec?.enabled) return { picks: [] };
  const median = finishedMedian(shards);
  if (!median) return { picks: [] };
  const thresholdSeconds = Math.max(spec.minRuntimeSeconds, spec.multiplier * median.medianSeconds);
  const nowMs = now.getTime();
  const candidates: SpeculativePick[] = [];
  let nextCheckMs: number | undefined;
  for (const s of shards) {
    if (s.chosen || s.deleting.length > 0 || s.active.length !== 1) continue;
    const over = s.active[0];
    if (over.speculative || over.queued) continue;
    if (s.speculativeFailures.some((f) => f.attempt > over.attempt)) continue;
    const start = timeMs(over.startedAt);
    if (start === undefined) continue;
    const runtimeSeconds = (nowMs - start) / 1000;
    if (runtimeSeconds < thresholdSeconds) {
      const wait = Math.ceil((thresholdSeconds - runtimeSeconds) * 1000);
      nextCheckMs = nextCheckMs === undefined ? wait : Math.min(nextCheckMs, wait);
      continue;
    }
    candidates.push({
      shard: s.index, attempt: s.nextAttempt, over, runtimeSeconds, thresholdSeconds,
      medianSeconds: median.medianSeconds, finishedShards: median.count,
    });
  }
  candidates.sort((x, y) => y.runtimeSeconds - x.runtimeSeconds || x.shard - y.shard);
  const slots = Math.max(0, Math.min(capacity, spec.maxSpeculative - speculativeInFlight(shards)));
  return { picks: candidates.slice(0, slots), ...(nextCheckMs !== undefined ? { nextCheckMs } : {}) };
}

const secs = (n: number): string => `${Math.round(n)}s`;

/** SpeculativeStarted, recorded with the create of the speculative attempt's Job. */
export function startedEvent(p: SpeculativePick, jobName: string): KubeEvent {
  return {
    type: 'Normal', reason: 'SpeculativeStarted',
    message: `shard ${p.shard}: attempt ${p.over.attempt} has run ${secs(p.runtimeSeconds)}, more than ${secs(p.thresholdSeconds)} `
      + `(median of ${p.finishedShards} finished shards: ${secs(p.medianSeconds)}); starting speculative attempt ${p.attempt}`,
    key: `${jobName}/SpeculativeStarted`, withJobs: true,
  };
}

/** How a race ended, given the winner (the chosen attempt) and a loser that is being stopped; recorded
 * with the delete of the loser's Job (withJobs), so a status write that loses a race does not lose it. */
export function raceEvent(shard: number, winner: ObservedAttempt | undefined, winnerAttempt: number, loser: ObservedAttempt): KubeEvent | undefined {
  if (winner?.speculative) {
    return {
      type: 'Normal', reason: 'SpeculativeWon',
      message: `shard ${shard}: speculative attempt ${winnerAttempt} finished first; stopping attempt ${loser.attempt}`,
      key: `${winner.jobName}/SpeculativeWon`, withJobs: true,
    };
  }
  if (loser.speculative) {
    return {
      type: 'Normal', reason: 'SpeculativeLost',
      message: `shard ${shard}: attempt ${winnerAttempt} finished first; stopping speculative attempt ${loser.attempt}`,
      key: `${loser.jobName}/SpeculativeLost`, withJobs: true,
    };
  }
  return undefined;
}

/** SpeculativeFailed for each speculative attempt that ended without a manifest (not a failure of the shard). */
export function speculativeFailureEvents(shards: readonly ShardState[]): KubeEvent[] {
  const out: KubeEvent[] = [];
  for (const s of shards) {
    if (s.chosen) continue;
    for (const a of s.speculativeFailures) {
      out.push({
        type: 'Normal', reason: 'SpeculativeFailed',
        message: `shard ${s.index}: speculative attempt ${a.attempt} ended without a result (${a.exitCode !== undefined ? `exit ${a.exitCode}` : a.reason ?? 'failed'}); `
          + 'not counted against maxRetries, the shard\'s own attempt goes on',
        key: `${a.jobName}/SpeculativeFailed`,
      });
    }
  }
  return out;
}
