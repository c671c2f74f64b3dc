/** Reconciler tables: finalizer and deletion, spec and plan errors, planning, spec changes. */
import {
  applyResult, attempt, currentRun, iso, makeBIJ, makeInput,
} from '../testing/builders.js';
import { cond, reasons, running, shardsOf, withStatus } from '../testing/reconcile-helpers.js';
import { reconcile, isTerminal } from './reconcile.js';
import { statusEqual } from './compute-status.js';

describe('finalizer and deletion', () => {
  test('adds the finalizer first, and does nothing else', () => {
    const r = reconcile(makeInput(makeBIJ().noFinalizer().obj()).uniformPlan(4).obj());
    expect(r.finalizer).toBe('add');
    expect(r.create).toEqual([]);
    expect(r.actions).toEqual({});
    expect(r.status).toEqual({});
    expect(r.requeueAfterMs).toBe(0);
  });

  test('an invalid spec without our finalizer: Failed (InvalidSpec) at once, no finalizer (nothing to guard)', () => {
    for (const input of [
      makeInput({ ...makeBIJ().noFinalizer().obj(), spec: undefined }).specErrors([{ field: 'spec', message: 'is required' }]).obj(),
      makeInput(makeBIJ().noFinalizer().obj()).specErrors([{ field: 'spec.input.idColumn', message: 'Required' }]).obj(),
    ]) {
      const r = reconcile(input);
      expect(r.finalizer).toBe('keep');
      expect(r.status.phase).toBe('Failed');
      expect(cond(r, 'Failed')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
      expect(r.create).toEqual([]);
      expect(r.actions).toEqual({});
      expect(reasons(r)).toEqual(['InvalidSpec']);
    }
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

  test('output owned by another run: Failed (OutputInUse) with the owner named, no Jobs, a Warning event', () => {
    const bij = makeBIJ().obj();
    const message = 'the output s3://scores/churn/ belongs to run r1 of BatchInferenceJob default/other (claimed at 2024-02-27T09:00:00Z, renewed at 2024-02-27T09:59:00Z)';
    const r = reconcile(makeInput(bij).planIs({ state: 'error', reason: 'OutputInUse', message }).obj());
    expect(r.status).toMatchObject({ phase: 'Failed', message: `run ${currentRun(bij)} cannot start: ${message}` });
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'OutputInUse' });
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'OutputInUse' }));
    expect(r.create).toEqual([]);
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
    const input = makeInput(bij).plan([]).obj();
    const recorded = reconcile(input);
    expect(recorded.status.phase).toBe('Merging');
    expect(recorded.actions.commit).toBeUndefined();
    const r = reconcile(withStatus(input, recorded));
    expect(r.status.phase).toBe('Merging');
    expect(r.actions.commit).toEqual({ runId: currentRun(bij), chosen: [] });
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
