/**
 * What a DELETE does to an object, following the generic registry (rest.BeforeDelete,
 * deletionFinalizersForGarbageCollection, markAsDeleting): graceful deletion for pods on a node, the
 * garbage collector's `foregroundDeletion` finalizer, and deletionTimestamp while finalizers remain.
 */
import type { ResourceType } from './resource.js';
import type { KObject, PropagationPolicy } from './types.js';
import { clone, deepEqual, rfc3339 } from './util.js';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';

export type Deletion = { action: 'unchanged' } | { action: 'delete' } | { action: 'update'; object: KObject };

/** The finalizers a deletion leaves: Foreground adds `foregroundDeletion`, Background keeps what is there. */
function gcFinalizers(finalizers: string[], policy: PropagationPolicy): string[] {
  if (policy === 'Background' || finalizers.includes(FOREGROUND_FINALIZER)) return finalizers;
  return [...finalizers, FOREGROUND_FINALIZER];
}

export function decideDeletion(rt: ResourceType, current: KObject, policy: PropagationPolicy,
  requestedGrace: number | undefined, now: Date): Deletion {
  const cm = current.metadata!;
  const next = clone(current);
  const nm = next.metadata!;
  let graceful = false;
  if (cm.deletionTimestamp) {
    const g = cm.deletionGracePeriodSeconds ?? 0;
    if (g > 0) {
      // Graceful deletion is pending: only a shorter grace period changes anything.
      if (requestedGrace === undefined || requestedGrace >= g) return { action: 'unchanged' };
      nm.deletionTimestamp = rfc3339(new Date(Date.parse(cm.deletionTimestamp) - g * 1000 + requestedGrace * 1000));
      nm.deletionGracePeriodSeconds = requestedGrace;
      graceful = requestedGrace > 0;
    }
  } else {
    const grace = rt.gracePeriodSeconds?.(current, requestedGrace) ?? 0;
    if (grace > 0) {
      nm.deletionTimestamp = rfc3339(new Date(now.getTime() + grace * 1000));
      nm.deletionGracePeriodSeconds = grace;
      if ((nm.generation ?? 0) > 0) nm.generation = nm.generation! + 1;
      graceful = true;
    }
  }
  const finalizers = gcFinalizers(cm.finalizers ?? [], policy);
  if (finalizers.length) nm.finalizers = finalizers; else delete nm.finalizers;
  if (graceful) return { action: 'update', object: next };
  if (!finalizers.length) return { action: 'delete' };
  // markAsDeleting: finalizers keep the object, now visibly being deleted.
  if (!nm.deletionTimestamp && (nm.generation ?? 0) > 0) nm.generation = nm.generation! + 1;
  if (!nm.deletionTimestamp || Date.parse(nm.deletionTimestamp) > now.getTime()) nm.deletionTimestamp = rfc3339(now);
  nm.deletionGracePeriodSeconds = 0;
  return deepEqual(next, current) ? { action: 'unchanged' } : { action: 'update', object: next };
}
