/**
 * Events, only on transitions. Pure.
 *
 * A reconcile runs many times for one change (every watch event, every requeue), so events are not
 * emitted for what the reconciler sees, but for how the new status differs from the stored one:
 * - a phase change gives one event (Started, Resumed, Suspended, Merging, Committed, or a Warning
 *   named by the Failed condition's reason); a Failed condition whose reason or message changed
 *   gives one too; a run that succeeds with no rows at all gives EmptyInput (Warning) before its
 *   Committed, so an empty input shows in `kubectl describe`;
 * - status.shards.retries counts the run's failed attempts; when it grows, the most recent failures
 *   (by finishedAt, at least the k new ones, at most maxEvents) each give ShardFailed (Warning) or
 *   ShardDisrupted (Normal), keyed by the attempt's Job: finish times have second precision, so the
 *   newest k may include one already reported and miss the new one; the key makes a repeat a no-op.
 * - a pod the Job controller replaced after a disruption (pod failure policy Ignore), while its attempt
 *   went on, gives ShardDisrupted (Normal), keyed by the pod: it is observed on every reconcile while
 *   the Job exists, and the key makes a repeat a no-op.
 * - an attempt evicted by Kueue gives ShardEvicted (Normal): seen as a queued attempt (its Job suspended
 *   again, no pod) whose progress file says its pod had started, keyed by the Job and the time it was
 *   suspended, so each eviction gives one event; or, when the stopped pod failed the Job after all, in
 *   place of ShardDisrupted, keyed like the other failures;
 * - status.shards.queued going from 0 to more (shard Jobs waiting for Kueue's admission) gives Queued
 *   (Normal), naming the LocalQueues: once when a run starts waiting, again after the queue drained.
 * The caller emits them only after the status write succeeded, so a failed write (409) emits nothing
 * and the next reconcile computes the same events again. ShardRetried is emitted by reconcile.ts
 * when it creates a Job for attempt > 0.
 */
import type { BatchInferenceJobStatus } from '../api/status.js';
import type { FailedAttempt } from './shards.js';
import { failureText, truncate } from './shards.js';
import type { KubeEvent, ObservedAttempt } from './types.js';
import type { StageTimings } from '../../../core/src/contract/manifest.js';

const failedCondition = (s: BatchInferenceJobStatus) => s.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');

export function phaseEvents(old: BatchInferenceJobStatus, next: BatchInferenceJobStatus, inputUri?: string): KubeEvent[] {
  const events: KubeEvent[] = [];
  const sameRun = old.runId === next.runId;
  if (next.phase === 'Failed') {
    const o = sameRun && old.phase === 'Failed' ? failedCondition(old) : undefined;
    const n = failedCondition(next);
    if (!o || o.reason !== n?.reason || o.message !== n?.message) {
      events.push({ type: 'Warning', reason: n?.reason ?? 'Failed', message: truncate(n?.message ?? next.message ?? 'the run failed', 1024) });
    }
    return events;
  }
  if (sameRun && old.phase === next.phase) return events;
  const shards = next.shards;
  switch (next.phase) {
    case 'Running':
      if (sameRun && old.phase === 'Suspended') events.push({ type: 'Normal', reason: 'Resumed', message: `run ${next.runId} resumed` });
      else if (!sameRun || old.phase !== 'Merging') {
        events.push({
          type: 'Normal', reason: 'Started',
          message: `run ${next.runId}: ${shards?.total ?? 0} shards, ${next.rows?.total ?? 0} rows`,
        });
      }
      break;
    case 'Waiting':
      events.push({ type: 'Normal', reason: 'Waiting', message: `run ${next.runId}: ${truncate(next.message ?? 'waiting for the input', 1024)}` });
      break;
    case 'Suspended':
      events.push({ type: 'Normal', reason: 'Suspended', message: `run ${next.runId ?? '(not started)'} suspended; running attempts are stopped` });
      break;
    case 'Merging':
      events.push({ type: 'Normal', reason: 'Merging', message: `all ${shards?.total ?? 0} shards are done; committing` });
      break;
    case 'Succeeded':
      if (next.rows?.total === 0) {
        events.push({
          type: 'Warning', reason: 'EmptyInput',
          message: `run ${next.runId}: the Parquet files under ${inputUri ?? 'spec.input.uri'} hold no rows; committed an empty output (_manifest.json with rowCount 0, and _SUCCESS)`,
        });
      }
      events.push({
        type: 'Normal', reason: 'Committed',
        message: `run ${next.runId}: ${next.rows?.processed ?? 0} rows${next.outputManifest ? ` -> ${next.outputManifest}` : ''}`,
      });
      break;
    default:
      break;
  }
  return events;
}

/** Events for the attempts that failed since the stored status was written. */
export function failureEvents(
  old: BatchInferenceJobStatus,
  next: BatchInferenceJobStatus,
  failures: () => FailedAttempt[],
  maxEvents: number,
): KubeEvent[] {
  const before = old.runId === next.runId ? old.shards?.retries ?? 0 : 0;
  const after = next.shards?.retries ?? 0;
  const k = after - before;
  if (k <= 0) return [];
  const all = failures().map((f) => ({ f, t: f.attempt.finishedAt ? Date.parse(f.attempt.finishedAt) : 0 }));
  all.sort((a, b) => a.t - b.t || a.f.attempt.shard - b.f.attempt.shard || a.f.attempt.attempt - b.f.attempt.attempt);
  // The newest maxEvents, not just the k new ones: finish times have second precision, so the newest
  // k may hold one already reported and miss a new one. Keys make a repeat a no-op.
  const shown = all.slice(Math.max(0, all.length - maxEvents)).map((x) => x.f);
  const events: KubeEvent[] = shown.map((f) => {
    const a = f.attempt;
    const evicted = !f.counted && a.evicted;
    const reason = f.counted ? 'ShardFailed' : evicted ? 'ShardEvicted' : 'ShardDisrupted';
    const message = f.counted
      ? `shard ${a.shard} attempt ${a.attempt} failed: ${failureText(f)}`
      : evicted
        ? `shard ${a.shard} attempt ${a.attempt} was evicted by ${a.queue ? `Kueue from LocalQueue ${a.queue}` : 'whatever suspended its Job (Kueue?)'}`
          + ' (preempted by a higher-priority workload, or its quota reclaimed): its Job was suspended and its pod stopped; retrying without counting it'
        : `shard ${a.shard} attempt ${a.attempt} was ${failureText(f)}; retrying without counting it`;
    return { type: f.counted ? 'Warning' : 'Normal', reason, message, key: `${a.jobName}/${reason}` };
  });
  if (k > maxEvents) {
    events.push({ type: 'Warning', reason: 'ShardFailed', message: `${k - maxEvents} more attempts failed` });
  }
  return events;
}

/** Events for disrupted pods that the Job controller replaced within a running attempt. */
export function replacedPodEvents(attempts: readonly ObservedAttempt[]): KubeEvent[] {
  return attempts.flatMap((a) => (a.replacedPods ?? []).map((p) => ({
    type: 'Normal' as const,
    reason: 'ShardDisrupted',
    message: `shard ${a.shard} attempt ${a.attempt}: pod ${p.pod} was disrupted${p.reason ? ` (${p.reason})` : ''}; the Job started a replacement pod, not counted as a failure`,
    key: `${p.pod}/ShardDisrupted`,
  })));
}

/** "3 queued by Kueue in LocalQueue team-a" (the status message's and the Queued event's words). */
export function queuedText(n: number, queues: readonly string[]): string {
  if (queues.length === 0) return `${n} queued (their Jobs are suspended, waiting for admission)`;
  return `${n} queued by Kueue in LocalQueue${queues.length > 1 ? 's' : ''} ${queues.join(', ')}`;
}

/** Queued (Normal) when shards start waiting for Kueue's admission: status.shards.queued leaves 0. */
export function queueEvents(old: BatchInferenceJobStatus, next: BatchInferenceJobStatus, queues: readonly string[]): KubeEvent[] {
  const now = next.shards?.queued ?? 0;
  const before = old.runId === next.runId ? old.shards?.queued ?? 0 : 0;
  if (now === 0 || before > 0) return [];
  const what = `${now} shard${now === 1 ? '' : 's'} ${queuedText(now, queues).replace(/^\d+ /, '')}`;
  return [{ type: 'Normal', reason: 'Queued', message: queues.length > 0 ? `${what}: waiting for quota in the ClusterQueue` : what }];
}

/**
 * ShardEvicted for queued attempts that had started (Kueue suspended their admitted Job again: the pod was
 * stopped, and the same attempt starts over when re-admitted). `progress` and `timings` are the attempts'
 * progress files (`${shard}/${attempt}`): a worker that started has written one.
 */
export function evictionEvents(
  attempts: readonly ObservedAttempt[],
  progress: ReadonlyMap<string, number>,
  timings: ReadonlyMap<string, StageTimings> | undefined,
  shardRows: readonly number[],
): KubeEvent[] {
  const out: KubeEvent[] = [];
  for (const a of attempts) {
    if (!a.queued || a.state !== 'active') continue;
    const key = `${a.shard}/${a.attempt}`;
    const rows = progress.get(key) ?? 0;
    if (rows === 0 && !timings?.has(key)) continue;
    const total = shardRows[a.shard];
    const done = total !== undefined ? `${rows} of ${total} rows` : `${rows} rows`;
    out.push({
      type: 'Normal', reason: 'ShardEvicted', key: `${a.jobName}/ShardEvicted/${a.suspendedSince ?? ''}`,
      message: `shard ${a.shard} attempt ${a.attempt} was evicted by ${a.queue ? `Kueue from LocalQueue ${a.queue}` : 'whatever suspended its Job (Kueue?)'}`
        + ` (preempted by a higher-priority workload, or its quota reclaimed) after ${done}: its pod was stopped, and the attempt starts over`
        + ' when the Job is admitted again; not counted as a failure',
    });
  }
  return out;
}
