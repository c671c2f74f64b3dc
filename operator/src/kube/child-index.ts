/**
 * Children (Jobs, Pods) grouped by the BatchInferenceJob that owns them, maintained from informer
 * events, so a reconcile looks up its children in O(children) rather than scanning every Job.
 */
import type * as k8s from '@kubernetes/client-node';

import { LABEL_JOB } from '../reconciler/names.js';

export class ChildIndex<T extends k8s.KubernetesObject> {
  private readonly byOwner = new Map<string, Map<string, T>>();

  /** The owning BIJ key (namespace/name) of a child, from its label. */
  static ownerKey(obj: k8s.KubernetesObject): string | undefined {
    const name = obj.metadata?.labels?.[LABEL_JOB];
    return name ? `${obj.metadata?.namespace ?? ''}/${name}` : undefined;
  }

  apply(kind: 'add' | 'update' | 'delete', obj: T): string | undefined {
    const owner = ChildIndex.ownerKey(obj);
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
