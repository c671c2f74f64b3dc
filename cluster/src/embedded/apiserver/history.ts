/**
 * The bounded event history of one resource type (the watch cache's window): watches resume from it; one
 * from before it gets 410 Gone, and the client re-lists.
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
  /** Every event with rv > compactedRv is retained: watches from there on can resume. */
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
}
