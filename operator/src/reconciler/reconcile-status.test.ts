/** Reconciler tables: success and the commit, status, events, scale. */
import {
  T0, applyResult, at, attempt, currentRun, iso, makeBIJ, makeInput, updateAttempt,
} from '../testing/builders.js';
import { cond, reasons, running, settle, shardsOf, withStatus } from '../testing/reconcile-helpers.js';
import { FINALIZER } from './names.js';
import { reconcile, needsStorage } from './reconcile.js';
import { statusEqual } from './compute-status.js';

describe('success', () => {
  test('a commit that cannot succeed fails the run (CommitFailed), naming why', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).succeeded(), attempt(0).shard(1).succeeded())
      .manifest(0, 0).manifest(1, 0).commitFailed('shard manifest s3://b/o/_bij/r/shards/00001/a0/manifest.json is gone').obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ status: 'True', reason: 'CommitFailed' });
    expect(r.status.message).toMatch(/committing run .* failed: shard manifest .*00001.* is gone/);
    expect(r.actions.commit).toBeUndefined();
    expect(r.create).toEqual([]);
  });

  test('all shards done: Merging, commit with the chosen attempts; then Succeeded', () => {
    const bij = running().obj();
    const b = () => makeInput(bij).uniformPlan(3).attempts(attempt(0).shard(0).succeeded(), attempt(0).shard(1).failed(), attempt(1).shard(1).succeeded(), attempt(0).shard(2).succeeded())
      .manifest(0, 0).manifest(1, 1).manifest(2, 0);
    // First Merging is recorded (the commit can take a while: the status says what is happening, and a
    // commit cut short shows as Merging); the pass after that write asks for the commit.
    const recorded = reconcile(b().obj());
    expect(recorded.status.phase).toBe('Merging');
    expect(recorded.actions.commit).toBeUndefined();
    expect(recorded.requeueAfterMs).toBe(0);
    expect(reasons(recorded)).toContain('Merging');
    const merging = reconcile(withStatus(b().obj(), recorded));
    expect(merging.status.phase).toBe('Merging');
    expect(merging.actions.commit).toEqual({ runId: currentRun(bij), chosen: [{ shard: 0, attempt: 0 }, { shard: 1, attempt: 1 }, { shard: 2, attempt: 0 }] });
    expect(merging.delete).toEqual([]);
    expect(reasons(merging)).toEqual([]);

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

  test('a committed run is swept once all its pods are gone: attempts\' files only, never the plan or output', () => {
    const bij = running().obj();
    const b = () => makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).succeeded(), attempt(0).shard(1).succeeded())
      .manifest(0, 0).manifest(1, 0);
    const done = reconcile(applyResult(b().committed().obj(), reconcile(b().obj())));
    expect(done.status.phase).toBe('Succeeded');
    const runId = currentRun(bij);
    // Jobs still there (being deleted): no sweep yet, a pod may still write.
    const committed = { ...bij, status: done.status };
    const pending = reconcile(makeInput(committed).uniformPlan(2).attempts(attempt(0).shard(1).succeeded().deleting()).obj());
    expect(pending.actions.cleanup).toBeUndefined();
    // All gone: sweep the run's attempt files, and change nothing else.
    const gone = reconcile(makeInput(committed).uniformPlan(2).obj());
    expect(gone.actions.cleanup).toEqual([{ runId, outputUri: 's3://scores/churn/', attemptsOnly: true }]);
    expect(gone.status).toEqual(done.status);
    expect(gone.delete).toEqual([]);
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
    const input = makeInput(bij).uniformPlan(2).attempts(attempt(1).shard(0).active(), attempt(2).shard(0).active(), attempt(0).shard(1).succeeded())
      .manifest(0, 2).manifest(0, 1).manifest(1, 0).obj();
    const r = reconcile(withStatus(input, reconcile(input)));
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

describe('status', () => {
  test('counts, rows with progress of running attempts, progress percent and summary', () => {
    const bij = running(makeBIJ().parallelism(2)).obj();
    const r = reconcile(makeInput(bij).plan([100, 100, 100, 100, 100]).attempts(
      attempt(0).shard(0).succeeded(), attempt(0).shard(1).active(), attempt(0).shard(2).failed(59),
    ).manifest(0, 0, { failed: 0 }).progress(1, 0, 40).progress(2, 0, 99).now(60).obj());
    expect(r.status.shards).toEqual({ total: 5, pending: 2, running: 1, queued: 0, succeeded: 1, failed: 1, retries: 1 });
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

  test('efficiency: from the chosen attempts\' timings only; kept once the commit has cleaned the manifests up', () => {
    const bij = running().obj();
    const b = () => makeInput(bij).uniformPlan(3).attempts(
      attempt(0).shard(0).succeeded(), attempt(0).shard(1).failed(), attempt(1).shard(1).succeeded(), attempt(2).shard(0).succeeded(), attempt(0).shard(2).active(),
    )
      .manifest(0, 0, {}, { infer: 8, decode: 1, write: 0.5, total: 10 })
      .manifest(1, 1, {}, { infer: 2, decode: 6, write: 1, total: 10 })
      .manifest(0, 2, {}, { infer: 0, decode: 99, write: 0, total: 100 }); // not chosen: attempt 0 is
    // (the Succeeded pass below sees no manifests: the commit deleted them)
    const r = reconcile(b().obj());
    expect(r.status.phase).toBe('Running');
    expect(r.status.efficiency).toEqual({ modelBusyPercent: 50, inputWaitPercent: 35, outputWaitPercent: 8, shards: 2 });

    // No shard done yet and no progress timings: no figures.
    expect(reconcile(makeInput(bij).uniformPlan(3).attempts(attempt(0).shard(0).active()).obj()).status.efficiency).toBeUndefined();
    // Running shards count from their progress files (so a long shard shows figures before it ends).
    const live = reconcile(b().progress(2, 0, 50, { infer: 10, decode: 0, write: 0, total: 20 }).obj());
    expect(live.status.efficiency).toEqual({ modelBusyPercent: 50, inputWaitPercent: 18, outputWaitPercent: 4, shards: 3 });
    // Two attempts of one shard running at once (a copy): the shard counts once.
    const twice = reconcile(b().attempts(attempt(3).shard(2).active())
      .progress(2, 0, 50, { infer: 10, total: 20 }).progress(2, 3, 10, { infer: 0, decode: 5, total: 5 }).obj());
    expect(twice.status.efficiency?.shards).toBe(3);
    // Committed, manifests gone: the last figures stay.
    const after = reconcile(applyResult(makeInput(bij).uniformPlan(3).committed(undefined, { read: 300, scored: 300, failed: 0 }).obj(), r));
    expect(after.status.phase).toBe('Succeeded');
    expect(after.status.efficiency).toEqual(r.status.efficiency);
    // Committed while the cleanup was half done (one manifest left): not a one-shard figure either.
    const half = reconcile(applyResult(makeInput(bij).uniformPlan(3)
      .manifest(2, 0, {}, { infer: 1, total: 100 }).committed(undefined, { read: 300, scored: 300, failed: 0 }).obj(), r));
    expect(half.status.efficiency).toEqual(r.status.efficiency);
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
    expect(merging.status.conditions?.map((c) => c.type)).toEqual(['Waiting', 'Running', 'Suspended', 'Succeeded', 'Failed', 'Ready', 'Reconciling', 'Stalled']);
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
    expect(r.events).toEqual([{
      type: 'Warning', reason: 'ShardFailed', message: 'shard 2 attempt 0 failed: exit 75: throttled', key: `churn-${currentRun(bij)}-s2-a0/ShardFailed`,
    }]);
    const again = reconcile(applyResult(withFailure, r));
    expect(again.events.filter((e) => e.reason === 'ShardFailed')).toEqual([]);
  });

  test('a new failure that finished before an already reported one is still reported (keys make repeats no-ops)', () => {
    const bij = running().obj();
    const input = makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).failed(60), attempt(0).shard(1).active()).obj();
    const first = reconcile(input);
    expect(first.events.filter((e) => e.reason === 'ShardFailed').map((e) => e.message)).toEqual([expect.stringContaining('shard 0 attempt 0')]);
    // Shard 1's failure is seen later, but finished a second earlier (second-precision timestamps).
    const later = updateAttempt(applyResult(input, first), 1, 0, (a) => ({ ...a, state: 'failed', exitCode: 1, finishedAt: iso(59) }));
    const r = reconcile(later);
    const failed = r.events.filter((e) => e.reason === 'ShardFailed');
    expect(failed.map((e) => e.message)).toContainEqual(expect.stringContaining('shard 1 attempt 0'));
    expect(new Set(failed.map((e) => e.key)).size).toBe(failed.length);
  });

  test('Started once when the plan is there', () => {
    const bij = makeBIJ().obj();
    const pending = reconcile(makeInput(bij).obj());
    expect(pending.events).toEqual([]);
    const started = reconcile(makeInput({ ...bij, status: pending.status }).uniformPlan(4).obj());
    expect(reasons(started)).toEqual(['Started']);
    expect(reconcile(applyResult(makeInput({ ...bij, status: pending.status }).uniformPlan(4).obj(), started)).events).toEqual([]);
  });

  test('a credential in worker.env: one CredentialsInEnv warning with the run\'s first status write', () => {
    const bij = makeBIJ().withSpec({ worker: { env: [{ name: 'AWS_SECRET_ACCESS_KEY', value: 'x' }] } }).obj();
    const first = reconcile(makeInput(bij).obj());
    expect(first.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'CredentialsInEnv', message: expect.stringContaining('spec.worker.env[0].value: AWS_SECRET_ACCESS_KEY') })]);
    const again = reconcile(applyResult(makeInput(bij).obj(), first));
    expect(again.events).toEqual([]);
  });

  test('an input without rows: committed at once, Succeeded, with one EmptyInput warning', () => {
    const bij = makeBIJ().obj();
    const pending = reconcile(makeInput(bij).obj());
    const empty = () => makeInput({ ...bij, status: pending.status }).plan([]);
    // A plan with no shards is complete: no Jobs, straight to the commit.
    const recorded = reconcile(empty().obj());
    expect(recorded.status).toMatchObject({ phase: 'Merging', shards: { total: 0 }, rows: { total: 0, processed: 0 } });
    expect(recorded.create).toEqual([]);
    const merging = reconcile(withStatus(empty().obj(), recorded));
    expect(merging.actions.commit).toEqual({ runId: currentRun(bij), chosen: [] });
    const done = reconcile(applyResult(empty().committed(undefined, { read: 0, scored: 0, failed: 0 }).obj(), merging));
    expect(done.status).toMatchObject({ phase: 'Succeeded', progress: '100%', rows: { total: 0, processed: 0, failed: 0 }, message: 'the input holds no rows: committed an empty output' });
    expect(done.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'EmptyInput'], ['Normal', 'Committed']]);
    expect(done.events[0].message).toContain('s3://lake/');
    expect(done.events[0].message).toMatch(/hold no rows; committed an empty output/);
    // Once: the next reconcile of the same state says nothing.
    const again = reconcile(applyResult(empty().committed(undefined, { read: 0, scored: 0, failed: 0 }).obj(), done));
    expect(again.events).toEqual([]);
    expect(statusEqual(again.status, done.status)).toBe(true);
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
