/** Shared helpers of the reconciler's table tests (reconcile-*.test.ts). */
import { applyResult, makeBIJ, makeInput } from './builders.js';
import { reconcile } from '../reconciler/reconcile.js';
import { statusEqual } from '../reconciler/compute-status.js';
import type { ReconcileInput, ReconcileResult } from '../reconciler/types.js';

export const shardsOf = (r: ReconcileResult) => r.create.map((j) => Number(j.metadata!.labels!['batchinference.dev/shard']));
export const attemptsOf = (r: ReconcileResult) => r.create.map((j) => Number(j.metadata!.labels!['batchinference.dev/attempt']));
export const reasons = (r: ReconcileResult) => r.events.map((e) => e.reason);
export const cond = (r: ReconcileResult, type: string) => r.status.conditions?.find((c) => c.type === type);

/** The same observed state, with the status a pass wrote (a pass records Merging before the pass after
 * it asks for the commit). */
export const withStatus = (input: ReconcileInput, r: ReconcileResult): ReconcileInput => ({ ...input, bij: { ...input.bij, status: r.status } });

/** Reconciles and applies until nothing is created or deleted and the status is written (at most n steps). */
export function settle(input: ReconcileInput, n = 10): { input: ReconcileInput; result: ReconcileResult } {
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
export const running = (bij = makeBIJ()) => {
  const b = bij.obj();
  const first = reconcile(makeInput(b).uniformPlan(4).obj());
  return bij.status(first.status);
};
