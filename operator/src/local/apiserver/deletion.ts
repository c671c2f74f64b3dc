/**
 * What a DELETE does to an object, following the generic registry (rest.BeforeDelete,
 * deletionFinalizersForGarbageCollection, markAsDeleting): graceful deletion for pods on a node, the
 * garbage collector's `orphan` / `foregroundDeletion` finalizers, and deletionTimestamp while finalizers remain.
 */
import { rfc3339 } from './meta.js';
import type { ResourceType } from './resource.js';
import type { KObject, PropagationPolicy } from './types.js';
import { clone, deepEqual } from './util.js';

export const ORPHAN_FINALIZER = 'orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

export type Deletion = { action: 'unchanged' } | { action: 'delete' } | { action: 'update'; object: KObject };

/** The GC finalizers a deletion leaves: an explicit policy wins, then existing finalizers, then the default. */
export function gcFinalizers(rt: ResourceType, version: string, finalizers: string[], explicit: PropagationPolicy | undefined): string[] {
  const has = (f: string) => finalizers.includes(f);
  const orphan = explicit ? explicit === 'Orphan' : has(ORPHAN_FINALIZER) ? true : has(FOREGROUND_FINALIZER) ? false : rt.defaultPropagation(version) === 'Orphan';
  const foreground = explicit ? explicit === 'Foreground' : has(FOREGROUND_FINALIZER);
  const out = finalizers.filter((f) => f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER);
  if (orphan) out.push(ORPHAN_FINALIZER);
  if (foreground) out.push(FOREGROUND_FINALIZER);
  return out;
}

export function decideDeletion(rt: ResourceType, version: string, current: KObject, explicit: PropagationPolicy | undefined,
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
  const finalizers = gcFinalizers(rt, version, cm.finalizers ?? [], explicit);
  if (finalizers.length) nm.finalizers = finalizers; else delete nm.finalizers;
  if (graceful) return { action: 'update', object: next };
  if (!finalizers.length) return { action: 'delete' };
  // markAsDeleting: finalizers keep the object, now visibly being deleted.
  if (!nm.deletionTimestamp && (nm.generation ?? 0) > 0) nm.generation = nm.generation! + 1;
  if (!nm.deletionTimestamp || Date.parse(nm.deletionTimestamp) > now.getTime()) nm.deletionTimestamp = rfc3339(now);
  nm.deletionGracePeriodSeconds = 0;
  return deepEqual(next, current) ? { action: 'unchanged' } : { action: 'update', object: next };
}
