/**
 * What every step of the reconcile builds its answer from: an empty result, Job deletions with their
 * reasons, and whether a status is final for its run. Pure.
 */
import type { BatchInferenceJobStatus } from '../api/status.js';
import { failedReason } from './compute-status.js';
import type { ObservedAttempt, ReconcileResult } from './types.js';

export const DEFAULT_PROGRESS_POLL_MS = 15_000;
/** Fallback requeue while waiting for Jobs to go away (their watch events usually come first). */
export const DELETION_POLL_MS = 5_000;
export const DEFAULT_MAX_EVENTS = 20;

export type Delete = ReconcileResult['delete'][number];

/** The attempts `pick` chooses (and not already being deleted), each with its reason to go. */
export const deletions = (attempts: readonly ObservedAttempt[], pick: (a: ObservedAttempt) => boolean, reason: string | ((a: ObservedAttempt) => string)): Delete[] => {
  const out: Delete[] = [];
  for (const a of attempts) {
    if (a.state === 'deleting' || !pick(a)) continue;
    out.push({ name: a.jobName, reason: typeof reason === 'string' ? reason : reason(a) });
  }
  return out;
};

export const result = (status: BatchInferenceJobStatus, rest: Partial<ReconcileResult> = {}): ReconcileResult => ({
  status, create: [], delete: [], actions: {}, finalizer: 'keep', events: [], ...rest,
});

/** Whether this status is final for this run id (no more Jobs, no storage reads needed). */
export function isTerminal(status: BatchInferenceJobStatus, runId: string): boolean {
  if (status.runId !== runId) return false;
  // A spec that was invalid or not allowed can be edited: not terminal.
  return status.phase === 'Succeeded' || (status.phase === 'Failed' && !['InvalidSpec', 'NotAllowed'].includes(failedReason(status) ?? ''));
}
