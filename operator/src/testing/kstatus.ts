/**
 * kstatus's status computation for a custom resource (sigs.k8s.io/cli-utils/pkg/kstatus/status,
 * `Compute` with its generic rules; the rules Flux, Config Sync and cli-utils' `kapply` apply), as a
 * test oracle for the conditions the reconciler writes:
 *   1. metadata.deletionTimestamp set -> Terminating;
 *   2. status.observedGeneration present and behind metadata.generation -> InProgress;
 *   3. the "abnormal-true" conditions: Reconciling True -> InProgress; Stalled True -> Failed;
 *   4. a CRD with no type-specific rules: Current otherwise.
 * The generic rules do not read Ready; Current is meant as "fully reconciled", so for this CRD the
 * test also checks that Current comes with Ready True or with nothing left to do (a suspended job).
 */
const LAG_REASON = 'LatestGenerationNotObserved';

export type KStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating';

interface KObject {
  metadata: { generation?: number; deletionTimestamp?: unknown };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export function kstatusOf(o: KObject): { status: KStatus; message: string } {
  if (o.metadata.deletionTimestamp !== undefined) return { status: 'Terminating', message: 'resource scheduled for deletion' };
  const observed = o.status?.observedGeneration;
  if (observed !== undefined && o.metadata.generation !== undefined && observed < o.metadata.generation) {
    return { status: 'InProgress', message: `${LAG_REASON}: observedGeneration ${observed} behind generation ${o.metadata.generation}` };
  }
  for (const c of o.status?.conditions ?? []) {
    if (c.type === 'Reconciling' && c.status === 'True') return { status: 'InProgress', message: c.message ?? '' };
    if (c.type === 'Stalled' && c.status === 'True') return { status: 'Failed', message: c.message ?? '' };
  }
  return { status: 'Current', message: 'Resource is current' };
}
