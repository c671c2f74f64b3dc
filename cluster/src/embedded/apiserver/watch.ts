/**
 * Watchers and their fan-out. Each watcher sees events through its namespace and selectors the way the
 * watch cache shows them: an object that starts matching arrives as ADDED, one that stops matching as
 * DELETED, and objects that never match are not sent at all.
 */
import type { StoredEvent } from './history.js';
import { matchesFields, matchesLabels, type Selector } from './selectors.js';
import type { KObject, WatchEvent } from './types.js';

export type CloseMode = 'graceful' | 'abrupt';

export interface WatchSink {
  send(ev: WatchEvent): void;
  /** graceful: the stream ends as on a server-side timeout; abrupt: the connection is reset. */
  close(mode: CloseMode): void;
}

export interface WatchFilter {
  namespace?: string;
  labels: Selector;
  fields: Selector;
}

export class Watcher {
  private closed = false;

  constructor(
    readonly resourceId: string,
    private readonly filter: WatchFilter,
    /** Sets the apiVersion the client asked for. */
    private readonly present: (o: KObject) => KObject,
    private readonly sink: WatchSink,
    private readonly onStop: (w: Watcher) => void,
  ) {}

  get isClosed(): boolean { return this.closed; }

  matches(o: KObject | undefined): boolean {
    if (!o) return false;
    const f = this.filter;
    if (f.namespace && o.metadata?.namespace !== f.namespace) return false;
    return matchesLabels(f.labels, o.metadata?.labels) && matchesFields(f.fields, o);
  }

  deliver(ev: StoredEvent): void {
    if (this.closed) return;
    const now = this.matches(ev.object);
    const before = ev.type === 'MODIFIED' && this.matches(ev.prev);
    let type: WatchEvent['type'] | undefined;
    if (ev.type === 'ADDED') type = now ? 'ADDED' : undefined;
    else if (ev.type === 'DELETED') type = now ? 'DELETED' : undefined;
    else type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    if (type) this.send({ type, object: this.present(ev.object) });
  }

  send(ev: WatchEvent): void {
    if (!this.closed) this.sink.send(ev);
  }

  stop(mode: CloseMode = 'graceful'): void {
    if (this.closed) return;
    this.closed = true;
    this.onStop(this);
    this.sink.close(mode);
  }
}

export class WatchHub {
  private byResource = new Map<string, Set<Watcher>>();

  add(w: Watcher): void {
    const set = this.byResource.get(w.resourceId) ?? new Set<Watcher>();
    set.add(w);
    this.byResource.set(w.resourceId, set);
  }

  remove(w: Watcher): void { this.byResource.get(w.resourceId)?.delete(w); }

  publish(resourceId: string, ev: StoredEvent): void {
    for (const w of [...(this.byResource.get(resourceId) ?? [])]) w.deliver(ev);
  }

  /** Open watches, optionally of one resource id (`jobs.batch`). */
  count(resourceId?: string): number {
    if (resourceId) return this.byResource.get(resourceId)?.size ?? 0;
    let n = 0;
    for (const s of this.byResource.values()) n += s.size;
    return n;
  }

  /** Ends every open watch (of one resource id, if given). */
  dropAll(mode: CloseMode, resourceId?: string): number {
    const victims = [...this.byResource.entries()].filter(([id]) => !resourceId || id === resourceId).flatMap(([, s]) => [...s]);
    for (const w of victims) w.stop(mode);
    return victims.length;
  }
}
