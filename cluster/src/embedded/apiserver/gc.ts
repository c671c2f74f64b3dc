/**
 * The garbage collector, run asynchronously soon after writes, as kube-controller-manager's does:
 * - owners with `foregroundDeletion`: delete their dependents, and drop the finalizer once no dependent with
 *   blockOwnerDeletion remains;
 * - dependents whose owners (looked up by uid) are all gone or waiting on foreground deletion: delete them
 *   (foreground if they have dependents of their own and an owner waits); owners that still exist keep them,
 *   minus references to owners that are gone.
 */
import { FOREGROUND_FINALIZER } from './deletion.js';
import { resourceId, type ResourceType } from './resource.js';
import { ApiError } from './status.js';
import type { Store } from './store.js';
import type { KObject, PropagationPolicy } from './types.js';

interface Item { rt: ResourceType; object: KObject }

export class GarbageCollector {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Errors from the last passes (a GC never throws into writers); tests may inspect them. */
  readonly errors: Error[] = [];

  constructor(private readonly store: Store, private readonly delayMs = 5) {
    store.onCommit(() => this.schedule());
  }

  schedule(): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.run(); }, this.delayMs);
    this.timer.unref?.();
  }

  stop(): void { if (this.timer) clearTimeout(this.timer); this.timer = undefined; }

  /** Runs passes until nothing changes. Synchronous: the store is in-process. */
  run(): void {
    this.running = true;
    try {
      for (let i = 0; i < 100 && this.pass(); i++) { /* keep going while a pass changed something */ }
    } finally { this.running = false; }
  }

  private ref(it: Item) { return { group: it.rt.group, resource: it.rt.plural }; }

  private dependents(owner: KObject): Item[] {
    const uid = owner.metadata!.uid;
    return [...this.store.allObjects()].filter((d) => d.object.metadata?.ownerReferences?.some((r) => r.uid === uid));
  }

  private owner(dep: KObject, uid: string): Item | undefined {
    const o = this.store.getByUid(uid);
    if (!o) return undefined;
    // A namespaced dependent can only have owners in its namespace (or cluster-scoped ones).
    if (o.rt.namespaced && o.object.metadata?.namespace !== dep.metadata?.namespace) return undefined;
    return o;
  }

  /** One sweep over every object; true if it changed anything. */
  private pass(): boolean {
    let changed = false;
    for (const it of [...this.store.allObjects()]) {
      const current = this.store.getByUid(it.object.metadata!.uid!);
      if (!current || current.object !== it.object) continue; // changed earlier in this pass
      try {
        changed = this.process(it) || changed;
      } catch (err) {
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) this.errors.push(err as Error);
        changed = true;
      }
    }
    return changed;
  }

  private process(it: Item): boolean {
    const m = it.object.metadata!;
    const fins = m.finalizers ?? [];
    if (m.deletionTimestamp && fins.includes(FOREGROUND_FINALIZER)) {
      let changed = false;
      const deps = this.dependents(it.object);
      for (const d of deps) changed = this.attemptToDelete(d) || changed;
      const blocking = this.dependents(it.object).filter((d) => d.object.metadata!.ownerReferences!.some((r) => r.uid === m.uid && r.blockOwnerDeletion));
      if (!blocking.length) { this.removeFinalizer(it, FOREGROUND_FINALIZER); changed = true; }
      return changed;
    }
    if (!m.deletionTimestamp && m.ownerReferences?.length) return this.attemptToDelete(it);
    return false;
  }

  private attemptToDelete(it: Item): boolean {
    const m = it.object.metadata!;
    if (m.deletionTimestamp) return false;
    const refs = m.ownerReferences ?? [];
    if (!refs.length) return false;
    const dangling: string[] = []; const waiting: string[] = []; const solid: string[] = [];
    for (const r of refs) {
      const o = this.owner(it.object, r.uid);
      if (!o) dangling.push(r.uid);
      else if (o.object.metadata?.deletionTimestamp && (o.object.metadata.finalizers ?? []).includes(FOREGROUND_FINALIZER)) waiting.push(r.uid);
      else solid.push(r.uid);
    }
    if (solid.length) {
      if (!dangling.length && !waiting.length) return false;
      this.removeRefs(it, [...dangling, ...waiting]);
      return true;
    }
    let policy: PropagationPolicy;
    if (waiting.length && this.dependents(it.object).length) policy = 'Foreground';
    else policy = (m.finalizers ?? []).includes(FOREGROUND_FINALIZER) ? 'Foreground' : 'Background';
    this.store.delete(this.ref(it), m.namespace, m.name!, { propagationPolicy: policy });
    return true;
  }

  private removeRefs(it: Item, uids: string[]): void {
    const latest = this.store.getByUid(it.object.metadata!.uid!);
    if (!latest) return;
    const obj = structuredClone(latest.object);
    const refs = (obj.metadata!.ownerReferences ?? []).filter((r) => !uids.includes(r.uid));
    if (refs.length) obj.metadata!.ownerReferences = refs; else delete obj.metadata!.ownerReferences;
    this.store.update(this.ref(latest), obj, { namespace: obj.metadata!.namespace, name: obj.metadata!.name });
  }

  private removeFinalizer(it: Item, finalizer: string): void {
    const latest = this.store.getByUid(it.object.metadata!.uid!);
    if (!latest) return;
    const obj = structuredClone(latest.object);
    obj.metadata!.finalizers = (obj.metadata!.finalizers ?? []).filter((f) => f !== finalizer);
    this.store.update(this.ref(latest), obj, { namespace: obj.metadata!.namespace, name: obj.metadata!.name });
  }

  /** For diagnostics: ids of resources with objects awaiting collection. */
  pending(): string[] {
    return [...this.store.allObjects()].filter((i) => i.object.metadata?.deletionTimestamp).map((i) => `${resourceId(i.rt)}/${i.object.metadata!.name}`);
  }
}
