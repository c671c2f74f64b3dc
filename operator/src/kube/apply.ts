/**
 * Act: carries out one reconcile's decisions, in the order types.ts documents. Storage actions that
 * produce new observations (plan, commit) are followed by deciding again on the same pass, so a
 * pass ends with one status write that reflects what it did. Errors propagate: the controller
 * requeues with backoff (or at once on a conflict) without writing status.
 */
import type { Storage } from '../../../core/src/storage/types.js';
import { NotFoundError, describeError, isBadInput, runManifestUri } from '../../../core/src/contract/index.js';
import { jobSelector, reconcile, statusEqual, type ReconcileInput, type ReconcileResult } from '../reconciler/index.js';
import { freezePlan, planRun } from '../planner/plan-run.js';
import { CommitError, cleanupRun, commitRun, committedRowsOf, discardRun } from '../commit/commit.js';
import { OutputClaimedError, checkFence, claimOutput, releaseClaim, renewIfDue, type Claim } from '../commit/claim.js';
import { BIJ_REF } from './clients.js';
import { isAlreadyExists, isNotFound } from './api-errors.js';
import { recordEvents } from './events.js';
import { addFinalizer, removeFinalizer } from './finalizer.js';
import type { BijObject, Observed, ReconcileContext } from './gather.js';

export interface ActOptions {
  identity: string;
  commitAfterStep?: (step: number) => Promise<void> | void;
  /** How long an output claim lives without renewal (commit/claim.ts DEFAULT_CLAIM_TTL_MS). */
  claimTtlMs?: number;
}

/** Holds the run's claim on its output: made at planning, renewed while the run lives, checked
 * again by the commit. Throws OutputClaimedError when another run owns the output. */
async function holdClaim(ctx: ReconcileContext, storage: Storage, input: ReconcileInput, runId: string, outputUri: string, o: ActOptions): Promise<Claim> {
  const held = ctx.runState.claimOf(runId);
  const { namespace, name, uid } = input.bij.metadata;
  const claim = held ? await renewIfDue(storage, outputUri, held, ctx.now)
    : await claimOutput(storage, outputUri, { runId, job: { namespace, name, uid } }, ctx.now, o.claimTtlMs);
  ctx.runState.rememberClaim(claim);
  return claim;
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

/** Runs the storage actions that feed back into the decision (plan, commit), deciding again after each. */
async function decide(ctx: ReconcileContext, observed: Observed, o: ActOptions): Promise<ReconcileResult> {
  const input: ReconcileInput = observed.input;
  let result = reconcile(input);
  const { storage } = observed;
  const spec = input.bij.spec;
  if (result.actions.plan && storage && spec) {
    const { runId } = result.actions.plan;
    try {
      // The output is claimed before anything is written there (plan.json included).
      await holdClaim(ctx, storage, input, runId, spec.output.uri, o);
      const job = {
        namespace: input.bij.metadata.namespace, name: input.bij.metadata.name, uid: input.bij.metadata.uid, generation: input.bij.metadata.generation ?? 0,
        ...(observed.scheduledTime ? { scheduledTime: observed.scheduledTime } : {}),
      };
      const plan = await freezePlan(storage, await planRun(storage, job, spec, runId, ctx.now));
      ctx.runState.rememberPlan(plan);
      input.plan = { state: 'ready', runId, totalRows: plan.totalRows, shardRows: plan.shards.map((s) => s.rows) };
    } catch (err) {
      if (err instanceof OutputClaimedError) input.plan = { state: 'error', reason: 'OutputInUse', message: err.message };
      else if (!isBadInput(err)) throw err;
      else input.plan = { state: 'error', message: describeError(err) };
    }
    result = reconcile(input);
  } else if (storage && spec && input.plan.state === 'ready' && input.commit.state === 'none' && !TERMINAL.has(result.status.phase ?? '')) {
    // A live run keeps its claim fresh; one that lost it (its operator was away past the TTL and
    // another run took the output) must not go on.
    try {
      await holdClaim(ctx, storage, input, input.plan.runId, spec.output.uri, o);
    } catch (err) {
      if (!(err instanceof OutputClaimedError)) throw err;
      input.commit = { state: 'error', reason: 'OutputInUse', message: err.message };
      result = reconcile(input);
    }
  }
  // The reconciler asks for the commit only once Merging is recorded (run.ts, endByPolicy).
  if (result.actions.commit && storage && spec) {
    const { runId, chosen } = result.actions.commit;
    const plan = await ctx.runState.loadPlan(storage, spec.output.uri, runId);
    // Terminal: the frozen plan is what every attempt read; without it no commit can be checked.
    if (!plan) throw new NotFoundError(`cannot commit run ${runId}: its plan is missing from ${spec.output.uri} (was _bij/ deleted while the run was in flight?); change the spec, or delete and re-apply the job, to start a new run`);
    try {
      const claim = await holdClaim(ctx, storage, input, runId, spec.output.uri, o);
      const m = await commitRun(storage, plan, chosen, { afterStep: o.commitAfterStep, fence: () => checkFence(storage, spec.output.uri, claim) });
      const rows = committedRowsOf(m);
      ctx.runState.markCommitted(runId, rows);
      input.commit = { state: 'done', manifestUri: runManifestUri(spec.output.uri), rows };
      await releaseClaim(storage, spec.output.uri, runId, ctx.now);
    } catch (err) {
      if (err instanceof OutputClaimedError) input.commit = { state: 'error', reason: 'OutputInUse', message: err.message };
      else if (!(err instanceof CommitError)) throw err; // I/O: retried with backoff
      else input.commit = { state: 'error', message: describeError(err) };
    }
    result = reconcile(input);
  }
  if (storage && spec && result.status.phase === 'Failed' && input.bij.status.phase !== 'Failed' && result.status.runId) {
    // A failed run gives its output up at once; if this write fails, the claim lapses after its TTL.
    await releaseClaim(storage, spec.output.uri, result.status.runId, ctx.now)
      .catch((err: unknown) => ctx.log.warn({ err: describeError(err), runId: result.status.runId }, 'could not release the output claim; it lapses after its TTL'));
  }
  return result;
}

/** `storage` is the spec's (observe opens it whenever there is a spec, the only case with cleanups). */
async function cleanup(ctx: ReconcileContext, s: Storage | undefined, result: ReconcileResult): Promise<void> {
  for (const c of result.actions.cleanup ?? []) {
    if (c.attemptsOnly && ctx.runState.swept(c.runId)) continue;
    if (!s) continue;
    if (c.attemptsOnly) {
      await cleanupRun(s, c.outputUri, c.runId);
      ctx.runState.markSwept(c.runId);
      continue;
    }
    await discardRun(s, c.outputUri, c.runId);
    await releaseClaim(s, c.outputUri, c.runId, ctx.now);
    ctx.runState.forget(c.runId);
  }
}

/** The one status write of a pass (a replace guarded by the object's resourceVersion: a 409 means re-read). */
export async function writeStatus(ctx: Pick<ReconcileContext, 'clients'>, obj: BijObject, status: ReconcileResult['status']): Promise<void> {
  const meta = obj.metadata!;
  await ctx.clients.custom.replaceNamespacedCustomObjectStatus({
    ...BIJ_REF, namespace: meta.namespace!, name: meta.name!,
    body: { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { ...meta }, status },
  });
}

export async function act(ctx: ReconcileContext, obj: BijObject, observed: Observed, o: ActOptions):
  Promise<{ status?: ReconcileResult['status']; requeueAfterMs?: number }> {
  const { clients } = ctx;
  const meta = obj.metadata!;
  const namespace = meta.namespace!;
  const name = meta.name!;
  const guard = { name, namespace, resourceVersion: meta.resourceVersion, finalizers: meta.finalizers };

  const result = await decide(ctx, observed, o);
  if (result.finalizer === 'remove') {
    // The decision saw no Jobs in the cache; ask the API server itself before discarding the run's
    // files and letting the object go: a Job created last pass may not be in the cache yet, and its
    // pod would write after the cleanup.
    const live = await clients.batch.listNamespacedJob({ namespace, labelSelector: jobSelector(name) });
    const left = live.items;
    if (left.length > 0) {
      for (const j of left) {
        await clients.batch.deleteNamespacedJob({ namespace, name: j.metadata!.name!, propagationPolicy: 'Foreground' })
          .catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      }
      return { requeueAfterMs: 1_000 };
    }
  }
  if (result.finalizer === 'add') {
    // The finalizer goes on before anything is created, so a delete always finds something to clean.
    await addFinalizer(clients, guard);
    return { requeueAfterMs: result.requeueAfterMs ?? 0 };
  }
  await cleanup(ctx, observed.storage, result);

  for (const d of result.delete) {
    try {
      await clients.batch.deleteNamespacedJob({ namespace, name: d.name, propagationPolicy: 'Foreground' });
      ctx.log.info({ job: `${namespace}/${name}`, child: d.name, reason: d.reason }, 'deleted shard Job');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  for (const job of result.create) {
    try {
      await clients.batch.createNamespacedJob({ namespace, body: job });
      ctx.log.info({ job: `${namespace}/${name}`, child: job.metadata?.name }, 'created shard Job');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  const target = { name, namespace, uid: meta.uid ?? '', resourceVersion: meta.resourceVersion };
  const logFailures = (failures: unknown[]) => {
    for (const f of failures) ctx.log.warn({ job: `${namespace}/${name}`, err: describeError(f) }, 'could not record event');
  };
  // Events about the Jobs just created or deleted go out now: a status write that loses a race must not
  // lose them (the next pass sees the Jobs as they are now, and would not report them again).
  const withJobs = result.events.filter((e) => e.withJobs);
  if (withJobs.length > 0) logFailures(await recordEvents(clients, target, withJobs, o.identity));

  const old = observed.input.bij.status;
  if (!statusEqual(old, result.status)) await writeStatus(ctx, obj, result.status);
  const afterStatus = result.events.filter((e) => !e.withJobs);
  if (afterStatus.length > 0) logFailures(await recordEvents(clients, target, afterStatus, o.identity));
  if (result.finalizer === 'remove') await removeFinalizer(clients, guard);
  return { status: result.status, requeueAfterMs: result.requeueAfterMs };
}
