/**
 * BatchInferenceJob objects as a cluster holds them, with the statuses the reconciler writes in each
 * phase (driven through reconcile() with the test builders), for tests of tools that read them: the
 * kstatus rules and the Argo CD health script.
 */
import type { Phase } from '../api/status.js';
import { API_GROUP, API_VERSION, KIND } from '../../../core/src/contract/job-spec.js';
import { reconcile } from '../reconciler/reconcile.js';
import type { ReconcileBij } from '../reconciler/types.js';
import { attempt, makeBIJ, makeInput } from './builders.js';
import { settle } from './reconcile-helpers.js';

export interface ClusterObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation: number };
  spec: unknown;
  status?: ReconcileBij['status'];
}

const asObject = (bij: ReconcileBij, status: ReconcileBij['status'] | undefined): ClusterObject => ({
  apiVersion: `${API_GROUP}/${API_VERSION}`,
  kind: KIND,
  metadata: { name: bij.metadata.name, namespace: bij.metadata.namespace ?? 'default', generation: bij.metadata.generation ?? 1 },
  spec: bij.spec,
  ...(status ? { status } : {}),
});

/** The object in `phase`, its status from reconcile(); throws if the reconciler gave another phase. */
export function objectInPhase(phase: Phase): ClusterObject {
  const b = phase === 'Suspended' ? makeBIJ().suspend() : phase === 'Waiting' ? makeBIJ().waitFor({ marker: '_SUCCESS' }) : makeBIJ();
  const bij = b.gpus(1, 2.5).obj();
  const withStatus = (s: ReconcileBij['status']): ReconcileBij => ({ ...bij, status: s });
  let status: ReconcileBij['status'];
  switch (phase) {
    case 'Pending':
    case 'Suspended':
      status = reconcile(makeInput(bij).now(10).obj()).status;
      break;
    case 'Waiting':
      status = reconcile(makeInput(bij).notReady('s3://lake/features/_SUCCESS does not exist (spec.input.waitFor.marker)').now(10).obj()).status;
      break;
    case 'Running':
      status = settle(makeInput(bij).uniformPlan(2).now(10).obj()).result.status;
      break;
    case 'Merging':
    case 'Succeeded': {
      const running = settle(makeInput(bij).uniformPlan(2).now(10).obj()).result.status;
      const done = makeInput(withStatus(running)).uniformPlan(2).manifest(0, 0).manifest(1, 0).now(30);
      status = reconcile((phase === 'Succeeded' ? done.committed() : done).obj()).status;
      break;
    }
    case 'Failed': {
      const running = settle(makeInput(bij).uniformPlan(2).now(10).obj()).result.status;
      status = reconcile(makeInput(withStatus(running)).uniformPlan(2).attempts(attempt(0).shard(0).badInput('column f0 is missing')).now(30).obj()).status;
      break;
    }
  }
  if (status.phase !== phase) throw new Error(`the reconciler gave phase ${status.phase}, not ${phase}: ${status.message}`);
  return asObject(bij, status);
}

/** A spec edit the operator has not seen yet: metadata.generation one ahead of status.observedGeneration. */
export function withGenerationLag(o: ClusterObject): ClusterObject {
  return { ...o, metadata: { ...o.metadata, generation: (o.status?.observedGeneration ?? o.metadata.generation) + 1 } };
}

/** A job the operator has not reconciled yet: no status at all. */
export const objectWithoutStatus = (): ClusterObject => asObject(makeBIJ().obj(), undefined);
