/**
 * The top-level reconcile: (BatchInferenceJob, observed attempts, plan, manifests, progress, commit,
 * now) -> (status, Jobs to create and delete, storage actions, finalizer, events, requeue). Pure and
 * level-triggered: it looks only at what is observed now, never at what it did before, so running it
 * again on the same input gives the same result, and a crash between any two steps of the caller is
 * repaired by the next reconcile.
 *
 * Ordered steps:
 *   1. deletion: delete every Job; once none is left, clean up the runs' storage and remove the
 *      finalizer;
 *   2. spec errors: Failed (InvalidSpec), stop running attempts; fixing the spec resumes (no finalizer
 *      needed: nothing is created for an invalid spec);
 *   3. finalizer: add it before creating anything;
 *   4. run id: output-defining spec fields changed -> stop the old run's Jobs; once they are gone,
 *      clean up its storage and start the new run;
 *   5. terminal: Succeeded and Failed stay so for the same run id (Succeeded deletes its Jobs;
 *      Failed keeps its failed Jobs for `kubectl logs`);
 *   6. plan: wait for the input (Waiting, spec.input.waitFor; wait.ts), then ask for one (Pending), or
 *      fail on a plan error or a wait that timed out;
 *   7. classify shards (shards.ts), failure policy, suspend, success policy;
 *   8. schedule: new attempts for the lowest pending shards, within parallelism and backoff; then
 *      speculative attempts of stragglers in the slots left (speculation.ts);
 *   9. status (compute-status.ts) and events (events.ts).
 */
import { policyViolations } from './worker-policy.js';
import { buildStatus, type StatusFacts } from './compute-status.js';
import type { RunFailure } from './failure-policy.js';
import { phaseEvents } from './events.js';
import { FINALIZER, isoSeconds } from './names.js';
import { DELETION_POLL_MS, deletions, isTerminal, result } from './outcome.js';
import { runId as computeRunId } from './runid.js';
import { reconcileRun } from './run.js';
import type { CleanupAction, FieldError, ReconcileInput, ReconcileResult } from './types.js';

export { DEFAULT_PROGRESS_POLL_MS, DELETION_POLL_MS, isTerminal } from './outcome.js';

/** Whether the caller must read storage (plan, manifests, progress, commit) for this reconcile. */
export function needsStorage(bij: ReconcileInput['bij'], specErrors: readonly FieldError[] = []): boolean {
  if (bij.metadata.deletionTimestamp || !bij.metadata.finalizers?.includes(FINALIZER)) return false;
  if (!bij.spec || specErrors.length > 0) return false;
  return !isTerminal(bij.status ?? {}, computeRunId(bij.metadata.uid, bij.spec));
}

export function reconcile(input: ReconcileInput): ReconcileResult {
  const { bij } = input;
  const old = bij.status ?? {};
  const hasFinalizer = bij.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (bij.metadata.deletionTimestamp) return reconcileDeletion(input, hasFinalizer);
  const specErrors = input.specErrors ?? [];
  // An invalid spec creates nothing, so it needs no finalizer: Failed goes straight to /status. (The
  // API server refuses any update of the object itself while it fails the CRD's schema, e.g. one with
  // no spec or stored before a schema change, so adding the finalizer first would fail for ever.)
  if (specErrors.length > 0 || !bij.spec) return reconcileInvalidSpec(input, specErrors);
  if (!hasFinalizer) return result(old, { finalizer: 'add', requeueAfterMs: 0 });
  const denied = policyViolations(bij.spec, input.options?.policy, input.options?.job?.workerImage);
  if (denied.length > 0) return reconcileInvalidSpec(input, denied, 'NotAllowed');
  return reconcileRun(input);
}

/** Step 1: the BatchInferenceJob is being deleted. */
function reconcileDeletion(input: ReconcileInput, hasFinalizer: boolean): ReconcileResult {
  const old = input.bij.status ?? {};
  if (!hasFinalizer) return result(old); // not ours to hold; garbage collection removes the Jobs
  if (input.attempts.length > 0) {
    return result(old, {
      delete: deletions(input.attempts, () => true, 'the BatchInferenceJob is being deleted'),
      requeueAfterMs: DELETION_POLL_MS,
    });
  }
  const cleanup: CleanupAction[] = [];
  const outputUri = old.outputUri ?? input.bij.spec?.output.uri;
  if (old.runId && outputUri) cleanup.push({ runId: old.runId, outputUri });
  const spec = input.bij.spec;
  if (spec && (input.specErrors ?? []).length === 0) {
    // A run planned but not yet recorded in the status (crash between plan and status write).
    const current = computeRunId(input.bij.metadata.uid, spec);
    if (current !== old.runId) cleanup.push({ runId: current, outputUri: spec.output.uri });
  }
  return result(old, { finalizer: 'remove', ...(cleanup.length > 0 ? { actions: { cleanup } } : {}) });
}

function listErrors(errors: readonly FieldError[]): string {
  const shown = errors.slice(0, 5).map((e) => `${e.field}: ${e.message}`).join('; ');
  return errors.length > 5 ? `${shown}; and ${errors.length - 5} more` : shown;
}

/** Step 3: the spec does not parse or fails the semantic checks. */
/** A spec that is invalid, or that the operator's policy does not allow: Failed until it is edited. */
function reconcileInvalidSpec(input: ReconcileInput, errors: readonly FieldError[], reason: 'InvalidSpec' | 'NotAllowed' = 'InvalidSpec'): ReconcileResult {
  const { bij, now } = input;
  const old = bij.status ?? {};
  const what = reason === 'NotAllowed' ? "not allowed by the operator's policy" : 'invalid spec';
  const failure: RunFailure = { reason, message: `${what}: ${listErrors(errors.length > 0 ? errors : [{ field: 'spec', message: 'does not parse' }])}` };
  const facts: StatusFacts = {
    phase: 'Failed', generation: bij.metadata.generation, runId: old.runId, outputUri: old.outputUri,
    shards: old.shards, rows: old.rows, startTime: old.startTime,
    completionTime: old.phase === 'Failed' && old.completionTime ? old.completionTime : isoSeconds(now),
    message: failure.message, failure,
  };
  const status = buildStatus(old, facts, now);
  const del = deletions(input.attempts, (a) => a.state === 'active', 'the spec is invalid');
  return result(status, {
    delete: del,
    events: phaseEvents(old, status),
    ...(del.length > 0 ? { requeueAfterMs: DELETION_POLL_MS } : {}),
  });
}
