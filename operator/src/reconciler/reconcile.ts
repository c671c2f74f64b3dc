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
import type { BatchInferenceJobStatus } from '../api/status.js';
import { specWarnings } from '../api/validate.js';
import { policyViolations } from './worker-policy.js';
import { planUri } from '../contract/layout.js';
import { buildStatus, failedReason, type StatusFacts } from './compute-status.js';
import { efficiencyOf } from './efficiency.js';
import { evictionEvents, failureEvents, phaseEvents, queueEvents, queuedText, replacedPodEvents } from './events.js';
import { podStartFailure, runFailure, type RunFailure } from './failure-policy.js';
import { buildShardJob } from './job.js';
import { FINALIZER, isoSeconds } from './names.js';
import { runId as computeRunId } from './runid.js';
import { classifyShards, type FailedAttempt, type ShardState } from './shards.js';
import { runCompletion } from './success-policy.js';
import { planSpeculation, raceEvent, speculativeFailureEvents, startedEvent } from './speculation.js';
import { decideWait, inputReadyEvent } from './wait.js';
import { monitor, runStats } from './monitoring.js';
import type { CleanupAction, FieldError, KubeEvent, ObservedAttempt, ReconcileInput, ReconcileResult } from './types.js';
import type { V1Job } from '@kubernetes/client-node';

export const DEFAULT_PROGRESS_POLL_MS = 15_000;
/** Fallback requeue while waiting for Jobs to go away (their watch events usually come first). */
export const DELETION_POLL_MS = 5_000;
const DEFAULT_MAX_EVENTS = 20;

type Delete = ReconcileResult['delete'][number];

const deletions = (attempts: readonly ObservedAttempt[], pick: (a: ObservedAttempt) => boolean, reason: string | ((a: ObservedAttempt) => string)): Delete[] => {
  const out: Delete[] = [];
  for (const a of attempts) {
    if (a.state === 'deleting' || !pick(a)) continue;
    out.push({ name: a.jobName, reason: typeof reason === 'string' ? reason : reason(a) });
  }
  return out;
};

const result = (status: BatchInferenceJobStatus, rest: Partial<ReconcileResult> = {}): ReconcileResult => ({
  status, create: [], delete: [], actions: {}, finalizer: 'keep', events: [], ...rest,
});

/** Whether this status is final for this run id (no more Jobs, no storage reads needed). */
export function isTerminal(status: BatchInferenceJobStatus, runId: string): boolean {
  if (status.runId !== runId) return false;
  // A spec that was invalid or not allowed can be edited: not terminal.
  return status.phase === 'Succeeded' || (status.phase === 'Failed' && !['InvalidSpec', 'NotAllowed'].includes(failedReason(status) ?? ''));
}

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

function reconcileRun(input: ReconcileInput): ReconcileResult {
  const { bij, now } = input;
  const spec = bij.spec!;
  const old = bij.status ?? {};
  const gen = bij.metadata.generation;
  const runId = computeRunId(bij.metadata.uid, spec);
  const events: KubeEvent[] = [];
  const cleanup: CleanupAction[] = [];
  const fresh = old.runId !== runId;
  /** The LocalQueues of the queued shards (set once the shards are classified). */
  let queues: string[] = [];

  // Step 4: a new run id. Stop the old run first, so nothing writes under its prefix while it is cleaned up.
  if (fresh && old.runId !== undefined) {
    const previous = input.attempts.filter((a) => a.runId !== runId);
    if (previous.length > 0) {
      const message = `output-defining spec fields changed: stopping run ${old.runId} before starting run ${runId}`;
      const status = buildStatus(old, {
        phase: 'Pending', generation: gen, runId: old.runId, outputUri: old.outputUri, shards: old.shards, rows: old.rows,
        startTime: old.startTime, message,
      }, now);
      return result(status, {
        delete: deletions(previous, () => true, (a) => `run ${a.runId} is replaced by run ${runId}`),
        events: phaseEvents(old, status),
        requeueAfterMs: DELETION_POLL_MS,
      });
    }
    cleanup.push({ runId: old.runId, outputUri: old.outputUri ?? spec.output.uri });
    events.push({ type: 'Normal', reason: 'SpecChanged', message: `output-defining spec fields changed: run ${old.runId} is replaced by run ${runId}` });
  }

  // Once per run, with its first status write: what in the spec is allowed but probably a mistake.
  if (fresh) for (const w of specWarnings(spec)) events.push({ type: 'Warning', reason: 'CredentialsInEnv', message: `${w.field}: ${w.message}` });

  // Jobs of any other run (older than the one in the status): delete them.
  const del: Delete[] = deletions(input.attempts, (a) => a.runId !== runId, (a) => `run ${a.runId} is not the current run ${runId}`);
  const attempts = input.attempts.filter((a) => a.runId === runId);
  const withCleanup = (r: ReconcileResult): ReconcileResult => {
    if (cleanup.length > 0) r.actions = { ...r.actions, cleanup };
    r.events = [...events, ...r.events];
    return r;
  };

  // Step 5: terminal phases stay terminal for the same run id.
  if (!fresh && isTerminal(old, runId)) {
    const succeeded = old.phase === 'Succeeded';
    del.push(...deletions(attempts, (a) => succeeded || a.state === 'active', succeeded ? 'the run succeeded' : 'the run failed'));
    const status = gen !== undefined && gen !== old.observedGeneration ? refreshGeneration(old, gen) : old;
    // Every pod of a committed run is gone: nothing can write under its prefix any more, so sweep up
    // what attempts wrote after the commit's cleanup (a redundant attempt killed mid-write).
    const sweep = succeeded && attempts.length === 0 ? { cleanup: [{ runId, outputUri: old.outputUri ?? spec.output.uri, attemptsOnly: true }] } : undefined;
    return result(status, { delete: del, ...(sweep ? { actions: sweep } : {}) });
  }

  const base: Pick<StatusFacts, 'generation' | 'runId' | 'outputUri' | 'startTime' | 'gpus' | 'gpuHourlyCost'> = {
    generation: gen,
    runId,
    outputUri: spec.output.uri,
    startTime: !fresh && old.startTime ? old.startTime : isoSeconds(now),
    gpus: spec.worker.gpus,
    gpuHourlyCost: spec.worker.gpuHourlyCost,
  };
  const finish = (facts: StatusFacts, rest: Partial<ReconcileResult>, failures?: () => FailedAttempt[]): ReconcileResult => {
    const status = buildStatus(fresh ? { conditions: old.conditions } : old, facts, now);
    // The attempts' failures first, then the phase change they may have caused (RetriesExhausted after
    // the ShardFailed events behind it): events are recorded in this order.
    const evs = failures ? failureEvents(fresh ? {} : old, status, failures, input.options?.maxEvents ?? DEFAULT_MAX_EVENTS) : [];
    evs.push(...replacedPodEvents(attempts));
    if (facts.phase === 'Running') {
      evs.push(...evictionEvents(attempts, input.progress, input.progressTimings, input.plan.state === 'ready' ? input.plan.shardRows : []));
    }
    const ready = fresh ? undefined : inputReadyEvent(old, status, input.readiness, now);
    if (ready) evs.push(ready);
    evs.push(...phaseEvents(fresh ? {} : old, status, spec.input.uri));
    evs.push(...queueEvents(fresh ? {} : old, status, queues));
    return withCleanup(result(status, { ...rest, delete: [...del, ...(rest.delete ?? [])], events: [...evs, ...(rest.events ?? [])] }));
  };
  const completionTime = (phase: 'Succeeded' | 'Failed') => (!fresh && old.phase === phase && old.completionTime ? old.completionTime : isoSeconds(now));
  const stopActive = (reason: string) => deletions(attempts, (a) => a.state === 'active', reason);

  // Step 6: the plan.
  const plan = input.plan;
  if (plan.state === 'error') {
    const failure: RunFailure = plan.reason
      ? { reason: plan.reason, message: `run ${runId} cannot start: ${plan.message}` }
      : { reason: 'PlanFailed', message: `planning run ${runId} failed: ${plan.message}` };
    return finish({ ...base, phase: 'Failed', completionTime: completionTime('Failed'), message: failure.message, failure }, { delete: stopActive('the run failed') });
  }
  if (plan.state !== 'ready' || plan.runId !== runId) {
    if (!fresh && old.shards !== undefined) {
      // The plan was there (the status has shard counts) and is gone: planning again could give
      // different shards than the attempts so far, so the run cannot go on safely.
      const failure: RunFailure = { reason: 'PlanFailed', message: `the plan of run ${runId} (plan.json) disappeared; delete and re-create the BatchInferenceJob` };
      return finish({ ...base, phase: 'Failed', completionTime: completionTime('Failed'), shards: old.shards, rows: old.rows, message: failure.message, failure }, { delete: stopActive('the run failed') });
    }
    if (spec.suspend) {
      return finish({ ...base, phase: 'Suspended', message: 'suspended before planning' }, { delete: stopActive('spec.suspend is true') });
    }
    if (spec.input.waitFor) {
      // Waiting is not running: no startTime until the wait is over.
      const { startTime: _notYet, ...waiting } = base;
      const w = decideWait(spec.input.waitFor, input.readiness, fresh ? {} : old, runId, now);
      if (w.kind === 'wait') return finish({ ...waiting, phase: 'Waiting', waitingSince: w.waitingSince, message: w.message }, { requeueAfterMs: w.requeueAfterMs });
      if (w.kind === 'timeout') {
        return finish({ ...waiting, phase: 'Failed', waitingSince: w.waitingSince, completionTime: completionTime('Failed'), message: w.failure.message, failure: w.failure }, {});
      }
    }
    return finish({ ...base, phase: 'Pending', message: `planning run ${runId}` }, { actions: { plan: { runId } }, requeueAfterMs: 0 });
  }

  // Step 7: classify, then the failure policy, suspend, the success policy.
  const { shards, outOfRange } = classifyShards(plan.shardRows, attempts, input.manifests, input.options?.backoff);
  del.push(...deletions(outOfRange, () => true, 'its shard is not in the plan'));
  const failure = runFailure(shards, spec) ?? podStartFailure(shards, now);
  const stopping = failure !== undefined || spec.suspend;
  const counts = countShards(shards, input.progress, stopping, spec.speculation?.enabled ?? false);
  if (!stopping) queues = queueNames(shards);
  // Failed Jobs are the record of retries, but they are deleted once the run succeeds; a status write
  // that lost a race (409) after those deletes would recount without them. Within a run, the count
  // never goes down.
  if (!fresh && old.shards && old.shards.retries > counts.shards.retries) counts.shards.retries = old.shards.retries;
  const failures = () => shards.flatMap((s) => s.failures);
  const facts = {
    ...base,
    shards: counts.shards,
    rows: { total: plan.totalRows, processed: counts.processed, failed: counts.failedRows },
    attempts,
    efficiency: efficiencyOf(shards.flatMap((s) => {
      if (s.chosen) return s.chosen.timings ? [s.chosen.timings] : [];
      // Not done yet: what a running attempt's progress file says so far (one per shard).
      const live = s.active.map((a) => input.progressTimings?.get(`${s.index}/${a.attempt}`)).find((t) => t !== undefined);
      return live ? [live] : [];
    })),
  };
  // Prediction statistics and drift (spec.monitoring): live from the running shards, final once all are done.
  const mon = monitor(spec, plan.monitoring, runStats(shards, input.progressOutputs), runId);
  Object.assign(facts, mon.outputs ? { outputs: mon.outputs } : {}, mon.condition ? { drifted: mon.condition } : {});
  events.push(...mon.events);

  if (input.commit.state === 'done') {
    // _SUCCESS names this run: the run succeeded, whatever the attempts say now. (A crash after the
    // commit but before this status was written leaves no manifests and no Jobs; without this the
    // run would be scored again.) Counts come from the run manifest when the caller read it.
    const c = input.commit;
    const committed = c.rows
      ? {
        ...facts,
        shards: {
          total: shards.length, pending: 0, running: 0, queued: 0, succeeded: shards.length, failed: 0, retries: counts.shards.retries,
          ...(counts.shards.speculative !== undefined ? { speculative: 0 } : {}),
        },
        rows: { total: plan.totalRows, processed: c.rows.read, failed: c.rows.failed },
      }
      : facts;
    const processed = committed.rows?.processed ?? counts.processed;
    const done: StatusFacts = {
      ...committed, phase: 'Succeeded', completionTime: completionTime('Succeeded'),
      message: plan.totalRows === 0 ? 'the input holds no rows: committed an empty output' : `committed ${processed} rows in ${shards.length} shards`,
      // Figures from every shard, or else the previous status's (the commit may have deleted some
      // manifests already).
      efficiency: facts.efficiency?.shards === shards.length ? facts.efficiency : undefined,
    };
    if (c.manifestUri !== undefined) done.outputManifest = c.manifestUri;
    return finish(done, { delete: deletions(attempts, () => true, 'the run succeeded') }, failures);
  }
  if (input.commit.state === 'error') {
    const f: RunFailure = { reason: input.commit.reason ?? 'CommitFailed', message: `committing run ${runId} failed: ${input.commit.message}` };
    return finish({ ...facts, phase: 'Failed', completionTime: completionTime('Failed'), message: f.message, failure: f },
      { delete: stopActive('the run failed') }, failures);
  }
  if (failure) {
    return finish({ ...facts, phase: 'Failed', completionTime: completionTime('Failed'), message: failure.message, failure },
      { delete: stopActive('the run failed') }, failures);
  }
  if (spec.suspend) {
    return finish({ ...facts, phase: 'Suspended', message: `suspended: ${counts.shards.succeeded} of ${counts.shards.total} shards done` },
      { delete: stopActive('spec.suspend is true') }, failures);
  }

  // Attempts still running for a shard that is already done: only the chosen one may finish. (The
  // loser of a speculative race is one: SpeculativeWon or SpeculativeLost says how it ended.)
  const redundant: Delete[] = [];
  const races: KubeEvent[] = [];
  for (const s of shards) {
    if (!s.chosen) continue;
    const winner = s.attempts.find((a) => a.attempt === s.chosen!.attempt);
    for (const a of s.active) {
      if (a.attempt === s.chosen.attempt) continue;
      redundant.push({ name: a.jobName, reason: `shard ${s.index} is already done by attempt ${s.chosen.attempt}` });
      const race = raceEvent(s.index, winner, s.chosen.attempt, a);
      if (race) races.push(race);
    }
  }

  const completion = runCompletion(shards);
  if (completion.kind === 'commit' && mon.failure) {
    // Drifted beyond spec.monitoring.failPSI: the output stays uncommitted.
    return finish({ ...facts, phase: 'Failed', completionTime: completionTime('Failed'), message: mon.failure.message, failure: mon.failure },
      { delete: [...redundant, ...stopActive('the run failed')] }, failures);
  }
  if (completion.kind === 'commit') {
    return finish({ ...facts, phase: 'Merging', message: `all ${shards.length} shards are done; committing` },
      { delete: redundant, actions: { commit: { runId, chosen: completion.chosen } }, requeueAfterMs: 0, events: races }, failures);
  }

  // Step 8: schedule new attempts.
  const nowMs = now.getTime();
  let capacity = spec.parallelism - counts.occupied;
  let nextRetryMs = Infinity;
  const create: V1Job[] = [];
  const retried: KubeEvent[] = [];
  const plannedUri = planUri(spec.output.uri, runId);
  const ref = { metadata: { name: bij.metadata.name, namespace: bij.metadata.namespace, uid: bij.metadata.uid, labels: bij.metadata.labels }, spec };
  for (const s of shards) {
    if (s.chosen || s.active.length > 0 || s.deleting.length > 0) continue;
    if (s.retryAtMs > nowMs) {
      nextRetryMs = Math.min(nextRetryMs, s.retryAtMs - nowMs);
      continue;
    }
    if (capacity <= 0) continue;
    const job = buildShardJob(ref, { runId, shard: s.index, attempt: s.nextAttempt, planUri: plannedUri }, input.options?.job);
    create.push(job);
    capacity--;
    if (s.nextAttempt > 0) {
      retried.push({
        type: 'Normal', reason: 'ShardRetried', message: `shard ${s.index}: starting attempt ${s.nextAttempt}`,
        key: `${job.metadata!.name}/ShardRetried`, onCreate: true,
      });
    }
  }
  // Stragglers: one more attempt each, in the slots left, never counted as a retry.
  const speculation = planSpeculation(shards, spec.speculation, now, capacity);
  for (const p of speculation.picks) {
    const job = buildShardJob(ref, { runId, shard: p.shard, attempt: p.attempt, speculative: true, planUri: plannedUri }, input.options?.job);
    create.push(job);
    races.push(startedEvent(p, job.metadata!.name!));
  }
  if (spec.speculation?.enabled) races.push(...speculativeFailureEvents(shards));
  const maxEvents = input.options?.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (retried.length > maxEvents) {
    retried.splice(maxEvents, retried.length - maxEvents, { type: 'Normal', reason: 'ShardRetried', message: `${retried.length - maxEvents} more shards retried`, onCreate: true });
  }
  const poll = input.options?.progressPollMs ?? DEFAULT_PROGRESS_POLL_MS;
  return finish(
    {
      ...facts, phase: 'Running',
      message: `${counts.shards.succeeded} of ${counts.shards.total} shards done, ${counts.shards.running} running`
        + (counts.shards.speculative ? ` (${counts.shards.speculative} speculative)` : '')
        + (counts.shards.queued > 0 ? `, ${queuedText(counts.shards.queued, queues)}` : '')
        + (counts.shards.failed > 0 ? `, ${counts.shards.failed} waiting to retry` : ''),
    },
    { delete: redundant, create, events: [...retried, ...races], requeueAfterMs: Math.min(poll, nextRetryMs, speculation.nextCheckMs ?? Infinity) },
    failures,
  );
}

/** Whether every active attempt of the shard waits for admission (Kueue): queued, not running. */
const isQueued = (s: ShardState): boolean => s.active.length > 0 && s.active.every((a) => a.queued);

/** The LocalQueues the queued shards wait in, sorted (empty when none has a queue name). */
function queueNames(shards: readonly ShardState[]): string[] {
  const names = new Set<string>();
  for (const s of shards) if (!s.chosen && isQueued(s)) for (const a of s.active) if (a.queue) names.add(a.queue);
  return [...names].sort();
}

/** Shard counts and row counts. With `stopping`, running attempts are about to be deleted, so they
 * are not counted as running (or queued) and their progress is not counted as processed. A shard
 * whose attempt waits for Kueue's admission is queued: it holds a parallelism slot, but no pod. */
function countShards(shards: readonly ShardState[], progress: ReadonlyMap<string, number>, stopping: boolean, speculation: boolean) {
  const c: { total: number; pending: number; running: number; queued: number; succeeded: number; failed: number; retries: number; speculative?: number } =
    { total: shards.length, pending: 0, running: 0, queued: 0, succeeded: 0, failed: 0, retries: 0 };
  // Speculative attempts running now (not those of done shards, which are being stopped).
  const speculative = stopping ? 0 : shards.reduce((n, s) => n + (s.chosen ? 0 : s.active.filter((a) => a.speculative && !a.queued).length), 0);
  if (speculation || speculative > 0) c.speculative = speculative;
  let processed = 0;
  let failedRows = 0;
  let occupied = 0;
  for (const s of shards) {
    c.retries += s.failures.length;
    occupied += s.active.length + s.deleting.length;
    if (s.chosen) {
      c.succeeded++;
      processed += s.chosen.rows.read;
      failedRows += s.chosen.rows.failed;
    } else if (s.active.length > 0 && !stopping && isQueued(s)) {
      c.queued++;
    } else if (s.active.length > 0 && !stopping) {
      c.running++;
      let best = 0;
      for (const a of s.active) best = Math.max(best, progress.get(`${s.index}/${a.attempt}`) ?? 0);
      processed += Math.min(best, s.plannedRows);
    } else if (s.failures.length > 0) {
      c.failed++;
    } else {
      c.pending++;
    }
  }
  return { shards: c, processed, failedRows, occupied };
}

/** A terminal status with a new observedGeneration (a spec edit that does not change the run). */
function refreshGeneration(old: BatchInferenceJobStatus, gen: number): BatchInferenceJobStatus {
  return {
    ...old,
    observedGeneration: gen,
    ...(old.conditions ? { conditions: old.conditions.map((c) => ({ ...c, observedGeneration: gen })) } : {}),
  };
}
