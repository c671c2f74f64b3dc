/**
 * Steps 4 to 8 of the reconcile (reconcile.ts lists them all): one run of a valid, allowed job, read
 * top to bottom. Each step either answers (the run is replaced, terminal, waiting for its plan, ended
 * by a policy, committing) or hands on to the next; the last schedules attempts. Pure.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import { planUri } from '../../../core/src/contract/layout.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import { specWarnings } from '../api/validate.js';
import { buildStatus, type StatusFacts } from './compute-status.js';
import { efficiencyOf } from './efficiency.js';
import { batchSizeChosen } from './batch-size.js';
import { evictionEvents, failureEvents, phaseEvents, queueEvents, queuedText, replacedPodEvents } from './events.js';
import { podStartFailure, runFailure, type RunFailure } from './failure-policy.js';
import { buildShardJob } from './job.js';
import { isoSeconds } from './names.js';
import {
  DEFAULT_MAX_EVENTS, DEFAULT_PROGRESS_POLL_MS, DELETION_POLL_MS, deletions, isTerminal, result, type Delete,
} from './outcome.js';
import { runId as computeRunId } from './runid.js';
import { countShards, queueNames } from './shard-counts.js';
import { classifyShards, type FailedAttempt, type ShardState } from './shards.js';
import { planSpeculation, raceEvent, speculativeFailureEvents, startedEvent } from './speculation.js';
import { runCompletion } from './success-policy.js';
import type { CleanupAction, KubeEvent, ObservedAttempt, ReconcileInput, ReconcileResult } from './types.js';
import { decideWait, inputReadyEvent } from './wait.js';
import { monitor, runStats } from './monitoring.js';

type Base = Pick<StatusFacts, 'generation' | 'runId' | 'outputUri' | 'startTime' | 'gpus' | 'gpuHourlyCost'>;

/** What the steps share: the job, its run, and what earlier steps decided. */
interface Run {
  input: ReconcileInput;
  spec: BatchInferenceJobSpec;
  old: BatchInferenceJobStatus;
  runId: string;
  /** The status names another run (or none): this pass starts this run. */
  fresh: boolean;
  /** Events and storage cleanups of earlier steps, recorded with whatever the run's answer is. */
  events: KubeEvent[];
  cleanup: CleanupAction[];
  /** Jobs to delete whatever the answer: those of other runs, and of shards not in the plan. */
  del: Delete[];
  /** This run's attempts. */
  attempts: ObservedAttempt[];
  /** The LocalQueues of the queued shards (set once the shards are classified). */
  queues: string[];
  base: Base;
}

/** Step 7's classification: the shards, the failure that ends the run (if any), counts and status facts. */
interface Classified {
  shards: ShardState[];
  failure?: RunFailure;
  counts: ReturnType<typeof countShards>;
  /** The status facts of the run so far, without its phase and message. */
  facts: Omit<StatusFacts, 'phase' | 'message'>;
  failures: () => FailedAttempt[];
  /** An output column drifted beyond spec.monitoring.failPSI once every shard is done (monitoring.ts). */
  drift?: RunFailure;
}

export function reconcileRun(input: ReconcileInput): ReconcileResult {
  const spec = input.bij.spec!;
  const old = input.bij.status ?? {};
  const runId = computeRunId(input.bij.metadata.uid, spec);
  const fresh = old.runId !== runId;
  const replacing = stopPreviousRun(input, spec, old, runId, fresh);
  if (replacing.answer) return replacing.answer;
  const r = openRun(input, spec, old, runId, fresh, replacing);
  const answer = keepTerminal(r) ?? awaitPlan(r);
  if (answer) return answer;
  const plan = input.plan as Extract<ReconcileInput['plan'], { state: 'ready' }>;
  const c = classify(r, plan);
  return endByPolicy(r, c, plan) ?? schedule(r, c);
}

/** Step 4: a new run id. Stop the old run first, so nothing writes under its prefix while it is cleaned up. */
function stopPreviousRun(input: ReconcileInput, spec: BatchInferenceJobSpec, old: BatchInferenceJobStatus, runId: string, fresh: boolean):
  { answer?: ReconcileResult; cleanup: CleanupAction[]; events: KubeEvent[] } {
  const cleanup: CleanupAction[] = [];
  const events: KubeEvent[] = [];
  if (fresh && old.runId !== undefined) {
    const previous = input.attempts.filter((a) => a.runId !== runId);
    if (previous.length > 0) {
      const message = `output-defining spec fields changed: stopping run ${old.runId} before starting run ${runId}`;
      const status = buildStatus(old, {
        phase: 'Pending', generation: input.bij.metadata.generation, runId: old.runId, outputUri: old.outputUri, shards: old.shards, rows: old.rows,
        startTime: old.startTime, message,
      }, input.now);
      const answer = result(status, {
        delete: deletions(previous, () => true, (a) => `run ${a.runId} is replaced by run ${runId}`),
        events: phaseEvents(old, status),
        requeueAfterMs: DELETION_POLL_MS,
      });
      return { answer, cleanup, events };
    }
    cleanup.push({ runId: old.runId, outputUri: old.outputUri ?? spec.output.uri });
    events.push({ type: 'Normal', reason: 'SpecChanged', message: `output-defining spec fields changed: run ${old.runId} is replaced by run ${runId}` });
  }
  // Once per run, with its first status write: what in the spec is allowed but probably a mistake.
  if (fresh) for (const w of specWarnings(spec)) events.push({ type: 'Warning', reason: 'CredentialsInEnv', message: `${w.field}: ${w.message}` });
  return { cleanup, events };
}

function openRun(input: ReconcileInput, spec: BatchInferenceJobSpec, old: BatchInferenceJobStatus, runId: string, fresh: boolean,
  earlier: { cleanup: CleanupAction[]; events: KubeEvent[] }): Run {
  return {
    input, spec, old, runId, fresh, events: earlier.events, cleanup: earlier.cleanup, queues: [],
    // Jobs of any other run (older than the one in the status): delete them.
    del: deletions(input.attempts, (a) => a.runId !== runId, (a) => `run ${a.runId} is not the current run ${runId}`),
    attempts: input.attempts.filter((a) => a.runId === runId),
    base: {
      generation: input.bij.metadata.generation,
      runId,
      outputUri: spec.output.uri,
      startTime: !fresh && old.startTime ? old.startTime : isoSeconds(input.now),
      gpus: spec.worker.gpus,
      gpuHourlyCost: spec.worker.gpuHourlyCost,
    },
  };
}

/** Step 5: terminal phases stay terminal for the same run id. */
function keepTerminal(r: Run): ReconcileResult | undefined {
  const { old, runId, attempts, fresh } = r;
  if (fresh || !isTerminal(old, runId)) return undefined;
  const gen = r.input.bij.metadata.generation;
  const succeeded = old.phase === 'Succeeded';
  const del = [...r.del, ...deletions(attempts, (a) => succeeded || a.state === 'active', succeeded ? 'the run succeeded' : 'the run failed')];
  const status = gen !== undefined && gen !== old.observedGeneration ? refreshGeneration(old, gen) : old;
  // Every pod of a committed run is gone: nothing can write under its prefix any more, so sweep up
  // what attempts wrote after the commit's cleanup (a redundant attempt killed mid-write).
  const sweep = succeeded && attempts.length === 0 ? { cleanup: [{ runId, outputUri: old.outputUri ?? r.spec.output.uri, attemptsOnly: true }] } : undefined;
  return result(status, { delete: del, ...(sweep ? { actions: sweep } : {}) });
}

/** Step 6: the plan. Fails on a plan error or a plan that disappeared; else waits for the input
 * (spec.input.waitFor) or asks for a plan. Nothing to answer once this run's plan is ready. */
function awaitPlan(r: Run): ReconcileResult | undefined {
  const { spec, old, runId, fresh, base } = r;
  const plan = r.input.plan;
  if (plan.state === 'error') {
    const failure: RunFailure = plan.reason
      ? { reason: plan.reason, message: `run ${runId} cannot start: ${plan.message}` }
      : { reason: 'PlanFailed', message: `planning run ${runId} failed: ${plan.message}` };
    return finish(r, { ...base, phase: 'Failed', completionTime: completionTime(r, 'Failed'), message: failure.message, failure }, { delete: stopActive(r, 'the run failed') });
  }
  if (plan.state === 'ready' && plan.runId === runId) return undefined;
  if (!fresh && old.shards !== undefined) {
    // The plan was there (the status has shard counts) and is gone: planning again could give
    // different shards than the attempts so far, so the run cannot go on safely.
    const failure: RunFailure = { reason: 'PlanFailed', message: `the plan of run ${runId} (plan.json) disappeared; delete and re-create the BatchInferenceJob` };
    return finish(r, { ...base, phase: 'Failed', completionTime: completionTime(r, 'Failed'), shards: old.shards, rows: old.rows, message: failure.message, failure }, { delete: stopActive(r, 'the run failed') });
  }
  if (spec.suspend) {
    return finish(r, { ...base, phase: 'Suspended', message: 'suspended before planning' }, { delete: stopActive(r, 'spec.suspend is true') });
  }
  if (spec.input.waitFor) {
    // Waiting is not running: no startTime until the wait is over.
    const { startTime: _notYet, ...waiting } = base;
    const w = decideWait(spec.input.waitFor, r.input.readiness, fresh ? {} : old, runId, r.input.now);
    if (w.kind === 'wait') return finish(r, { ...waiting, phase: 'Waiting', waitingSince: w.waitingSince, message: w.message }, { requeueAfterMs: w.requeueAfterMs });
    if (w.kind === 'timeout') {
      return finish(r, { ...waiting, phase: 'Failed', waitingSince: w.waitingSince, completionTime: completionTime(r, 'Failed'), message: w.failure.message, failure: w.failure }, {});
    }
  }
  return finish(r, { ...base, phase: 'Pending', message: `planning run ${runId}` }, { actions: { plan: { runId } }, requeueAfterMs: 0 });
}

/** Step 7, first half: classify the shards, find a failure that ends the run, count. */
function classify(r: Run, plan: Extract<ReconcileInput['plan'], { state: 'ready' }>): Classified {
  const { input, spec, old, fresh } = r;
  const { shards, outOfRange } = classifyShards(plan.shardRows, r.attempts, input.manifests, input.options?.backoff);
  r.del.push(...deletions(outOfRange, () => true, 'its shard is not in the plan'));
  const failure = runFailure(shards, spec) ?? podStartFailure(shards, input.now);
  const stopping = failure !== undefined || spec.suspend;
  const counts = countShards(shards, input.progress, stopping, spec.speculation?.enabled ?? false);
  if (!stopping) r.queues = queueNames(shards);
  // Failed Jobs are the record of retries, but they are deleted once the run succeeds; a status write
  // that lost a race (409) after those deletes would recount without them. Within a run, the count
  // never goes down.
  if (!fresh && old.shards && old.shards.retries > counts.shards.retries) counts.shards.retries = old.shards.retries;
  const facts: Classified['facts'] = {
    ...r.base,
    shards: counts.shards,
    rows: { total: plan.totalRows, processed: counts.processed, failed: counts.failedRows },
    attempts: r.attempts,
    efficiency: efficiencyOf(shards.flatMap((s) => {
      if (s.chosen) return s.chosen.timings ? [s.chosen.timings] : [];
      // Not done yet: what a running attempt's progress file says so far (one per shard).
      const live = s.active.map((a) => input.progressTimings?.get(`${s.index}/${a.attempt}`)).find((t) => t !== undefined);
      return live ? [live] : [];
    })),
    batchSize: batchSizeChosen(shards.flatMap((s) => (s.chosen?.batchSize ? [s.chosen.batchSize] : []))),
  };
  // Prediction statistics and drift (spec.monitoring): live from the running shards, final once all are done.
  const mon = monitor(spec, plan.monitoring, runStats(shards, input.progressOutputs), r.runId);
  if (mon.outputs) facts.outputs = mon.outputs;
  facts.drifted = mon.condition ?? null;
  r.events.push(...mon.events);
  return { shards, failure, counts, facts, failures: () => shards.flatMap((s) => s.failures), ...(mon.failure ? { drift: mon.failure } : {}) };
}

/** Step 7, second half: the commit's outcome, the failure policy, suspend, and the success policy
 * (every shard done: record Merging, then commit). Nothing to answer while the run goes on. */
function endByPolicy(r: Run, c: Classified, plan: Extract<ReconcileInput['plan'], { state: 'ready' }>): ReconcileResult | undefined {
  const { runId, old } = r;
  const { shards, counts, facts, failures } = c;
  const commit = r.input.commit;
  if (commit.state === 'done') {
    // _SUCCESS names this run: the run succeeded, whatever the attempts say now. (A crash after the
    // commit but before this status was written leaves no manifests and no Jobs; without this the
    // run would be scored again.) Counts come from the run manifest when the caller read it.
    const committed = commit.rows
      ? {
        ...facts,
        shards: {
          total: shards.length, pending: 0, running: 0, queued: 0, succeeded: shards.length, failed: 0, retries: counts.shards.retries,
          ...(counts.shards.speculative !== undefined ? { speculative: 0 } : {}),
        },
        rows: { total: plan.totalRows, processed: commit.rows.read, failed: commit.rows.failed },
      }
      : facts;
    const processed = committed.rows?.processed ?? counts.processed;
    const done: StatusFacts = {
      ...committed, phase: 'Succeeded', completionTime: completionTime(r, 'Succeeded'),
      message: plan.totalRows === 0 ? 'the input holds no rows: committed an empty output' : `committed ${processed} rows in ${shards.length} shards`,
      // Figures from every shard, or else the previous status's (the commit may have deleted some
      // manifests already).
      efficiency: facts.efficiency?.shards === shards.length ? facts.efficiency : undefined,
      batchSize: facts.batchSize?.shards === shards.length ? facts.batchSize : undefined,
    };
    if (commit.manifestUri !== undefined) done.outputManifest = commit.manifestUri;
    return finish(r, done, { delete: deletions(r.attempts, () => true, 'the run succeeded') }, failures);
  }
  const failure: RunFailure | undefined = commit.state === 'error'
    ? { reason: commit.reason ?? 'CommitFailed', message: `committing run ${runId} failed: ${commit.message}` }
    : c.failure;
  if (failure) {
    return finish(r, { ...facts, phase: 'Failed', completionTime: completionTime(r, 'Failed'), message: failure.message, failure },
      { delete: stopActive(r, 'the run failed') }, failures);
  }
  if (r.spec.suspend) {
    return finish(r, { ...facts, phase: 'Suspended', message: `suspended: ${counts.shards.succeeded} of ${counts.shards.total} shards done` },
      { delete: stopActive(r, 'spec.suspend is true') }, failures);
  }
  const completion = runCompletion(shards);
  if (completion.kind !== 'commit') return undefined; // the run goes on: schedule() stops redundant attempts
  const { redundant, races } = redundantAttempts(shards);
  if (c.drift) {
    // Drifted beyond spec.monitoring.failPSI: the output stays uncommitted.
    return finish(r, { ...facts, phase: 'Failed', completionTime: completionTime(r, 'Failed'), message: c.drift.message, failure: c.drift },
      { delete: [...redundant, ...stopActive(r, 'the run failed')] }, failures);
  }
  // The commit can take a while (copies of every part): first record Merging, so the status says what
  // is happening and a commit cut short shows as Merging; the pass after that write commits.
  const merging = old.phase === 'Merging' && old.runId === runId;
  return finish(r, { ...facts, phase: 'Merging', message: `all ${shards.length} shards are done; committing` }, {
    delete: redundant, events: races, requeueAfterMs: 0,
    ...(merging ? { actions: { commit: { runId, chosen: completion.chosen } } } : {}),
  }, failures);
}

/** Attempts still running for a shard that is already done: only the chosen one may finish. (The
 * loser of a speculative race is one: SpeculativeWon or SpeculativeLost says how it ended.) */
function redundantAttempts(shards: readonly ShardState[]): { redundant: Delete[]; races: KubeEvent[] } {
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
  return { redundant, races };
}

/** Step 8: new attempts for the lowest pending shards, within parallelism and backoff; then speculative
 * attempts of stragglers in the slots left. */
function schedule(r: Run, c: Classified): ReconcileResult {
  const { input, spec, runId } = r;
  const { shards, counts, facts, failures } = c;
  const { redundant, races } = redundantAttempts(shards);
  const nowMs = input.now.getTime();
  let capacity = spec.parallelism - counts.occupied;
  let nextRetryMs = Infinity;
  const create: V1Job[] = [];
  const retried: KubeEvent[] = [];
  const plannedUri = planUri(spec.output.uri, runId);
  const bij = input.bij;
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
        key: `${job.metadata!.name}/ShardRetried`, withJobs: true,
      });
    }
  }
  // Stragglers: one more attempt each, in the slots left, never counted as a retry.
  const speculation = planSpeculation(shards, spec.speculation, input.now, capacity);
  for (const p of speculation.picks) {
    const job = buildShardJob(ref, { runId, shard: p.shard, attempt: p.attempt, speculative: true, planUri: plannedUri }, input.options?.job);
    create.push(job);
    races.push(startedEvent(p, job.metadata!.name!));
  }
  if (spec.speculation?.enabled) races.push(...speculativeFailureEvents(shards));
  const maxEvents = input.options?.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (retried.length > maxEvents) {
    retried.splice(maxEvents, retried.length - maxEvents, { type: 'Normal', reason: 'ShardRetried', message: `${retried.length - maxEvents} more shards retried`, withJobs: true });
  }
  const poll = input.options?.progressPollMs ?? DEFAULT_PROGRESS_POLL_MS;
  return finish(r,
    {
      ...facts, phase: 'Running',
      message: `${counts.shards.succeeded} of ${counts.shards.total} shards done, ${counts.shards.running} running`
        + (counts.shards.speculative ? ` (${counts.shards.speculative} speculative)` : '')
        + (counts.shards.queued > 0 ? `, ${queuedText(counts.shards.queued, r.queues)}` : '')
        + (counts.shards.failed > 0 ? `, ${counts.shards.failed} waiting to retry` : ''),
    },
    { delete: redundant, create, events: [...retried, ...races], requeueAfterMs: Math.min(poll, nextRetryMs, speculation.nextCheckMs ?? Infinity) },
    failures,
  );
}

/** Step 9: the status from `facts`, and the events of this pass in the order they are recorded. */
function finish(r: Run, facts: StatusFacts, rest: Partial<ReconcileResult>, failures?: () => FailedAttempt[]): ReconcileResult {
  const { input, old, fresh, attempts } = r;
  const status = buildStatus(fresh ? { conditions: old.conditions } : old, facts, input.now);
  // The attempts' failures first, then the phase change they may have caused (RetriesExhausted after
  // the ShardFailed events behind it).
  const evs = failures ? failureEvents(fresh ? {} : old, status, failures, input.options?.maxEvents ?? DEFAULT_MAX_EVENTS) : [];
  evs.push(...replacedPodEvents(attempts));
  if (facts.phase === 'Running') {
    evs.push(...evictionEvents(attempts, input.progress, input.progressTimings, input.plan.state === 'ready' ? input.plan.shardRows : []));
  }
  const ready = fresh ? undefined : inputReadyEvent(old, status, input.readiness, input.now);
  if (ready) evs.push(ready);
  evs.push(...phaseEvents(fresh ? {} : old, status, r.spec.input.uri));
  evs.push(...queueEvents(fresh ? {} : old, status, r.queues));
  const out = result(status, { ...rest, delete: [...r.del, ...(rest.delete ?? [])], events: [...r.events, ...evs, ...(rest.events ?? [])] });
  if (r.cleanup.length > 0) out.actions = { ...out.actions, cleanup: r.cleanup };
  return out;
}

const completionTime = (r: Run, phase: 'Succeeded' | 'Failed'): string =>
  (!r.fresh && r.old.phase === phase && r.old.completionTime ? r.old.completionTime : isoSeconds(r.input.now));

const stopActive = (r: Run, reason: string): Delete[] => deletions(r.attempts, (a) => a.state === 'active', reason);

/** A terminal status with a new observedGeneration (a spec edit that does not change the run). */
function refreshGeneration(old: BatchInferenceJobStatus, gen: number): BatchInferenceJobStatus {
  return {
    ...old,
    observedGeneration: gen,
    ...(old.conditions ? { conditions: old.conditions.map((c) => ({ ...c, observedGeneration: gen })) } : {}),
  };
}
