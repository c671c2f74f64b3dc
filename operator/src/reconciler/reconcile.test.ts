import {
  T0, applyResult, at, attempt, currentRun, iso, makeBIJ, makeInput, updateAttempt,
} from '../testing/builders.js';
import { EXIT } from '../contract/process.js';
import { FINALIZER } from './names.js';
import { reconcile, isTerminal, needsStorage } from './reconcile.js';
import { statusEqual } from './compute-status.js';
import { retryBackoffMs } from './shards.js';
import type { ReconcileInput, ReconcileResult } from './types.js';

const shardsOf = (r: ReconcileResult) => r.create.map((j) => Number(j.metadata!.labels!['batchinference.dev/shard']));
const attemptsOf = (r: ReconcileResult) => r.create.map((j) => Number(j.metadata!.labels!['batchinference.dev/attempt']));
const reasons = (r: ReconcileResult) => r.events.map((e) => e.reason);
const cond = (r: ReconcileResult, type: string) => r.status.conditions?.find((c) => c.type === type);

/** Reconciles and applies until nothing is created or deleted and the status is written (at most n steps). */
function settle(input: ReconcileInput, n = 10): { input: ReconcileInput; result: ReconcileResult } {
  let cur = input;
  let r = reconcile(cur);
  const busy = () => r.create.length > 0 || r.delete.length > 0 || r.finalizer !== 'keep' || !statusEqual(r.status, cur.bij.status);
  for (let i = 0; i < n && busy(); i++) {
    cur = applyResult(cur, r);
    r = reconcile(cur);
  }
  return { input: cur, result: r };
}

/** The status a running BatchInferenceJob already has (plan seen, same run). */
const running = (bij = makeBIJ()) => {
  const b = bij.obj();
  const first = reconcile(makeInput(b).uniformPlan(4).obj());
  return bij.status(first.status);
};

describe('finalizer and deletion', () => {
  test('adds the finalizer first, and does nothing else', () => {
    const r = reconcile(makeInput(makeBIJ().noFinalizer().obj()).uniformPlan(4).obj());
    expect(r.finalizer).toBe('add');
    expect(r.create).toEqual([]);
    expect(r.actions).toEqual({});
    expect(r.status).toEqual({});
    expect(r.requeueAfterMs).toBe(0);
  });

  test('deleting: deletes every Job, keeps the finalizer while any remains', () => {
    const bij = running().deleting().obj();
    const run = currentRun(bij);
    const r = reconcile(makeInput(bij).uniformPlan(4).attempts(
      attempt(0).shard(0).active(), attempt(0).shard(1).failed(), attempt(0).shard(2).deleting(), attempt(0).shard(3).run('rold0000000'),
    ).obj());
    expect(r.finalizer).toBe('keep');
    expect(r.delete.map((d) => d.name).sort()).toEqual([`churn-${run}-s0-a0`, `churn-${run}-s1-a0`, 'churn-rold0000000-s3-a0']);
    expect(r.actions.cleanup).toBeUndefined();
    expect(r.requeueAfterMs).toBeGreaterThan(0);
  });

  test('deleting: once no Job remains, cleans up the run and removes the finalizer', () => {
    const bij = running().deleting().obj();
    const r = reconcile(makeInput(bij).uniformPlan(4).obj());
    expect(r.finalizer).toBe('remove');
    expect(r.actions.cleanup).toEqual([{ runId: currentRun(bij), outputUri: 's3://scores/churn/' }]);
    expect(r.delete).toEqual([]);
  });

  test('deleting without our finalizer: nothing to do', () => {
    const r = reconcile(makeInput(makeBIJ().noFinalizer().deleting().obj()).attempts(attempt(0)).obj());
    expect(r).toMatchObject({ finalizer: 'keep', delete: [], create: [] });
  });

  test('deleting an invalid spec still cleans up the run named in the status', () => {
    const bij = running().deleting().obj();
    const run = currentRun(bij);
    const r = reconcile({ ...makeInput({ ...bij, spec: undefined }).obj(), specErrors: [{ field: 'spec.model', message: 'Required' }] });
    expect(r.finalizer).toBe('remove');
    expect(r.actions.cleanup).toEqual([{ runId: run, outputUri: 's3://scores/churn/' }]);
  });
});

describe('spec and plan errors', () => {
  test('spec errors: Failed (InvalidSpec) naming the field, no Jobs, running attempts stopped', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).specErrors([{ field: 'spec.input.idColumn', message: 'Required' }])
      .attempts(attempt(0).shard(0).active(), attempt(0).shard(1).failed()).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(r.status.message).toContain('spec.input.idColumn: Required');
    expect(r.create).toEqual([]);
    expect(r.delete.map((d) => d.name)).toEqual([`churn-${currentRun(bij)}-s0-a0`]);
    expect(reasons(r)).toEqual(['InvalidSpec']);
    // Again: same status, no second event.
    const again = reconcile(applyResult(makeInput(bij).specErrors([{ field: 'spec.input.idColumn', message: 'Required' }]).obj(), r));
    expect(statusEqual(again.status, r.status)).toBe(true);
    expect(again.events).toEqual([]);
  });

  test('fixing an invalid spec resumes the same run', () => {
    const bij = running().obj();
    const failed = reconcile(makeInput(bij).specErrors([{ field: 'spec.shards', message: 'bad' }]).obj());
    const fixed = reconcile(makeInput({ ...bij, status: failed.status }).uniformPlan(4).manifest(0, 0).obj());
    expect(fixed.status.phase).toBe('Running');
    expect(fixed.status.runId).toBe(currentRun(bij));
    expect(fixed.status.completionTime).toBeUndefined();
    expect(cond(fixed, 'Failed')?.status).toBe('False');
    expect(shardsOf(fixed)).toEqual([1, 2, 3]);
  });

  test('plan error: Failed (PlanFailed), no Jobs, terminal', () => {
    const bij = makeBIJ().obj();
    const r = reconcile(makeInput(bij).planError('s3://lake/features/: no .parquet files').obj());
    expect(r.status).toMatchObject({ phase: 'Failed', runId: currentRun(bij) });
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'PlanFailed' });
    expect(r.status.message).toContain('no .parquet files');
    expect(r.create).toEqual([]);
    expect(isTerminal(r.status, currentRun(bij))).toBe(true);
  });

  test('a plan that disappears mid-run fails the run instead of re-planning', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).planMissing().attempts(attempt(0).shard(0)).obj());
    expect(r.status.phase).toBe('Failed');
    expect(r.actions.plan).toBeUndefined();
    expect(r.delete).toHaveLength(1);
  });
});

describe('planning', () => {
  test('no plan yet: Pending, asks for the plan, requeues at once', () => {
    const bij = makeBIJ().obj();
    const r = reconcile(makeInput(bij).now(0).obj());
    expect(r.status).toMatchObject({ phase: 'Pending', runId: currentRun(bij), outputUri: 's3://scores/churn/', startTime: iso(0), observedGeneration: 1 });
    expect(r.actions).toEqual({ plan: { runId: currentRun(bij) } });
    expect(r.create).toEqual([]);
    expect(r.requeueAfterMs).toBe(0);
  });

  test('a plan of another run is treated as missing', () => {
    const bij = makeBIJ().obj();
    const r = reconcile(makeInput(bij).planIs({ state: 'ready', runId: 'rffffffffff', totalRows: 10, shardRows: [10] }).obj());
    expect(r.actions.plan).toEqual({ runId: currentRun(bij) });
  });

  test('suspended before planning: no plan, Suspended', () => {
    const r = reconcile(makeInput(makeBIJ().suspend().obj()).obj());
    expect(r.status.phase).toBe('Suspended');
    expect(r.actions).toEqual({});
  });

  test('zero shards: done at once, commit with nothing chosen', () => {
    const bij = makeBIJ().obj();
    const r = reconcile(makeInput(bij).plan([]).obj());
    expect(r.status.phase).toBe('Merging');
    expect(r.actions.commit).toEqual({ runId: currentRun(bij), chosen: [] });
  });
});

describe('scheduling', () => {
  test.each([
    { name: 'parallelism caps new attempts', parallelism: 2, attempts: [], manifests: [], want: [0, 1] },
    { name: 'running attempts take slots', parallelism: 2, attempts: [attempt(0).shard(0)], manifests: [], want: [1] },
    { name: 'deleting attempts take slots', parallelism: 2, attempts: [attempt(0).shard(0).deleting()], manifests: [], want: [1] },
    { name: 'lowest pending shards first', parallelism: 3, attempts: [attempt(0).shard(1)], manifests: [[0, 0]], want: [2, 3] },
    { name: 'full: nothing new', parallelism: 2, attempts: [attempt(0).shard(2), attempt(0).shard(3)], manifests: [], want: [] },
  ])('$name', ({ parallelism, attempts, manifests, want }) => {
    const bij = running(makeBIJ().parallelism(parallelism)).obj();
    const b = makeInput(bij).uniformPlan(4).attempts(...attempts);
    for (const [s, a] of manifests) b.manifest(s, a);
    const r = reconcile(b.obj());
    expect(shardsOf(r)).toEqual(want);
    expect(r.status.phase).toBe('Running');
  });

  test('never more than parallelism active attempts, through a whole run', () => {
    let input = makeInput(makeBIJ().parallelism(3).obj()).uniformPlan(10).obj();
    let maxActive = 0;
    for (let step = 0; step < 40; step++) {
      const r = reconcile(input);
      input = applyResult(input, r, at(step));
      const active = input.attempts.filter((a) => a.state === 'active');
      maxActive = Math.max(maxActive, active.length);
      if (r.status.phase === 'Merging') break;
      // Each step, the lowest running shard finishes with a manifest.
      const first = active.sort((a, b) => a.shard - b.shard)[0];
      if (first) {
        input = updateAttempt(input, first.shard, first.attempt, (a) => ({ ...a, state: 'succeeded', finishedAt: iso(step) }));
        input = { ...input, manifests: new Map([...input.manifests, [first.shard, [{ attempt: first.attempt, rows: { read: 100, scored: 100, failed: 0 } }]]]) };
      }
    }
    expect(maxActive).toBe(3);
    expect(reconcile(input).status.phase).toBe('Merging');
  });

  test('Jobs carry the assignment, and are owned by the BatchInferenceJob', () => {
    const bij = makeBIJ().parallelism(1).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).obj());
    const job = r.create[0];
    const run = currentRun(bij);
    expect(job.metadata!.name).toBe(`churn-${run}-s0-a0`);
    expect(job.metadata!.ownerReferences![0]).toMatchObject({ kind: 'BatchInferenceJob', uid: 'uid-1', controller: true });
    const env = Object.fromEntries(job.spec!.template.spec!.containers[0].env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ BIJ_PLAN_URI: `s3://scores/churn/_bij/${run}/plan.json`, BIJ_SHARD: '0', BIJ_ATTEMPT: '0', BIJ_RUN_ID: run });
  });
});

describe('retries and backoff', () => {
  test('a counted failure: retried with the next attempt number after 10s', () => {
    const bij = running(makeBIJ().parallelism(4)).obj();
    const base = () => makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).failed(60).exit(EXIT.retryable).message('connection reset'));
    const early = reconcile(base().now(65).obj());
    expect(early.create).toEqual([]);
    expect(early.requeueAfterMs).toBe(5_000);
    expect(early.status.shards).toMatchObject({ failed: 1, retries: 1 });
    const due = reconcile(base().now(70).obj());
    expect(shardsOf(due)).toEqual([0]);
    expect(attemptsOf(due)).toEqual([1]);
    expect(reasons(due)).toContain('ShardRetried');
  });

  test.each([
    { failures: 1, wait: 10_000 },
    { failures: 2, wait: 20_000 },
    { failures: 3, wait: 40_000 },
    { failures: 6, wait: 300_000 },
  ])('backoff after $failures counted failures is $wait ms', ({ failures, wait }) => {
    expect(retryBackoffMs(failures)).toBe(wait);
    const bij = running(makeBIJ().maxRetries(10)).obj();
    const list = Array.from({ length: failures }, (_, i) => attempt(i).shard(0).failed(100 + i));
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(...list).now(100 + failures - 1).obj());
    expect(r.create).toEqual([]);
    expect(r.requeueAfterMs).toBe(Math.min(wait, 15_000));
    const due = reconcile(makeInput(bij).uniformPlan(1).attempts(...list).now(100 + failures - 1 + wait / 1000).obj());
    expect(attemptsOf(due)).toEqual([failures]);
  });

  test('a shard waiting for backoff does not hold back other shards', () => {
    const bij = running(makeBIJ().parallelism(1)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).failed(60)).now(61).obj());
    expect(shardsOf(r)).toEqual([1]);
  });

  test('more counted failures than maxRetries: Failed, naming the shard, attempts and last message; running Jobs stopped', () => {
    const bij = running(makeBIJ().maxRetries(2)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(
      attempt(0).shard(1).failed(10), attempt(1).shard(1).failed(30).disrupted(), attempt(2).shard(1).failed(40),
      attempt(3).shard(1).failed(50).exit(137).reason('OOMKilled').message('out of memory'), attempt(0).shard(0).active(),
    ).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'RetriesExhausted' });
    expect(r.status.message).toMatch(/shard 1 failed 3 times \(attempts 0, 2, 3\), more than maxRetries=2; last: exit 137 \(OOMKilled\): out of memory/);
    expect(r.delete.map((d) => d.name)).toEqual([`churn-${currentRun(bij)}-s0-a0`]);
    expect(r.create).toEqual([]);
    expect(r.status.shards).toMatchObject({ running: 0, failed: 1, pending: 1 });
    expect(reasons(r)).toContain('RetriesExhausted');
  });

  test('a disruption on the last allowed attempt is still retried, at once, without counting', () => {
    const bij = running(makeBIJ().maxRetries(1)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(
      attempt(0).shard(0).failed(10), attempt(1).shard(0).failed(59).disrupted('Preempting'),
    ).now(60).obj());
    expect(r.status.phase).toBe('Running');
    expect(attemptsOf(r)).toEqual([2]);
    expect(r.events.find((e) => e.reason === 'ShardDisrupted')?.message).toContain('shard 0 attempt 1');
  });

  test('completed without a manifest is a counted failure', () => {
    const bij = running(makeBIJ().maxRetries(0)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).succeeded()).obj());
    expect(r.status.phase).toBe('Failed');
    expect(r.status.message).toContain('exited 0 without writing its shard manifest');
  });

  test('done comes from the manifest, not the exit code: a failed Job that wrote its manifest is done', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).failed().exit(137)).manifest(0, 0).obj());
    expect(r.status.phase).toBe('Merging');
  });

  test('next attempt number is one more than any observed, manifests included', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(3).shard(0).failed(0).disrupted()).obj());
    expect(attemptsOf(r)).toEqual([4]);
  });
});

describe('bad input and failed rows', () => {
  test.each([
    { name: 'exit code', a: attempt(0).shard(2).badInput('column f0 is missing') },
    { name: 'termination summary', a: attempt(0).shard(2).failed().exit(1).summary({ outcome: 'bad-input', message: 'column f0 is missing' }) },
  ])('bad input ($name) fails the run at once', ({ a }) => {
    const bij = running(makeBIJ().maxRetries(5)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(4).attempts(a, attempt(0).shard(0).active()).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'BadInput' });
    expect(r.status.message).toContain('shard 2 attempt 0 found bad input (not retried): column f0 is missing');
    expect(r.delete).toHaveLength(1);
    expect(r.create).toEqual([]);
  });

  test('maxFailedRows: more failed rows than allowed fails the run', () => {
    const bij = running(makeBIJ().maxFailedRows(5)).obj();
    const ok = reconcile(makeInput(bij).uniformPlan(2).manifest(0, 0, { failed: 5 }).obj());
    expect(ok.status.phase).toBe('Running');
    expect(ok.status.rows).toEqual({ total: 200, processed: 100, failed: 5 });
    const bad = reconcile(makeInput(bij).uniformPlan(2).manifest(0, 0, { failed: 3 }).manifest(1, 0, { failed: 3 }).obj());
    expect(bad.status.phase).toBe('Failed');
    expect(cond(bad, 'Failed')?.reason).toBe('TooManyFailedRows');
    expect(bad.actions.commit).toBeUndefined();
  });
});

describe('suspend', () => {
  test('suspend stops running attempts (not counted) and resuming continues', () => {
    const bij = running(makeBIJ().parallelism(2)).obj();
    const suspended = makeInput({ ...bij, spec: { ...bij.spec!, suspend: true } }).uniformPlan(4)
      .attempts(attempt(0).shard(1).active(), attempt(0).shard(2).active()).manifest(0, 0).obj();
    const r = reconcile(suspended);
    expect(r.status.phase).toBe('Suspended');
    expect(r.delete).toHaveLength(2);
    expect(r.create).toEqual([]);
    expect(reasons(r)).toContain('Suspended');
    expect(cond(r, 'Suspended')?.status).toBe('True');

    const after = applyResult(suspended, r);
    expect(reconcile(after).status.phase).toBe('Suspended');
    const resumed = reconcile({ ...after, bij: { ...after.bij, spec: { ...after.bij.spec!, suspend: false } } });
    expect(resumed.status.phase).toBe('Running');
    expect(resumed.status.shards).toMatchObject({ succeeded: 1, retries: 0 });
    expect(shardsOf(resumed)).toEqual([1, 2]);
    expect(reasons(resumed)).toContain('Resumed');
  });
});

describe('success', () => {
  test('all shards done: Merging, commit with the chosen attempts; then Succeeded', () => {
    const bij = running().obj();
    const b = () => makeInput(bij).uniformPlan(3).attempts(attempt(0).shard(0).succeeded(), attempt(0).shard(1).failed(), attempt(1).shard(1).succeeded(), attempt(0).shard(2).succeeded())
      .manifest(0, 0).manifest(1, 1).manifest(2, 0);
    const merging = reconcile(b().obj());
    expect(merging.status.phase).toBe('Merging');
    expect(merging.actions.commit).toEqual({ runId: currentRun(bij), chosen: [{ shard: 0, attempt: 0 }, { shard: 1, attempt: 1 }, { shard: 2, attempt: 0 }] });
    expect(merging.delete).toEqual([]);
    expect(reasons(merging)).toContain('Merging');

    const done = reconcile(applyResult(b().committed().obj(), merging));
    expect(done.status).toMatchObject({ phase: 'Succeeded', outputManifest: 's3://scores/churn/_manifest.json', completionTime: iso(60), progress: '100%' });
    expect(done.delete).toHaveLength(4); // finished Jobs go after success
    expect(reasons(done)).toEqual(['Committed']);
    expect(cond(done, 'Succeeded')?.status).toBe('True');
    expect(cond(done, 'Running')?.status).toBe('False');
  });

  test('committed but the Succeeded status was never written (crash, failover): Succeeded, nothing scored again', () => {
    // The commit cleaned up the manifests and the pass deleted the Jobs; then the operator died.
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(3).committed(undefined, { read: 300, scored: 298, failed: 2 }).obj());
    expect(r.create).toEqual([]);
    expect(r.actions.commit).toBeUndefined();
    expect(r.status).toMatchObject({
      phase: 'Succeeded', progress: '100%',
      shards: { total: 3, succeeded: 3, pending: 0, running: 0, failed: 0 },
      rows: { total: 300, processed: 300, failed: 2 },
    });
  });

  test('a commit that is done wins over attempts that would fail the run', () => {
    const bij = running(makeBIJ().maxRetries(0)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(1).shard(0).failed()).manifest(0, 0).committed().obj());
    expect(r.status.phase).toBe('Succeeded');
  });

  test('a Succeeded status recomputed after the Jobs were deleted (status write lost a 409) keeps the retries', () => {
    const bij = running().obj();
    const b = () => makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).failed(), attempt(1).shard(0).succeeded(), attempt(0).shard(1).succeeded())
      .manifest(0, 1).manifest(1, 0);
    const seen = reconcile(b().obj());
    expect(seen.status.shards?.retries).toBe(1);
    // The stored status still says Running with 1 retry; the Jobs are being deleted after the commit.
    const stored = { ...bij, status: seen.status };
    const r = reconcile(makeInput(stored).uniformPlan(2).attempts(attempt(0).shard(0).deleting(), attempt(1).shard(0).deleting(), attempt(0).shard(1).deleting())
      .manifest(0, 1).manifest(1, 0).committed().obj());
    expect(r.status).toMatchObject({ phase: 'Succeeded', shards: { succeeded: 2, retries: 1 } });
    expect(reasons(r)).not.toContain('ShardFailed');
  });

  test('two manifests for one shard: the lowest attempt is chosen, the other running attempt is stopped', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(1).shard(0).active(), attempt(2).shard(0).active(), attempt(0).shard(1).succeeded())
      .manifest(0, 2).manifest(0, 1).manifest(1, 0).obj());
    expect(r.actions.commit?.chosen).toEqual([{ shard: 0, attempt: 1 }, { shard: 1, attempt: 0 }]);
    expect(r.delete.map((d) => d.name)).toEqual([`churn-${currentRun(bij)}-s0-a2`]);
  });

  test('terminal phases stay terminal for the same run id', () => {
    const bij = running().obj();
    const succeeded = reconcile(makeInput(bij).uniformPlan(1).manifest(0, 0).committed().obj());
    const later = makeInput({ ...bij, status: succeeded.status }).uniformPlan(1).attempts(attempt(0).shard(0).failed()).now(500).obj();
    const r = reconcile(later);
    expect(r.status).toEqual(succeeded.status);
    expect(r.create).toEqual([]);
    expect(r.events).toEqual([]);
    expect(r.delete).toHaveLength(1);

    // A non-output spec change (parallelism) only updates observedGeneration.
    const edited = reconcile({ ...later, bij: { ...later.bij, metadata: { ...later.bij.metadata, generation: 2 }, spec: { ...later.bij.spec!, parallelism: 1 } } });
    expect(edited.status.phase).toBe('Succeeded');
    expect(edited.status.observedGeneration).toBe(2);
    expect(needsStorage({ ...later.bij, status: succeeded.status })).toBe(false);
  });

  test('a failed run keeps its failed Jobs (for logs) and stops the rest', () => {
    const bij = running(makeBIJ().maxRetries(0)).obj();
    const failed = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).failed()).obj());
    const r = reconcile(makeInput({ ...bij, status: failed.status }).uniformPlan(2)
      .attempts(attempt(0).shard(0).failed(), attempt(0).shard(1).active()).obj());
    expect(r.status).toEqual(failed.status);
    expect(r.delete.map((d) => d.name)).toEqual([`churn-${currentRun(bij)}-s1-a0`]);
  });
});

describe('spec change: a new run', () => {
  test('output-defining change: old Jobs deleted first, then cleanup and a fresh run', () => {
    const oldBij = running().obj();
    const oldRun = currentRun(oldBij);
    const newBij = { ...oldBij, spec: { ...oldBij.spec!, batchSize: 1024 } };
    const newRun = currentRun(newBij);
    expect(newRun).not.toBe(oldRun);

    const stopping = reconcile(makeInput(newBij).attempts(attempt(0).shard(0).run(oldRun), attempt(0).shard(1).run(oldRun).failed()).obj());
    expect(stopping.status).toMatchObject({ phase: 'Pending', runId: oldRun });
    expect(stopping.delete.map((d) => d.name).sort()).toEqual([`churn-${oldRun}-s0-a0`, `churn-${oldRun}-s1-a0`]);
    expect(stopping.actions).toEqual({});

    const switched = reconcile(makeInput({ ...newBij, status: stopping.status }).now(100).obj());
    expect(switched.actions.cleanup).toEqual([{ runId: oldRun, outputUri: 's3://scores/churn/' }]);
    expect(switched.actions.plan).toEqual({ runId: newRun });
    expect(switched.status).toMatchObject({ phase: 'Pending', runId: newRun, startTime: iso(100) });
    expect(switched.status.shards).toBeUndefined();
    expect(reasons(switched)).toContain('SpecChanged');
  });

  test('a changed output.uri: the old run is cleaned up under the old uri', () => {
    const oldBij = running().obj();
    const newBij = { ...oldBij, spec: { ...oldBij.spec!, output: { ...oldBij.spec!.output, uri: 's3://elsewhere/' } } };
    const r = reconcile(makeInput(newBij).obj());
    expect(r.actions.cleanup).toEqual([{ runId: currentRun(oldBij), outputUri: 's3://scores/churn/' }]);
    expect(r.status.outputUri).toBe('s3://elsewhere/');
  });

  test('a terminal run starts again when output-defining fields change', () => {
    const bij = running().obj();
    const done = reconcile(makeInput(bij).uniformPlan(1).manifest(0, 0).committed().obj());
    const changed = { ...bij, status: done.status, spec: { ...bij.spec!, model: { ...bij.spec!.model, version: 'v4' } } };
    const r = reconcile(makeInput(changed).obj());
    expect(r.status.phase).toBe('Pending');
    expect(r.actions.plan).toEqual({ runId: currentRun(changed) });
  });

  test.each([
    { field: 'parallelism', patch: { parallelism: 1 } },
    { field: 'maxRetries', patch: { maxRetries: 9 } },
    { field: 'suspend', patch: { suspend: true } },
    { field: 'worker', patch: { worker: { ...makeBIJ().parsedSpec().worker, image: 'other:1' } } },
  ])('changing $field keeps the run', ({ patch }) => {
    const bij = makeBIJ().obj();
    expect(currentRun({ ...bij, spec: { ...bij.spec!, ...patch } })).toBe(currentRun(bij));
  });
});

describe('status', () => {
  test('counts, rows with progress of running attempts, progress percent and summary', () => {
    const bij = running(makeBIJ().parallelism(2)).obj();
    const r = reconcile(makeInput(bij).plan([100, 100, 100, 100, 100]).attempts(
      attempt(0).shard(0).succeeded(), attempt(0).shard(1).active(), attempt(0).shard(2).failed(59),
    ).manifest(0, 0, { failed: 0 }).progress(1, 0, 40).progress(2, 0, 99).now(60).obj());
    expect(r.status.shards).toEqual({ total: 5, pending: 2, running: 1, succeeded: 1, failed: 1, retries: 1 });
    expect(r.status.rows).toEqual({ total: 500, processed: 140, failed: 0 });
    expect(r.status.progress).toBe('28%');
    expect(r.status.shardsSummary).toBe('1/5');
    expect(shardsOf(r)).toEqual([3]);
  });

  test('gpuSeconds and estimatedCost', () => {
    const bij = makeBIJ().gpus(2, 3.6).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(
      attempt(0).shard(0).gpus(2).started(0).succeeded(100), attempt(0).shard(1).gpus(2).started(50).active(),
    ).manifest(0, 0).now(150).obj());
    expect(r.status.gpuSeconds).toBe(2 * 100 + 2 * 100);
    expect(r.status.estimatedCost).toBe('0.40');
  });

  test('idempotent: reconciling the resulting state again changes nothing', () => {
    const bij = makeBIJ().parallelism(2).obj();
    const { input, result } = settle(makeInput(bij).uniformPlan(4).attempts(attempt(0).shard(3).failed(0).disrupted()).obj());
    expect(input.attempts.filter((a) => a.state === 'active').map((a) => a.shard)).toEqual([0, 1]);
    const again = reconcile(input);
    expect(statusEqual(again.status, result.status)).toBe(true);
    expect(statusEqual(again.status, input.bij.status)).toBe(true);
    expect(again.create).toEqual([]);
    expect(again.delete).toEqual([]);
    expect(again.events).toEqual([]);
  });

  test('the clock alone does not change the status (no status-write loop)', () => {
    const bij = makeBIJ().gpus(1).obj();
    const { input } = settle(makeInput(bij).uniformPlan(4).now(10).obj());
    const later = reconcile({ ...input, now: at(500) });
    expect(statusEqual(later.status, input.bij.status)).toBe(true);
  });

  test('conditions keep lastTransitionTime while their status stays', () => {
    const bij = makeBIJ().obj();
    const first = reconcile(makeInput(bij).uniformPlan(2).now(10).obj());
    expect(cond(first, 'Running')).toMatchObject({ status: 'True', lastTransitionTime: iso(10) });
    const next = reconcile(makeInput({ ...bij, status: first.status }).uniformPlan(2).manifest(0, 0).now(20).obj());
    expect(cond(next, 'Running')).toMatchObject({ status: 'True', lastTransitionTime: iso(10) });
    expect(cond(next, 'Failed')).toMatchObject({ status: 'False', lastTransitionTime: iso(10) });
    const merging = reconcile(makeInput({ ...bij, status: next.status }).uniformPlan(2).manifest(0, 0).manifest(1, 0).now(30).obj());
    expect(cond(merging, 'Running')).toMatchObject({ status: 'True', reason: 'Merging', lastTransitionTime: iso(10) });
    expect(merging.status.conditions?.map((c) => c.type)).toEqual(['Running', 'Suspended', 'Succeeded', 'Failed']);
  });
});

describe('events', () => {
  test('a new failure gives one ShardFailed event, once', () => {
    const bij = running().obj();
    const input = makeInput(bij).uniformPlan(4).attempts(
      attempt(0).shard(0).active(), attempt(0).shard(1).active(), attempt(0).shard(2).active(), attempt(0).shard(3).active(),
    ).obj();
    const steady = reconcile(input);
    const withFailure = updateAttempt(applyResult(input, steady), 2, 0, (a) => ({ ...a, state: 'failed', exitCode: 75, message: 'throttled', finishedAt: iso(59) }));
    const r = reconcile(withFailure);
    expect(r.events).toEqual([{ type: 'Warning', reason: 'ShardFailed', message: 'shard 2 attempt 0 failed: exit 75: throttled' }]);
    const again = reconcile(applyResult(withFailure, r));
    expect(again.events.filter((e) => e.reason === 'ShardFailed')).toEqual([]);
  });

  test('Started once when the plan is there', () => {
    const bij = makeBIJ().obj();
    const pending = reconcile(makeInput(bij).obj());
    expect(pending.events).toEqual([]);
    const started = reconcile(makeInput({ ...bij, status: pending.status }).uniformPlan(4).obj());
    expect(reasons(started)).toEqual(['Started']);
    expect(reconcile(applyResult(makeInput({ ...bij, status: pending.status }).uniformPlan(4).obj(), started)).events).toEqual([]);
  });

  test('many failures at once are capped', () => {
    const bij = running(makeBIJ().maxRetries(5)).obj();
    const list = Array.from({ length: 50 }, (_, s) => attempt(0).shard(s).failed(10));
    const r = reconcile(makeInput(bij).uniformPlan(50).attempts(...list).options({ maxEvents: 5 }).obj());
    const failed = r.events.filter((e) => e.reason === 'ShardFailed');
    expect(failed).toHaveLength(6);
    expect(failed[5].message).toBe('45 more attempts failed');
  });
});

describe('scale', () => {
  test('10,000 shards reconcile in linear time', () => {
    const n = 10_000;
    const bij = running(makeBIJ().parallelism(500).maxRetries(3)).obj();
    const b = makeInput(bij).uniformPlan(n, 1000);
    const list = [];
    for (let s = 0; s < n; s++) {
      if (s % 3 === 0) { list.push(attempt(0).shard(s).succeeded()); b.manifest(s, 0); }
      else if (s % 3 === 1) list.push(attempt(0).shard(s).failed(10), attempt(1).shard(s).failed(20));
      if (s % 50 === 2) { list.push(attempt(0).shard(s).active()); b.progress(s, 0, 10); }
    }
    const input = b.attempts(...list).obj();
    const t0 = performance.now();
    const r = reconcile(input);
    const ms = performance.now() - t0;
    expect(r.status.shards?.total).toBe(n);
    expect(r.create.length).toBe(500 - Math.ceil(n / 50) + 0); // slots left after the running ones
    expect(ms).toBeLessThan(1500);
  });
});

test('T0 is the builders\' clock origin', () => {
  expect(at(0)).toEqual(T0);
  expect(FINALIZER).toBe('batchinference.dev/cleanup');
});
