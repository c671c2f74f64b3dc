/**
 * Children (Jobs, Pods; or a schedule's BatchInferenceJobs) grouped by the object that owns them, maintained from informer
 * events, so a reconcile looks up its children in O(children) rather than scanning every Job.
 */
import type * as k8s from '@kubernetes/client-node';

import { LABEL_JOB } from '../reconciler/names.js';

export class ChildIndex<T extends k8s.KubernetesObject> {
  private readonly byOwner = new Map<string, Map<string, T>>();

  /** `ownerName` gives a child's owner (in the child's namespace): by default the BIJ's label on its
   * Jobs and Pods; the schedule controller passes the controller ownerReference of its jobs. */
  constructor(private readonly ownerName: (obj: k8s.KubernetesObject) => string | undefined = (obj) => obj.metadata?.labels?.[LABEL_JOB]) {}

  /** The owner's key (namespace/name) of a child. */
  ownerKey(obj: k8s.KubernetesObject): string | undefined {
    const name = this.ownerName(obj);
    return name ? `${obj.metadata?.namespace ?? ''}/${name}` : undefined;
  }

  apply(kind: 'add' | 'update' | 'delete', obj: T): string | undefined {
    const owner = this.ownerKey(obj);
    if (!owner) return undefined;
    const name = obj.metadata?.name ?? '';
    let children = this.byOwner.get(owner);
    if (kind === 'delete') {
      children?.delete(name);
      if (children && children.size === 0) this.byOwner.delete(owner);
      return owner;
    }
    if (!children) this.byOwner.set(owner, (children = new Map()));
    children.set(name, obj);
    return owner;
  }

  of(ownerKey: string): T[] {
    return [...(this.byOwner.get(ownerKey)?.values() ?? [])];
  }
}
