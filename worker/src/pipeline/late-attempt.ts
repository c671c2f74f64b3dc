/**
 * An attempt that outlives its run's commit. Kubernetes may still be running a copy of a shard (a
 * node that came back, a pod that was slow to die) when the operator commits and deletes the run's
 * attempt files. Whatever that copy writes afterwards would be left behind under `_bij/<run>/`, where
 * nothing ever looks again. So a worker checks for its run's `_SUCCESS` when it starts (and does no
 * work if it is there) and after its last write (and removes what it wrote if it is there). The
 * commit deletes attempt files only after writing `_SUCCESS`, so one of the two always cleans up.
 */
import { readSuccessMarker, type ShardPlan } from '../../../core/src/contract/index.js';
import type { Storage } from '../../../core/src/storage/types.js';

/** True when `_SUCCESS` names this plan's run. A missing marker is false; an I/O error propagates. */
export async function runCommitted(storage: Storage, plan: ShardPlan): Promise<boolean> {
  return (await readSuccessMarker(storage, plan.spec.output.uri))?.runId === plan.runId;
}

/** Removes everything under an attempt's prefix (its files and any copy's) and its open uploads. */
export async function discardAttempt(storage: Storage, prefix: string): Promise<void> {
  await storage.abortUploads(prefix);
  await storage.deletePrefix(prefix);
}
