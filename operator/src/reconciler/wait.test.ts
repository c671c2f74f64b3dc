/** Input readiness (spec.input.waitFor): Waiting, then planning, or InputNotReady at the timeout. */
import { at, iso, makeBIJ, makeInput } from '../testing/builders.js';
import { cond, reasons } from '../testing/reconcile-helpers.js';
import { reconcile } from './reconcile.js';
import { isTerminal } from './reconcile.js';
import { runId } from './runid.js';
import { decideWait } from './wait.js';

const waiting = () => makeBIJ().waitFor({ marker: '_SUCCESS', timeoutSeconds: 600, pollSeconds: 30 });

describe('waitFor', () => {
  test.each([
    { name: 'not ready at first look: Waiting since now, requeue at the poll interval', old: undefined, now: 10, want: { phase: 'Waiting', waitingSince: iso(10), requeue: 30_000 } },
    { name: 'still not ready: waitingSince is kept from the stored status (an operator restart does not restart the clock)', old: 0, now: 100, want: { phase: 'Waiting', waitingSince: iso(0), requeue: 30_000 } },
    { name: 'close to the timeout: requeue at the timeout, not later', old: 0, now: 590, want: { phase: 'Waiting', waitingSince: iso(0), requeue: 10_000 } },
    { name: 'at the timeout: Failed, InputNotReady, naming what is missing', old: 0, now: 600, want: { phase: 'Failed', waitingSince: iso(0), requeue: undefined } },
  ])('$name', ({ old, now, want }) => {
    const b = waiting();
    let bij = b.obj();
    if (old !== undefined) bij = { ...bij, status: reconcile(makeInput(bij).notReady().now(old).obj()).status };
    const r = reconcile(makeInput(bij).notReady().now(now).obj());
    expect(r.status.phase).toBe(want.phase);
    expect(r.status.waitingSince).toBe(want.waitingSince);
    expect(r.requeueAfterMs).toBe(want.requeue);
    expect(r.create).toEqual([]);
    expect(r.actions.plan).toBeUndefined();
    expect(r.status.startTime).toBeUndefined();
    if (want.phase === 'Waiting') {
      expect(cond(r, 'Waiting')).toMatchObject({ status: 'True', reason: 'InputNotReady' });
      expect(cond(r, 'Waiting')!.message).toContain('s3://lake/features/_SUCCESS does not exist');
      expect(cond(r, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Waiting' });
      expect(cond(r, 'Stalled')!.status).toBe('False');
      expect(cond(r, 'Ready')!.status).toBe('False');
    } else {
      expect(cond(r, 'Failed')).toMatchObject({ status: 'True', reason: 'InputNotReady' });
      expect(cond(r, 'Failed')!.message).toMatch(/not ready within 600s \(spec.input.waitFor.timeoutSeconds.*s3:\/\/lake\/features\/_SUCCESS does not exist/);
      expect(cond(r, 'Stalled')).toMatchObject({ status: 'True', reason: 'InputNotReady' });
      expect(cond(r, 'Reconciling')!.status).toBe('False');
      expect(cond(r, 'Waiting')!.status).toBe('False');
      expect(reasons(r)).toContain('InputNotReady');
      // Terminal for this run: no more looks at the input.
      expect(isTerminal(r.status, runId(bij.metadata.uid, bij.spec!))).toBe(true);
    }
  });

  test('Waiting gives one Waiting event on entering it, none while it stays', () => {
    const bij = waiting().obj();
    const first = reconcile(makeInput(bij).notReady().now(0).obj());
    expect(reasons(first)).toEqual(['Waiting']);
    const again = reconcile(makeInput({ ...bij, status: first.status }).notReady().now(30).obj());
    expect(again.events).toEqual([]);
    expect(again.status).toEqual(first.status);
  });

  test('ready after a wait: plan now (Pending), InputReady says after how long, startTime is when the wait ended', () => {
    const bij = waiting().obj();
    const w = reconcile(makeInput(bij).notReady().now(0).obj());
    const r = reconcile(makeInput({ ...bij, status: w.status }).ready().now(95).obj());
    expect(r.status.phase).toBe('Pending');
    expect(r.actions.plan).toBeDefined();
    expect(r.status.waitingSince).toBeUndefined();
    expect(r.status.startTime).toBe(iso(95));
    expect(cond(r, 'Waiting')!.status).toBe('False');
    const ready = r.events.find((e) => e.reason === 'InputReady');
    expect(ready).toMatchObject({ key: expect.stringMatching(/\/InputReady$/) });
    expect(ready?.message).toMatch(/the input is ready after waiting 95s: s3:\/\/lake\/features\/_SUCCESS exists/);
  });

  test('the plan made in the same pass (a second reconcile, Waiting still stored): straight to Running, InputReady still given', () => {
    const bij = waiting().obj();
    const w = reconcile(makeInput(bij).notReady().now(0).obj());
    const r = reconcile(makeInput({ ...bij, status: w.status }).uniformPlan(2).now(40).obj());
    expect(r.status.phase).toBe('Running');
    expect(r.status.waitingSince).toBeUndefined();
    expect(r.events.find((e) => e.reason === 'InputReady')?.message).toMatch(/the input is ready after waiting 40s$/);
  });

  test('ready at the first look: plans at once, never Waiting', () => {
    const r = reconcile(makeInput(waiting().obj()).ready().now(0).obj());
    expect(r.status.phase).toBe('Pending');
    expect(r.actions.plan).toBeDefined();
  });

  test('a plan already there: readiness no longer matters (the plan is frozen)', () => {
    const r = reconcile(makeInput(waiting().obj()).uniformPlan(2).notReady().now(0).obj());
    expect(r.status.phase).toBe('Running');
    expect(r.create).toHaveLength(2);
  });

  test('suspended while waiting: Suspended; resuming starts the wait afresh', () => {
    const bij = waiting().obj();
    const w = reconcile(makeInput(bij).notReady().now(0).obj());
    const s = reconcile(makeInput({ ...waiting().suspend().obj(), status: w.status }).notReady().now(100).obj());
    expect(s.status.phase).toBe('Suspended');
    const back = reconcile(makeInput({ ...bij, status: s.status }).notReady().now(200).obj());
    expect(back.status).toMatchObject({ phase: 'Waiting', waitingSince: iso(200) });
  });

  test('without waitFor, readiness is ignored', () => {
    const r = reconcile(makeInput(makeBIJ().obj()).notReady().now(0).obj());
    expect(r.status.phase).toBe('Pending');
  });

  test('editing waitFor does not start a new run (not an output-defining field)', () => {
    const a = makeBIJ().obj();
    const b = waiting().obj();
    expect(runId(a.metadata.uid, a.spec!)).toBe(runId(b.metadata.uid, b.spec!));
  });

  test('not looked at (no readiness): waits, saying so', () => {
    const d = decideWait({ marker: '_SUCCESS', timeoutSeconds: 60, pollSeconds: 5 }, undefined, {}, 'r1', at(0));
    expect(d).toMatchObject({ kind: 'wait', requeueAfterMs: 5000 });
    expect(d.kind === 'wait' && d.message).toContain('not been looked at');
  });
});
