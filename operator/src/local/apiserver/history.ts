/**
 * The bounded event history of one resource type (the watch cache's window): watches resume from it, and
 * lists at an older resourceVersion (paging, resourceVersionMatch=Exact) are rebuilt by undoing newer events.
 */
import type { KObject } from './types.js';

export interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object as stored by this event; for DELETED, the last state with the deletion's resourceVersion. */
  object: KObject;
  /** The state before this event (for MODIFIED and DELETED). */
  prev?: KObject;
  key: string;
}

export class History {
  private events: StoredEvent[] = [];
  /** Every event with rv > compactedRv is retained: watches and snapshots from there on are possible. */
  compactedRv: number;

  constructor(private readonly size: number, startRv: number) { this.compactedRv = startRv; }

  push(ev: StoredEvent): void {
    this.events.push(ev);
    while (this.events.length > this.size) this.compactedRv = this.events.shift()!.rv;
  }

  /** Events after `rv`, or undefined when some of them were compacted away (410 Gone). */
  since(rv: number): StoredEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.events.filter((e) => e.rv > rv);
  }

  compact(rv: number): void {
    this.events = this.events.filter((e) => e.rv > rv);
    this.compactedRv = Math.max(this.compactedRv, rv);
  }

  /** The objects as they were at `rv`, or undefined if that is before the retained window. */
  snapshotAt(rv: number, current: Map<string, KObject>): Map<string, KObject> | undefined {
    const newer = this.since(rv);
    if (!newer) return undefined;
    const snap = new Map(current);
    for (let i = newer.length - 1; i >= 0; i--) {
      const e = newer[i];
      if (e.type === 'ADDED') snap.delete(e.key); else snap.set(e.key, e.prev!);
    }
    return snap;
  }
}
