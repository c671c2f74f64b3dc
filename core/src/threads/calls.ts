/**
 * Request/response bookkeeping shared by the worker-thread clients (the Parquet thread, the inference
 * thread): message ids, pending promises, holding the process open only while a call is in flight,
 * and failing every pending and later call once the thread is gone.
 */
import type { Worker } from 'node:worker_threads';

interface Pending {
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
}

export class ThreadCalls<E extends Error> {
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;
  private deadError: E | undefined;

  /** `mayUnref` says whether the thread may stop holding the process open once no call is pending. */
  constructor(private readonly worker: Worker, private readonly mayUnref: () => boolean) {}

  /** A fresh id (also usable for handles that share the id space with calls). */
  nextId(): number {
    return ++this.lastId;
  }

  /** The error the thread died with, if it did. */
  get dead(): E | undefined {
    return this.deadError;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Posts `msg` (with `msg.id`, or a fresh id) and resolves with the reply settled for that id. */
  call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<any> {
    if (this.deadError) return Promise.reject(this.deadError);
    const id = (msg.id as number | undefined) ?? this.nextId();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ ...msg, id }, transfer);
      } catch (e) {
        this.settle(id);
        reject(e);
      }
    });
  }

  /** Takes the call a reply answers off the books; undefined if none is pending under that id. */
  settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (this.pending.size === 0 && this.mayUnref()) this.worker.unref();
    return p;
  }

  /** The thread is gone: every pending and later call fails (the first error given wins). */
  fail(err: E): void {
    if (!this.deadError) this.deadError = err;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.reject(this.deadError);
  }
}
