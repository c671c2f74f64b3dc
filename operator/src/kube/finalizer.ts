/**
 * Adding and removing the operator's finalizer with a guard: a JSON patch whose first op tests the
 * resourceVersion we decided on, so finalizers other controllers added meanwhile are never lost.
 * A failed guard surfaces as a conflict (the caller re-reads and requeues).
 */
import type { KubeClients } from './clients.js';
import { BIJ_REF, jsonPatch } from './clients.js';
import { isNotFound } from './api-errors.js';
import { FINALIZER } from '../reconciler/names.js';


interface Meta {
  name: string;
  namespace: string;
  resourceVersion?: string;
  finalizers?: string[];
}

/** The JSON patch that adds `finalizer` to an object whose metadata we observed. Pure. */
export function addFinalizerPatch(meta: Meta, finalizer = FINALIZER): object[] {
  const ops: object[] = [{ op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion }];
  if (!meta.finalizers) ops.push({ op: 'add', path: '/metadata/finalizers', value: [finalizer] });
  else ops.push({ op: 'add', path: '/metadata/finalizers/-', value: finalizer });
  return ops;
}

/** The JSON patch that removes exactly our finalizer, by index, guarded by a test of that index. Pure. */
export function removeFinalizerPatch(meta: Meta, finalizer = FINALIZER): object[] | undefined {
  const i = meta.finalizers?.indexOf(finalizer) ?? -1;
  if (i < 0) return undefined;
  return [
    { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
    { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion },
    { op: 'remove', path: `/metadata/finalizers/${i}` },
  ];
}

export async function addFinalizer(clients: KubeClients, meta: Meta): Promise<void> {
  if (meta.finalizers?.includes(FINALIZER)) return;
  await clients.custom.patchNamespacedCustomObject(
    { ...BIJ_REF, namespace: meta.namespace, name: meta.name, body: addFinalizerPatch(meta) },
    jsonPatch,
  );
}

/** Removes our finalizer. An object that is already gone (a reconcile on a cache that has not seen the
 * deletion yet, after an earlier pass removed the last finalizer) has none left to remove: done. */
export async function removeFinalizer(clients: KubeClients, meta: Meta): Promise<void> {
  const patch = removeFinalizerPatch(meta);
  if (!patch) return;
  try {
    await clients.custom.patchNamespacedCustomObject(
      { ...BIJ_REF, namespace: meta.namespace, name: meta.name, body: patch },
      jsonPatch,
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
