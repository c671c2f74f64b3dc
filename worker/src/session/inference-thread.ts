/**
 * onnxruntime-node, run in a worker thread of its own.
 *
 * Why a thread: onnxruntime-node runs `session.run` synchronously on the thread that calls it (its
 * backend only defers the native call with setImmediate). On the main thread that blocks everything
 * else the pipeline does between runs: packing the next batch, unpacking and assembling the previous
 * one, serving the decoder thread's byte-range reads. In a thread of its own the model runs while the
 * main thread does that work, and the next request is already queued in the thread when a run ends.
 *
 * Data moves without copies where it can: the model's bytes and the input tensors go in as
 * transferred ArrayBuffers when the caller hands them over (else as one copy each), and the outputs
 * come back transferred. At most two run/score requests are posted at a time: one running, one
 * queued in the thread; more wait here (so at most two batches of inputs sit in the thread).
 *
 * The thread's code is a plain-JS string run with `eval: true` (like the Parquet thread), and loads
 * onnxruntime-node by the absolute path resolved here.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { DenseTensor, TensorData } from '../../../core/src/tensors/types.js';
import { INFERENCE_THREAD_SOURCE } from './inference-thread-source.js';
import { ThreadCalls } from '../../../core/src/threads/calls.js';
import { transferable } from '../../../core/src/threads/transfer.js';

/** The thread reported an error, died, or was stopped. */
export class InferenceThreadError extends Error {
  override readonly name = 'InferenceThreadError';
  /** The thread is gone (crashed, exited or was stopped): it cannot be used again. */
  readonly fatal: boolean;
  /** The error's name in the thread (onnxruntime's errors are plain `Error`s). */
  readonly remoteName?: string;
  /** A model output whose shape does not fit the batch (a BadInputError on the main thread). */
  readonly badInput: boolean;
  constructor(message: string, o: { fatal: boolean; remoteName?: string; badInput?: boolean; cause?: unknown }) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.fatal = o.fatal;
    this.remoteName = o.remoteName;
    this.badInput = o.badInput ?? false;
  }
}

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  name: string;
  type: string;
  dims: number[];
  data: TensorData;
}

/** onnxruntime's ValueMetadata, as the thread posts it. */
export interface RawValueMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

export interface ThreadOptions {
  /** Absolute path of onnxruntime-node's entry point (default: resolved from here). Tests only. */
  ortPath?: string;
}

/** One run or score request at work in the thread plus one queued there. */
const MAX_POSTED = 2;

let ortPath: string | undefined;
function resolveOrt(): string {
  ortPath ??= createRequire(import.meta.url).resolve('onnxruntime-node');
  return ortPath;
}

/**
 * The buffers to transfer for these tensors. A tensor's buffer is transferred (and so detached here)
 * only when `handOver` is set and the tensor owns all of it; otherwise its data is copied first (a
 * view on a larger buffer, say a Buffer from Node's pool, must never be transferred).
 */
export function toWire(tensors: readonly (DenseTensor & { name: string })[], handOver: boolean): { feeds: WireTensor[]; transfer: ArrayBuffer[] } {
  const taken = new Set<ArrayBuffer>();
  const feeds = tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims], data: transferable(t.data, handOver, taken) }));
  return { feeds, transfer: [...taken] };
}

/**
 * Client for one inference thread. Requests are answered in order. The thread holds the process
 * open only while a request is in flight (it is unref'd when idle).
 */
export class InferenceThread {
  /** Milliseconds the thread spent in score requests (runs included, queueing not). */
  busyMs = 0;
  /** The most run/score requests posted to the thread at once (at most 2). */
  peakPosted = 0;
  /** Resolves once onnxruntime-node is loaded in the thread; rejects if it cannot be. */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly calls: ThreadCalls<InferenceThreadError>;
  private nextSid = 1;
  private posted = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private terminated = false;
  private started = false;
  private exitCode: number | undefined;
  private readonly exited: Promise<void>;

  constructor(options: ThreadOptions = {}) {
    let readyResolve!: () => void;
    let readyReject!: (e: unknown) => void;
    this.ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
    this.ready.catch(() => undefined);
    const path = options.ortPath ?? resolveOrt();
    this.worker = new Worker(INFERENCE_THREAD_SOURCE, { eval: true, workerData: { ort: path } });
    this.calls = new ThreadCalls(this.worker, () => this.started && !this.terminated);
    this.worker.on('message', (m: any) => {
      if (m?.t === 'ready') {
        this.started = true;
        readyResolve();
        if (this.calls.inFlight === 0) this.worker.unref();
        return;
      }
      this.onMessage(m);
    });
    this.worker.on('error', (e: unknown) => {
      // Errors thrown in the thread arrive serialized (not `instanceof Error` here).
      const msg = typeof e === 'object' && e !== null && 'message' in e ? String((e as { message: unknown }).message) : String(e);
      const err = this.started
        ? new InferenceThreadError(`the inference thread crashed: ${msg}`, { fatal: true, cause: e })
        : new InferenceThreadError(`cannot load onnxruntime-node (${path}) in a worker thread: ${msg}`, { fatal: true, cause: e });
      readyReject(err);
      this.die(err);
    });
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', (code) => {
      this.exitCode = code;
      const err = this.terminated ? this.stoppedError()
        : new InferenceThreadError(`the inference thread exited unexpectedly (code ${code})`, { fatal: true });
      readyReject(err);
      this.die(err);
      resolve();
    }));
  }

  /** True once the thread crashed, exited or was terminated. */
  get dead(): boolean {
    return this.calls.dead !== undefined;
  }

  /** The thread's exit code once it has exited (undefined while it runs). */
  get exitedWith(): number | undefined {
    return this.exitCode;
  }

  /** Hands the model's bytes to the thread: transferred when `handOver` (they are detached here), else copied. */
  async load(bytes: Uint8Array, handOver: boolean): Promise<void> {
    const { feeds: [wire], transfer } = toWire([{ name: 'model', type: 'uint8', dims: [bytes.length], data: bytes as unknown as TensorData }], handOver);
    await this.call({ op: 'load', bytes: wire.data }, transfer);
  }

  /** Drops the model's bytes in the thread. */
  async unload(): Promise<void> {
    await this.call({ op: 'unload' });
  }

  /** Creates a session from the loaded bytes. Rejects with onnxruntime's error (message kept). */
  async create(options: unknown): Promise<{ sid: number; inputs: RawValueMeta[]; outputs: RawValueMeta[] }> {
    const sid = this.nextSid++;
    const r = await this.call({ op: 'create', sid, options });
    return { sid, inputs: r.inputs, outputs: r.outputs };
  }

  async release(sid: number): Promise<void> {
    await this.call({ op: 'release', sid });
  }

  /** One run of the session. */
  async run(sid: number, feeds: WireTensor[], transfer: ArrayBuffer[], names?: readonly string[]): Promise<Record<string, DenseTensor>> {
    const out: WireTensor[] = await this.slot(() => this.call({ op: 'run', sid, feeds, names: names ? [...names] : undefined }, transfer));
    return Object.fromEntries(out.map((t) => [t.name, { type: t.type, dims: t.dims, data: t.data }]));
  }

  /** `rows` rows of the feeds in runs of at most maxBatch rows (exactly fixedBatch, padded), back to back. */
  async score(sid: number, feeds: WireTensor[], transfer: ArrayBuffer[], o: { rows: number; fixedBatch?: number; maxBatch?: number; names?: readonly string[] }): Promise<Record<string, DenseTensor>> {
    const r: { outputs: WireTensor[]; ms: number } = await this.slot(() => this.call({
      op: 'score', sid, feeds, rows: o.rows, fixedBatch: o.fixedBatch, maxBatch: o.maxBatch, names: o.names ? [...o.names] : undefined,
    }, transfer));
    this.busyMs += r.ms;
    return Object.fromEntries(r.outputs.map((t) => [t.name, { type: t.type, dims: t.dims, data: t.data }]));
  }

  /** Test only: makes the thread throw an uncaught exception (as a crash in it would). */
  crashForTest(): void {
    this.worker.postMessage({ op: 'crash', id: this.calls.nextId() });
  }

  /** Stops the thread, failing whatever is in flight, and waits until it has exited. Idempotent. */
  async terminate(): Promise<void> {
    if (!this.terminated) {
      this.terminated = true;
      this.die(this.stoppedError());
      await this.worker.terminate();
    }
    await this.exited;
  }

  /** Waits for a free slot (at most MAX_POSTED requests posted), then runs `fn`. */
  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.posted >= MAX_POSTED && !this.calls.dead) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.posted++;
    this.peakPosted = Math.max(this.peakPosted, this.posted);
    try {
      return await fn();
    } finally {
      this.posted--;
      this.slotWaiters.shift()?.();
    }
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<any> {
    return this.calls.call(msg, transfer);
  }

  private onMessage(m: any): void {
    if (m?.t !== 'reply') return;
    const p = this.calls.settle(m.id);
    if (!p) return;
    if (m.error) {
      p.reject(new InferenceThreadError(m.error.message, { fatal: false, remoteName: m.error.name, badInput: m.error.badInput }));
    } else {
      p.resolve(m.result);
    }
  }

  private stoppedError(): InferenceThreadError {
    return new InferenceThreadError('the inference thread was stopped', { fatal: true });
  }

  private die(err: InferenceThreadError): void {
    this.calls.fail(err);
    for (const w of this.slotWaiters.splice(0)) w();
  }
}
