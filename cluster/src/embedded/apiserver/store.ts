/**
 * The object store behind the embedded API server: one global resourceVersion, create/get/list/update/
 * patch/delete with the apiserver's semantics (optimistic concurrency, status subresource, generation,
 * finalizers and graceful deletion), and watches fed from a bounded per-resource history.
 *
 * The HTTP layer calls it, and so can in-process code (the local job runner): the same checks apply, only
 * the transport differs. Every method throws ApiError, whose `.code` and `.status` match the real Status.
 * Returned objects are copies; stored objects are never mutated in place.
 */
import { randomUUID } from 'node:crypto';
import { History, type StoredEvent } from './history.js';
import { applyPatch } from './patch.js';
import { Registry, type ResourceRef, type Resolved } from './registry.js';
import { apiVersionOf, groupKind, groupResource, resourceId, type ResourceType } from './resource.js';
import { parseFieldSelector, parseLabelSelector, matchesFields, matchesLabels } from './selectors.js';
import { ApiError, alreadyExists, badRequest, conflict, failure, internalError, invalid, notFound, pathNotFound, timeout } from './status.js';
import type { DeleteOptions, KObject, PatchType, PropagationPolicy } from './types.js';
import { clone, deepEqual, rfc3339 } from './util.js';
import { WatchHub, Watcher, type WatchSink } from './watch.js';
import { decideDeletion } from './deletion.js';

export interface StoreOptions {
  /** Events kept per resource type for watch resumption (default 1000). */
  historySize?: number;
  clock?: () => Date;
  /** Keep a uid the client sets on create (the kube-apiserver always picks its own). Only `bij run`
   * uses it: the same job over the same output gets the same uid, hence the same run id, so a run that
   * was interrupted is resumed rather than scored again. */
  acceptClientUids?: boolean;
}

export interface WriteOptions {
  /** For create and update: the namespace of the request (the URL's). */
  namespace?: string;
  /** For update: the name of the request (the URL's). */
  name?: string;
  subresource?: 'status';
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Unset, '' or '0': start with ADDED events for the current objects. Otherwise resume after it. */
  resourceVersion?: string;
}

export interface KList { apiVersion: string; kind: string; metadata: { resourceVersion: string }; items: KObject[] }
export interface DeleteResult { object: KObject; deleted: boolean; rt: ResourceType }

interface Entry { rt: ResourceType; objects: Map<string, KObject>; history: History }

const keyOf = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;

function parseRv(s: string, what = 'resource version'): number {
  if (!/^\d+$/.test(s)) throw badRequest(`invalid ${what}: ${s}`);
  return Number(s);
}

export class Store {
  readonly registry = new Registry();
  readonly hub = new WatchHub();
  private rv = 1;
  private readonly entries = new Map<string, Entry>();
  private readonly byUid = new Map<string, { id: string; key: string }>();
  private readonly commitListeners: Array<(rt: ResourceType, ev: StoredEvent) => void> = [];
  readonly historySize: number;
  readonly now: () => Date;
  private readonly acceptClientUids: boolean;

  constructor(opts: StoreOptions = {}) {
    this.acceptClientUids = opts.acceptClientUids ?? false;
    this.historySize = opts.historySize ?? 1000;
    this.now = opts.clock ?? (() => new Date());
  }

  /** The current global resourceVersion, as the opaque string clients see. */
  get resourceVersion(): string { return String(this.rv); }

  onCommit(fn: (rt: ResourceType, ev: StoredEvent) => void): void { this.commitListeners.push(fn); }

  register(rt: ResourceType): void {
    this.registry.add(rt);
    this.entries.set(resourceId(rt), { rt, objects: new Map(), history: new History(this.historySize, this.rv) });
  }

  private entry(ref: ResourceRef): Resolved & { e: Entry } {
    const r = this.registry.resolve(ref);
    return { ...r, e: this.entries.get(resourceId(r.rt))! };
  }

  private present(rt: ResourceType, version: string, obj: KObject): KObject {
    return { ...obj, apiVersion: apiVersionOf(rt, version), kind: rt.kind };
  }

  private nsFor(rt: ResourceType, ns: string | undefined): string | undefined {
    if (!rt.namespaced) return undefined;
    if (!ns) throw badRequest('the server could not find the requested resource: a namespace is required');
    return ns;
  }

  private commit(e: Entry, type: StoredEvent['type'], obj: KObject, prev: KObject | undefined): KObject {
    const rv = ++this.rv;
    const stored: KObject = { ...obj, apiVersion: apiVersionOf(e.rt, e.rt.storageVersion), metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    const key = keyOf(stored.metadata!.namespace, stored.metadata!.name!);
    if (type === 'DELETED') { e.objects.delete(key); this.byUid.delete(stored.metadata!.uid!); } else {
      e.objects.set(key, stored);
      this.byUid.set(stored.metadata!.uid!, { id: resourceId(e.rt), key });
    }
    const ev: StoredEvent = { rv, type, object: stored, prev, key };
    e.history.push(ev);
    this.hub.publish(resourceId(e.rt), ev);
    for (const fn of this.commitListeners) fn(e.rt, ev);
    return stored;
  }

  // ---- reads ----

  get(ref: ResourceRef, namespace: string | undefined, name: string): KObject {
    const { rt, version, e } = this.entry(ref);
    const obj = e.objects.get(keyOf(this.nsFor(rt, namespace), name));
    if (!obj) throw notFound(groupResource(rt), name);
    return clone(this.present(rt, version, obj));
  }

  /** Finds a stored object by uid (for the garbage collector and owner lookups). */
  getByUid(uid: string): { rt: ResourceType; object: KObject } | undefined {
    const loc = this.byUid.get(uid);
    if (!loc) return undefined;
    const e = this.entries.get(loc.id)!;
    const object = e.objects.get(loc.key);
    return object && { rt: e.rt, object };
  }

  /** Every stored object (read-only views), for the garbage collector. */
  *allObjects(): Generator<{ rt: ResourceType; object: KObject }> {
    for (const e of this.entries.values()) for (const object of e.objects.values()) yield { rt: e.rt, object };
  }

  /** Lists at the current resourceVersion (no paging: bij run's lists are small). */
  list(ref: ResourceRef, opts: ListOptions = {}): KList {
    const { rt, version, e } = this.entry(ref);
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    const ns = rt.namespaced ? opts.namespace : undefined;
    const keys = [...e.objects.keys()].filter((k) => !ns || k.startsWith(`${ns}/`)).sort();
    // Typed (built-in) lists carry no apiVersion/kind on their items; unstructured (custom) lists do.
    const items = keys.map((k) => e.objects.get(k)!)
      .filter((o) => matchesLabels(labels, o.metadata?.labels) && matchesFields(fields, o))
      .map((o) => {
        const p = clone(this.present(rt, version, o));
        if (!rt.custom) { delete p.apiVersion; delete p.kind; }
        return p;
      });
    return { apiVersion: apiVersionOf(rt, version), kind: rt.listKind, metadata: { resourceVersion: String(this.rv) }, items };
  }

  // ---- writes ----

  create(ref: ResourceRef, body: KObject, opts: WriteOptions = {}): KObject {
    const { rt, version, e } = this.entry(ref);
    const obj = this.checkBody(rt, version, body, opts.namespace);
    const meta = obj.metadata!;
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    if (!meta.name) throw invalid(groupKind(rt), '', [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name is required (the embedded API server of bij run does not generate names)' }]);
    meta.uid = this.acceptClientUids && typeof meta.uid === 'string' && meta.uid !== '' ? meta.uid : randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (rt.tracksGeneration) meta.generation = 1; else delete meta.generation;
    rt.prepareForCreate?.(obj);
    rt.admit?.(obj, undefined, { op: 'create', subresource: opts.subresource });
    if (e.objects.has(keyOf(meta.namespace, meta.name))) throw alreadyExists(groupResource(rt), meta.name);
    return clone(this.present(rt, version, this.commit(e, 'ADDED', obj, undefined)));
  }

  update(ref: ResourceRef, body: KObject, opts: WriteOptions = {}): KObject {
    const { rt, version, e } = this.entry(ref);
    if (opts.subresource === 'status' && !rt.statusSubresource) throw pathNotFound();
    const obj = this.checkBody(rt, version, body, opts.namespace);
    const name = opts.name ?? obj.metadata!.name;
    if (!name) throw badRequest('name is required for an update');
    if (obj.metadata!.name && obj.metadata!.name !== name) throw badRequest(`the name of the object (${obj.metadata!.name}) does not match the name on the URL (${name})`);
    obj.metadata!.name = name;
    const current = e.objects.get(keyOf(obj.metadata!.namespace, name));
    if (!current) {
      if (!rt.allowCreateOnUpdate || opts.subresource) throw notFound(groupResource(rt), name);
      delete obj.metadata!.resourceVersion;
      return this.create(ref, obj, opts);
    }
    const gr = groupResource(rt);
    const cm = current.metadata!;
    const bodyRv = obj.metadata!.resourceVersion;
    if (!bodyRv && !rt.allowUnconditionalUpdate) {
      throw invalid({ group: rt.group, kind: rt.plural }, name, [{ type: 'FieldValueInvalid', field: 'metadata.resourceVersion', detail: '0x0: must be specified for an update' }]);
    }
    if (bodyRv && bodyRv !== cm.resourceVersion) throw conflict(gr, name);
    if (obj.metadata!.uid && obj.metadata!.uid !== cm.uid) throw conflict(gr, name, `Precondition failed: UID in precondition: ${obj.metadata!.uid}, UID in object meta: ${cm.uid}`);

    let next: KObject;
    if (opts.subresource === 'status') {
      next = clone(current);
      if (obj.status === undefined) delete next.status; else next.status = obj.status;
    } else {
      next = obj;
      if (rt.statusSubresource) { if (current.status === undefined) delete next.status; else next.status = clone(current.status); }
      for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
        if (cm[k] === undefined) delete next.metadata![k]; else (next.metadata as Record<string, unknown>)[k] = cm[k];
      }
      next.metadata!.namespace = cm.namespace;
      if (next.metadata!.namespace === undefined) delete next.metadata!.namespace;
    }
    next.metadata!.resourceVersion = cm.resourceVersion;
    if (cm.deletionTimestamp) {
      const added = (next.metadata!.finalizers ?? []).filter((f) => !(cm.finalizers ?? []).includes(f));
      if (added.length) {
        throw invalid(groupKind(rt), name, [{ type: 'FieldValueForbidden', field: 'metadata.finalizers', detail: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
      }
    }
    rt.admit?.(next, current, { op: 'update', subresource: opts.subresource });
    next.apiVersion = current.apiVersion;
    if (rt.tracksGeneration && specChanged(rt, next, current)) next.metadata!.generation = (cm.generation ?? 0) + 1;
    if (deepEqual(next, current)) return clone(this.present(rt, version, current)); // no-op: no new resourceVersion, no event
    if (cm.deletionTimestamp && !(next.metadata!.finalizers ?? []).length && !cm.deletionGracePeriodSeconds) {
      return clone(this.present(rt, version, this.commit(e, 'DELETED', current, current)));
    }
    return clone(this.present(rt, version, this.commit(e, 'MODIFIED', next, current)));
  }

  patch(ref: ResourceRef, namespace: string | undefined, name: string, type: PatchType, body: unknown, opts: WriteOptions & { contentType?: string } = {}): KObject {
    const { rt, version } = this.entry(ref);
    const current = this.get(ref, namespace, name);
    const patched = applyPatch(current, type, body, opts.contentType);
    if (!patched.metadata || typeof patched.metadata !== 'object') patched.metadata = {};
    // A resourceVersion in the patch is a precondition; without one the patch applies to the latest object.
    if (!patched.metadata.resourceVersion) patched.metadata.resourceVersion = current.metadata!.resourceVersion;
    return this.update({ group: rt.group, version, resource: rt.plural }, patched, { ...opts, namespace, name });
  }

  delete(ref: ResourceRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): DeleteResult {
    const { rt, version, e } = this.entry(ref);
    const key = keyOf(this.nsFor(rt, namespace), name);
    const current = e.objects.get(key);
    if (!current) throw notFound(groupResource(rt), name);
    const d = decideDeletion(rt, current, propagation(opts), opts.gracePeriodSeconds, this.now());
    const out = (o: KObject, deleted: boolean): DeleteResult => ({ object: clone(this.present(rt, version, o)), deleted, rt });
    if (d.action === 'unchanged') return out(current, false);
    if (d.action === 'delete') return out(this.commit(e, 'DELETED', current, current), true);
    return out(this.commit(e, 'MODIFIED', d.object, current), false);
  }

  // ---- watch ----

  /**
   * Starts a watch. Events go to `sink` synchronously with the writes that cause them; a resourceVersion
   * older than the retained history yields an ERROR event carrying a 410 Expired Status, then the end.
   */
  watch(ref: ResourceRef, opts: WatchOptions, sink: WatchSink): Watcher {
    const { rt, version, e } = this.entry(ref);
    const filter = {
      namespace: rt.namespaced ? opts.namespace : undefined,
      labels: parseLabelSelector(opts.labelSelector),
      fields: parseFieldSelector(opts.fieldSelector),
    };
    const id = resourceId(rt);
    let replay: StoredEvent[] | undefined = [];
    const fromRv = opts.resourceVersion && opts.resourceVersion !== '0' ? parseRv(opts.resourceVersion) : undefined;
    if (fromRv !== undefined) {
      if (fromRv > this.rv) throw timeout(`Too large resource version: ${fromRv}, current: ${this.rv}`);
      replay = e.history.since(fromRv);
    }
    const w = new Watcher(id, filter, (o) => this.present(rt, version, o), sink, (x) => this.hub.remove(x));
    if (!replay) {
      w.send({ type: 'ERROR', object: failure(410, 'Expired', `too old resource version: ${fromRv} (${e.history.compactedRv})`) as unknown as KObject });
      w.stop('graceful');
      return w;
    }
    if (fromRv === undefined) {
      const keys = [...e.objects.keys()].sort();
      for (const k of keys) { const o = e.objects.get(k)!; if (w.matches(o)) w.send({ type: 'ADDED', object: this.present(rt, version, o) }); }
    } else {
      for (const ev of replay) w.deliver(ev);
    }
    this.hub.add(w);
    return w;
  }

  /** Forgets history up to now: watches from older resourceVersions get 410 Gone. */
  compact(): void { for (const e of this.entries.values()) e.history.compact(this.rv); }

  // ---- helpers ----

  /** Copies the body, fills apiVersion/kind, and reconciles the namespace with the request's. */
  private checkBody(rt: ResourceType, version: string, body: KObject, reqNs: string | undefined): KObject {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body of the request must be a JSON object');
    const obj = clone(body);
    const want = apiVersionOf(rt, version);
    if (obj.apiVersion && obj.apiVersion !== want) throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
    if (obj.kind && obj.kind !== rt.kind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${rt.kind})`);
    obj.apiVersion = want;
    obj.kind = rt.kind;
    if (obj.metadata === null || obj.metadata === undefined) obj.metadata = {};
    if (typeof obj.metadata !== 'object') throw badRequest('metadata must be an object');
    const meta = obj.metadata;
    if (rt.namespaced) {
      if (reqNs && meta.namespace && meta.namespace !== reqNs) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = this.nsFor(rt, reqNs ?? meta.namespace);
    } else delete meta.namespace;
    return obj;
  }
}

/** metadata.generation moves when anything but metadata (and status, where it is a subresource) changes. */
function specChanged(rt: ResourceType, a: KObject, b: KObject): boolean {
  const strip = (o: KObject) => {
    const { metadata: _m, status: _s, ...rest } = o;
    return rt.custom && !rt.statusSubresource ? { ...rest, status: _s } : rest;
  };
  return !deepEqual(strip(a), strip(b));
}

/** Background (the default) or Foreground; the embedded server does not orphan dependents. */
function propagation(opts: DeleteOptions): PropagationPolicy {
  const p = opts.propagationPolicy ?? 'Background';
  if (p !== 'Background' && p !== 'Foreground') {
    throw new ApiError(failure(422, 'Invalid', `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${p}": the embedded API server of bij run supports "Foreground", "Background"`));
  }
  return p;
}
