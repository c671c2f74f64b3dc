/** The kstatus conditions (Ready, Reconciling, Stalled) of statuses the reconciler writes in each phase,
 * read with kstatus's rules (testing/kstatus.ts). */
import type { Phase } from '../api/status.js';
import { kstatusOf, type KStatus } from '../testing/kstatus.js';
import { objectInPhase, objectWithoutStatus, withGenerationLag } from '../testing/phase-objects.js';
import { iso, makeBIJ, makeInput } from '../testing/builders.js';
import { reconcile } from './reconcile.js';

const cond = (o: ReturnType<typeof objectInPhase>, type: string) => o.status?.conditions?.find((c) => c.type === type);

describe.each<[Phase, KStatus, { Ready: string; Reconciling: string; Stalled: string }]>([
  ['Pending', 'InProgress', { Ready: 'False', Reconciling: 'True', Stalled: 'False' }],
  ['Running', 'InProgress', { Ready: 'False', Reconciling: 'True', Stalled: 'False' }],
  ['Merging', 'InProgress', { Ready: 'False', Reconciling: 'True', Stalled: 'False' }],
  ['Succeeded', 'Current', { Ready: 'True', Reconciling: 'False', Stalled: 'False' }],
  ['Failed', 'Failed', { Ready: 'False', Reconciling: 'False', Stalled: 'True' }],
  ['Suspended', 'Current', { Ready: 'False', Reconciling: 'False', Stalled: 'False' }],
])('a %s job', (phase, want, conditions) => {
  const o = objectInPhase(phase);

  test(`kstatus reads ${want}`, () => {
    expect(kstatusOf(o).status).toBe(want);
  });

  test('Ready, Reconciling and Stalled are all present, with a reason and a message', () => {
    for (const [type, status] of Object.entries(conditions)) {
      const c = cond(o, type);
      expect(c).toMatchObject({ status, observedGeneration: o.metadata.generation, reason: expect.stringMatching(/^[A-Z][A-Za-z]+$/) });
      expect(c!.message).not.toBe('');
    }
  });

  test('with a spec edit not yet observed, kstatus reads InProgress', () => {
    expect(kstatusOf(withGenerationLag(o))).toEqual({ status: 'InProgress', message: expect.stringContaining('LatestGenerationNotObserved') });
  });
});

test('Failed: Stalled carries the Failed condition\'s reason and message; kstatus passes the message on', () => {
  const o = objectInPhase('Failed');
  const failed = cond(o, 'Failed')!;
  expect(cond(o, 'Stalled')).toMatchObject({ reason: failed.reason, message: failed.message });
  expect(kstatusOf(o).message).toContain('column f0 is missing');
});

test('Current means nothing left to do: Ready True, or suspended', () => {
  for (const phase of ['Pending', 'Running', 'Merging', 'Succeeded', 'Failed', 'Suspended'] as const) {
    const o = objectInPhase(phase);
    if (kstatusOf(o).status === 'Current') expect(cond(o, 'Ready')?.status === 'True' || phase === 'Suspended').toBe(true);
  }
});

test('a job with no status yet reads Current in kstatus (it has nothing to go on); the first reconcile makes it InProgress', () => {
  expect(kstatusOf(objectWithoutStatus()).status).toBe('Current');
  expect(kstatusOf({ metadata: { generation: 1 }, status: reconcile(makeInput(makeBIJ().obj()).obj()).status }).status).toBe('InProgress');
});

test('Ready, Reconciling and Stalled keep lastTransitionTime across reconciles, and change it on a flip', () => {
  const bij = makeBIJ().obj();
  const first = reconcile(makeInput(bij).uniformPlan(2).now(10).obj());
  const next = reconcile(makeInput({ ...bij, status: first.status }).uniformPlan(2).manifest(0, 0).now(20).obj());
  const done = reconcile(makeInput({ ...bij, status: next.status }).uniformPlan(2).manifest(0, 0).manifest(1, 0).committed().now(30).obj());
  const t = (r: typeof first, type: string) => r.status.conditions?.find((c) => c.type === type)?.lastTransitionTime;
  for (const type of ['Ready', 'Reconciling', 'Stalled']) expect(t(next, type)).toBe(t(first, type));
  expect(done.status.phase).toBe('Succeeded');
  expect([t(done, 'Ready'), t(done, 'Reconciling'), t(done, 'Stalled')]).toEqual([iso(30), iso(30), t(first, 'Stalled')]);
});
