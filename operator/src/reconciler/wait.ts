/**
 * Input readiness (spec.input.waitFor): plan now, wait, or give up. Pure.
 *
 * The caller looks at the input (planner/readiness.ts) while the run has no plan; the reconciler
 * decides from that and the stored status:
 * - ready: plan (leaving Waiting gives the InputReady event: `inputReadyEvent`);
 * - not ready: phase Waiting, status.waitingSince kept from the stored status of the same run (so an
 *   operator restart does not restart the clock), a requeue at the poll interval (or at the timeout,
 *   if sooner);
 * - not ready at waitingSince + timeoutSeconds: Failed, reason InputNotReady, naming what is missing.
 */
import type { WaitFor } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import type { RunFailure } from './failure-policy.js';
import { isoSeconds } from './names.js';
import type { InputReadiness, KubeEvent } from './types.js';

export type WaitDecision =
  | { kind: 'ready' }
  | { kind: 'wait'; waitingSince: string; message: string; requeueAfterMs: number }
  | { kind: 'timeout'; waitingSince: string; failure: RunFailure };

const NOT_LOOKED = 'the input has not been looked at yet';

export function decideWait(
  waitFor: WaitFor,
  readiness: InputReadiness | undefined,
  old: BatchInferenceJobStatus,
  runId: string,
  now: Date,
): WaitDecision {
  const waited = old.runId === runId && old.phase === 'Waiting' ? old.waitingSince : undefined;
  if (readiness?.ready) return { kind: 'ready' };
  const missing = readiness?.ready === false ? readiness.missing : NOT_LOOKED;
  const waitingSince = waited ?? isoSeconds(now);
  const deadline = Date.parse(waitingSince) + waitFor.timeoutSeconds * 1000;
  const left = deadline - now.getTime();
  if (left <= 0) {
    return {
      kind: 'timeout', waitingSince,
      failure: {
        reason: 'InputNotReady',
        message: `the input was not ready within ${waitFor.timeoutSeconds}s (spec.input.waitFor.timeoutSeconds, waiting since ${waitingSince}): ${missing}`,
      },
    };
  }
  return {
    kind: 'wait', waitingSince,
    message: `waiting for the input (spec.input.waitFor, until ${isoSeconds(new Date(deadline))}): ${missing}`,
    requeueAfterMs: Math.min(waitFor.pollSeconds * 1000, left),
  };
}

/** InputReady, when a run leaves Waiting for anything but the timeout: after how long, and what was
 * found (when the caller looked in this pass; a second reconcile after the plan was made has no look).
 * Keyed by the run: once per run. */
export function inputReadyEvent(old: BatchInferenceJobStatus, next: BatchInferenceJobStatus, readiness: InputReadiness | undefined, now: Date): KubeEvent | undefined {
  if (old.phase !== 'Waiting' || old.runId !== next.runId || next.phase === 'Waiting' || next.waitingSince !== undefined) return undefined;
  const since = old.waitingSince ? Date.parse(old.waitingSince) : NaN;
  const after = Number.isNaN(since) ? '' : ` after waiting ${Math.max(0, Math.round((now.getTime() - since) / 1000))}s`;
  return {
    type: 'Normal', reason: 'InputReady',
    message: `run ${next.runId}: the input is ready${after}${readiness?.ready ? `: ${readiness.found}` : ''}`,
    key: `${next.runId}/InputReady`,
  };
}
