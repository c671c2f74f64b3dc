/**
 * Compute status: facts decided by the reconciler -> the complete BatchInferenceJobStatus. Pure.
 *
 * The status must not churn, so that the caller writes it only when something happened:
 * - the same input gives the same status (fields in a fixed order, undefined fields left out);
 * - a condition keeps its lastTransitionTime while its status (True/False) stays the same;
 * - fields derived from the clock (rowsPerSecond, gpuSeconds, estimatedCost) are recomputed only when
 *   something else in the status changed; otherwise the previous values are kept. Without that, every
 *   reconcile would write a new status, whose watch event would trigger the next reconcile.
 */
import type { BatchInferenceJobStatus, Condition, Phase } from '../api/status.js';
import { isoSeconds } from './names.js';
import { canonicalJson } from './runid.js';
import type { RunFailure } from './failure-policy.js';
import type { ObservedAttempt } from './types.js';
import type { Efficiency } from './efficiency.js';
import type { BatchSizeChosen } from './batch-size.js';

/**
 * The condition types, always all present: the batch/v1 Job's set, plus Waiting (for the input,
 * spec.input.waitFor) and Running; then kstatus's
 * (sigs.k8s.io/cli-utils/pkg/kstatus, read by Flux, Config Sync and `kubectl wait`): Ready (True when
 * Succeeded), and the "abnormal-true" Reconciling (True while work is in progress) and Stalled (True when
 * Failed), each False otherwise. A Suspended job is neither: kstatus reads it as Current, Ready False.
 */
export const CONDITION_TYPES = ['Waiting', 'Running', 'Suspended', 'Succeeded', 'Failed', 'Ready', 'Reconciling', 'Stalled'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** metav1.Condition messages are limited to 32768 bytes. */
const MAX_CONDITION_MESSAGE = 32_000;

export interface StatusFacts {
  phase: Phase;
  generation?: number;
  runId?: string;
  outputUri?: string;
  shards?: NonNullable<BatchInferenceJobStatus['shards']>;
  rows?: NonNullable<BatchInferenceJobStatus['rows']>;
  /** Phase Waiting (and a Failed InputNotReady): when the wait for the input began. */
  waitingSince?: string;
  startTime?: string;
  completionTime?: string;
  outputManifest?: string;
  message: string;
  /** Set when phase is Failed: the Failed condition's reason and message. */
  failure?: RunFailure;
  /** For gpuSeconds: the current run's attempts. */
  attempts?: readonly ObservedAttempt[];
  /** spec.worker.gpus and gpuHourlyCost. */
  gpus?: number;
  gpuHourlyCost?: number;
  /** From the chosen shard manifests; when none is observable (after the commit's cleanup), the
   * previous status's value of the same run is kept. */
  efficiency?: Efficiency;
  /** batchSize: auto: the sizes the chosen shard manifests record; kept like efficiency. */
  batchSize?: BatchSizeChosen;
  /** status.outputs (monitoring.ts); when absent, the previous status's of the same run is kept. */
  outputs?: NonNullable<BatchInferenceJobStatus['outputs']>;
  /** The Drifted condition (spec.monitoring only); null: none (spec.monitoring is not set); when
   * absent (a pass that did not look), the previous status's of the same run is kept. */
  drifted?: { status: 'True' | 'False'; reason: string; message: string } | null;
}

/** The SHARDS printer column: succeeded/total, and the shards waiting for Kueue when there are any
 * ("3/16 (4 queued)"). */
export function shardsSummary(s: { succeeded: number; total: number; queued?: number }): string {
  return `${s.succeeded}/${s.total}${s.queued ? ` (${s.queued} queued)` : ''}`;
}

/** Percent of rows processed, rounded down ("100%" only when everything is). */
export function progressPercent(processed: number, total: number, phase: Phase): string {
  if (total <= 0) return phase === 'Succeeded' ? '100%' : '0%';
  return `${Math.floor((Math.min(processed, total) * 100) / total)}%`;
}

/** Phases in which the operator is still working towards the job's end: kstatus's Reconciling. */
const IN_PROGRESS: ReadonlySet<Phase> = new Set(['Pending', 'Waiting', 'Running', 'Merging']);

const committedMessage = (f: StatusFacts): string => (f.outputManifest ? `committed ${f.outputManifest}` : 'committed');
const failureOf = (f: StatusFacts): { reason: string; message: string } =>
  ({ reason: f.failure?.reason ?? 'Failed', message: (f.failure?.message ?? f.message).slice(0, MAX_CONDITION_MESSAGE) });

function desiredCondition(type: ConditionType, f: StatusFacts): { status: 'True' | 'False'; reason: string; message: string } {
  const off = { status: 'False' as const, reason: f.phase, message: '' };
  const phaseIs = { status: 'False' as const, reason: f.phase, message: `phase is ${f.phase}` };
  switch (type) {
    case 'Waiting':
      return f.phase === 'Waiting' ? { status: 'True', reason: 'InputNotReady', message: f.message.slice(0, MAX_CONDITION_MESSAGE) } : off;
    case 'Running':
      if (f.phase === 'Running') return { status: 'True', reason: 'Running', message: f.runId ? `run ${f.runId} is running` : 'running' };
      if (f.phase === 'Merging') return { status: 'True', reason: 'Merging', message: 'all shards are done; committing the output' };
      return off;
    case 'Suspended':
      return f.phase === 'Suspended' ? { status: 'True', reason: 'Suspended', message: 'spec.suspend is true' } : { ...off, reason: 'NotSuspended' };
    case 'Succeeded':
      return f.phase === 'Succeeded' ? { status: 'True', reason: 'Committed', message: committedMessage(f) } : off;
    case 'Failed':
      return f.phase === 'Failed' ? { status: 'True', ...failureOf(f) } : off;
    case 'Ready':
      return f.phase === 'Succeeded' ? { status: 'True', reason: 'Succeeded', message: committedMessage(f) } : phaseIs;
    case 'Reconciling':
      return IN_PROGRESS.has(f.phase) ? { status: 'True', reason: f.phase, message: f.message.slice(0, MAX_CONDITION_MESSAGE) } : phaseIs;
    case 'Stalled':
      return f.phase === 'Failed' ? { status: 'True', ...failureOf(f) } : phaseIs;
  }
}

/** The conditions for these facts, keeping lastTransitionTime where a condition's status is unchanged. */
export function computeConditions(old: readonly Condition[] | undefined, f: StatusFacts, now: Date, keepDrifted = false): Condition[] {
  const byType = new Map((old ?? []).map((c) => [c.type, c]));
  const types: string[] = [...CONDITION_TYPES];
  const drifted = f.drifted === null ? undefined : f.drifted ?? (keepDrifted ? byType.get('Drifted') : undefined);
  if (drifted) types.push('Drifted');
  return types.map((type) => {
    const d = type === 'Drifted' ? drifted! : desiredCondition(type as ConditionType, f);
    const prev = byType.get(type);
    const c: Condition = {
      type,
      status: d.status,
      lastTransitionTime: prev && prev.status === d.status ? prev.lastTransitionTime : isoSeconds(now),
      reason: d.reason,
      message: d.message,
    };
    if (f.generation !== undefined) c.observedGeneration = f.generation;
    return {
      type: c.type, status: c.status,
      ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
      lastTransitionTime: c.lastTransitionTime, reason: c.reason, message: c.message,
    };
  });
}

/** GPU-seconds of the attempts still observable: (finish, or now for running ones, - start) x GPUs. */
export function gpuSecondsOf(attempts: readonly ObservedAttempt[], now: Date): number {
  let total = 0;
  for (const a of attempts) {
    // A queued attempt (waiting for Kueue) holds no GPU; its Job's start time is its creation.
    if (a.gpus <= 0 || !a.startedAt || a.queued) continue;
    const start = Date.parse(a.startedAt);
    const end = a.finishedAt ? Date.parse(a.finishedAt) : a.state === 'active' || a.state === 'deleting' ? now.getTime() : start;
    if (end > start) total += ((end - start) / 1000) * a.gpus;
  }
  return Math.round(total);
}

const TIME_DERIVED = ['rowsPerSecond', 'gpuSeconds', 'estimatedCost', 'conditions'] as const;

const core = (s: BatchInferenceJobStatus): string => {
  const c: Record<string, unknown> = { ...s };
  for (const k of TIME_DERIVED) delete c[k];
  return canonicalJson(c);
};

/** Whether two statuses are the same (key order does not matter): write the status only when not. */
export const statusEqual = (a: BatchInferenceJobStatus, b: BatchInferenceJobStatus): boolean => canonicalJson(a) === canonicalJson(b);

export function buildStatus(old: BatchInferenceJobStatus, f: StatusFacts, now: Date): BatchInferenceJobStatus {
  const s: BatchInferenceJobStatus = {};
  s.phase = f.phase;
  if (f.generation !== undefined) s.observedGeneration = f.generation;
  if (f.runId !== undefined) s.runId = f.runId;
  if (f.outputUri !== undefined) s.outputUri = f.outputUri;
  if (f.shards) {
    s.shards = { ...f.shards };
    s.shardsSummary = shardsSummary(f.shards);
  }
  if (f.rows) {
    s.rows = { ...f.rows };
    s.progress = progressPercent(f.rows.processed, f.rows.total, f.phase);
  }
  if (f.waitingSince !== undefined) s.waitingSince = f.waitingSince;
  if (f.startTime !== undefined) s.startTime = f.startTime;
  if (f.completionTime !== undefined) s.completionTime = f.completionTime;
  if (f.outputManifest !== undefined) s.outputManifest = f.outputManifest;
  s.efficiency = f.efficiency ?? (old.runId === s.runId ? old.efficiency : undefined);
  s.batchSize = f.batchSize ?? (old.runId === s.runId ? old.batchSize : undefined);
  s.outputs = f.outputs ?? (old.runId === s.runId ? old.outputs : undefined);
  s.message = f.message;

  // Clock-derived fields: kept from the old status unless something else changed.
  const unchanged = old.runId === s.runId && core(old) === core(s);
  let rowsPerSecond: number | undefined;
  let gpuSeconds: number | undefined;
  let estimatedCost: string | undefined;
  if (unchanged) {
    ({ rowsPerSecond, gpuSeconds, estimatedCost } = old);
  } else {
    if (s.rows && s.startTime) {
      const end = s.completionTime ? Date.parse(s.completionTime) : now.getTime();
      const secs = (end - Date.parse(s.startTime)) / 1000;
      rowsPerSecond = secs > 0 ? Math.round((s.rows.processed / secs) * 10) / 10 : 0;
    }
    if (f.attempts) {
      const g = gpuSecondsOf(f.attempts, now);
      if (g > 0 || (f.gpus ?? 0) > 0) gpuSeconds = g;
      if (gpuSeconds !== undefined && f.gpuHourlyCost !== undefined) estimatedCost = ((gpuSeconds / 3600) * f.gpuHourlyCost).toFixed(2);
    } else {
      ({ gpuSeconds, estimatedCost } = old.runId === s.runId ? old : {});
    }
  }

  // Fixed key order: the same facts always serialise the same way.
  const out: BatchInferenceJobStatus = {};
  const put = <K extends keyof BatchInferenceJobStatus>(k: K, v: BatchInferenceJobStatus[K]) => {
    if (v !== undefined) out[k] = v;
  };
  put('phase', s.phase);
  put('observedGeneration', s.observedGeneration);
  put('runId', s.runId);
  put('outputUri', s.outputUri);
  put('shards', s.shards);
  put('shardsSummary', s.shardsSummary);
  put('rows', s.rows);
  put('progress', s.progress);
  put('rowsPerSecond', rowsPerSecond);
  put('gpuSeconds', gpuSeconds);
  put('estimatedCost', estimatedCost);
  put('efficiency', s.efficiency);
  put('batchSize', s.batchSize);
  put('outputs', s.outputs);
  put('waitingSince', s.waitingSince);
  put('startTime', s.startTime);
  put('completionTime', s.completionTime);
  put('outputManifest', s.outputManifest);
  put('message', s.message);
  put('conditions', computeConditions(old.conditions, f, now, old.runId === s.runId));
  return out;
}

/** The Failed condition's reason in a status, if the status is Failed. */
export const failedReason = (s: BatchInferenceJobStatus): string | undefined =>
  s.phase === 'Failed' ? s.conditions?.find((c) => c.type === 'Failed' && c.status === 'True')?.reason : undefined;
