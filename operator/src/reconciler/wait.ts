/**
 * Input readiness (spec.input.waitFor): plan now, wait, or give up. Pure.
 *
 * The caller looks at the input (planner/readiness.ts) while the run has no plan; the reconciler
 * decides from that and the stored status:
 * - ready: plan (the InputReady event says what was found and, after a wait, how long it took);
 * - not ready: phase Waiting, status.waitingSince kept from the stored status of the same run (so an
 *   operator restart does not restart the clock), a requeue at the poll interval (or at the timeout,
 *   if sooner);
 * - not ready at waitingSince + timeoutSeconds: Failed, reason InputNotReady, naming what is missing.
 */
import type { WaitFor } from '../api/spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import type { RunFailure } from './failure-policy.js';
import { isoSeconds } from './names.js';
import type { InputReadiness, KubeEvent } from './types.js';

export type WaitDecision =
  | { kind: 'ready'; events: KubeEvent[] }
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
  if (readiness?.ready) {
    const after = waited ? ` after waiting ${Math.max(0, Math.round((now.getTime() - Date.parse(waited)) / 1000))}s` : '';
    return { kind: 'ready', events: [{ type: 'Normal', reason: 'InputReady', message: `run ${runId}: input ready${after}: ${readiness.found}` }] };
  }
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
