/**
 * parquet-wasm, run in a worker thread.
 *
 * Why a thread: parquet-wasm is Rust compiled with panic=abort. Corrupt page data (a flipped byte in a
 * Snappy block, a bad page header) makes it panic, and the panic surfaces as a `RuntimeError:
 * unreachable` thrown from a microtask: an uncaught exception that would kill the whole process (and a
 * wasm instance that panicked is not safe to use again anyway). Inside a worker thread the same panic
 * only ends that thread; the client below turns it into an error for whoever was waiting. As a bonus,
 * decompression and decoding (and, for the writer, encoding and compression) run off the main thread.
 *
 * Byte access: the thread opens a file through `ParquetFile.fromFile(blob)` with a Blob whose `size`,
 * `slice()` and `arrayBuffer()` are overridden, so parquet-wasm reads the footer and then only the column
 * chunks it needs. Each `arrayBuffer()` becomes a `read` message to the main thread, which calls
 * `storage.readRange(uri, start, end)` and posts the bytes back (transferred, not copied).
 *
 * The thread is a module file, parquet-thread-main.ts, with the typed messages of thread-protocol.ts.
 * Started from dist/ it is this module's sibling; under jest, the build's (threads/module-file.ts).
 */
import { Worker } from 'node:worker_threads';
import type { Storage } from '../storage/types.js';
import { footerLength, mendFooter, parquetTail } from './footer-fix.js';
import { ThreadCalls } from '../threads/calls.js';
import { threadModuleUrl } from '../threads/module-file.js';
import { transferable } from '../threads/transfer.js';
import { ParquetThreadError, threadError } from './thread-error.js';
import { sharedParquetWasm } from './wasm-module.js';
import type {
  DataMessage, NextReply, Op, PackSpec, PartOptions, Replies, Requests, ThreadData, ThreadMessage, ThreadTimes,
} from './thread-protocol.js';

export type { PartOptions, WriteCompression } from './thread-protocol.js';
export { ParquetThreadError } from './thread-error.js';

export interface OpenedFile {
  handle: number;
  rowGroupRows: number[];
  numRows: number;
  createdBy?: string;
  keyValueMetadata: Record<string, string>;
  /** The file's Arrow schema as an IPC stream (zero rows). */
  schemaIpc: Uint8Array;
}

export interface IoStats {
  /** Ranged reads made for this thread's files. */
  rangeRequests: number;
  bytesRead: number;
  /** Seconds spent inside storage.readRange, summed (reads may overlap). */
  ioSeconds: number;
}

interface FileEntry {
  storage: Storage;
  uri: string;
  /** Every read asks for this version (storage ReadOptions.ifMatch), so a rewritten file fails. */
  etag?: string;
  /** The last error storage.readRange gave for this file: the real cause of a failure in the thread. */
  ioError?: unknown;
  open?: boolean;
  /** The file's last bytes as the thread sees them (footer-fix.ts): reads at or past `start` are
   * served from `bytes`, the rest from storage. Kept while open when the footer was mended. */
  tail?: { start: number; bytes: Uint8Array };
}

export interface ParquetThreadOptions {
  /** Tests only: the thread's module file instead of parquet-thread-main.js (a test's wrapper around
   * it, say one that crashes on cue), and what to pass it as workerData.test. */
  entry?: URL;
  test?: unknown;
}

/**
 * Client for one parquet-wasm worker thread. Calls may overlap; each is answered in turn. The thread
 * holds the process open only while a call is in flight (it is unref'd when idle).
 */
export class ParquetThread {
  readonly io: IoStats = { rangeRequests: 0, bytesRead: 0, ioSeconds: 0 };
  /** The thread's own account of its time, as of its last batch (decode and pack, measured there). */
  times: ThreadTimes = { busyMs: 0, packMs: 0, fastBatches: 0, directBatches: 0 };
  private readonly worker: Worker;
  private readonly calls: ThreadCalls<ParquetThreadError>;
  private readonly files = new Map<number, FileEntry>();
  /** stream id -> file handle */
  private readonly streams = new Map<number, number>();
  private terminated = false;

  constructor(options: ParquetThreadOptions = {}) {
    const entry = options.entry ?? threadModuleUrl('parquet-thread-main.js', import.meta.url);
    const workerData: ThreadData = { ...sharedParquetWasm(), ...(options.test !== undefined ? { test: options.test } : {}) };
    this.worker = new Worker(entry, { workerData });
    this.worker.unref();
    this.calls = new ThreadCalls(this.worker, () => !this.terminated);
    this.worker.on('message', (m: ThreadMessage) => this.onMessage(m));
    this.worker.on('error', (e: unknown) => {
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      this.die(new ParquetThreadError(`parquet-wasm crashed (${msg})`, true, { cause: e }));
    });
    this.worker.on('exit', (code) => {
      this.die(this.terminated ? this.stoppedError()
        : new ParquetThreadError(`the Parquet thread exited unexpectedly (code ${code})`, true));
    });
  }

  /** True once the thread crashed or was terminated. */
  get dead(): boolean {
    return this.calls.dead !== undefined;
  }

  /** True once terminate() was called. */
  get stopped(): boolean {
    return this.terminated;
  }

  /** Opens a file for ranged reading: reads its footer (and nothing else). With `etag`, every read of
   * the file asks for that version, so a file rewritten since it was planned fails instead of mixing.
   * The footer is read here first and mended where a writer left a known quirk (footer-fix.ts); the
   * thread's reads of it are then served from memory. */
  async open(storage: Storage, uri: string, size: number, etag?: string): Promise<OpenedFile> {
    const handle = this.calls.nextId();
    const entry: FileEntry = { storage, uri, etag };
    this.files.set(handle, entry);
    try {
      let seen: { size: number; mended: boolean };
      try {
        seen = await this.readTail(entry, size);
      } catch (e) {
        entry.ioError = e;
        throw new ParquetThreadError(`reading the footer: ${e instanceof Error ? e.message : String(e)}`, false, { cause: e });
      }
      const tail = entry.tail;
      const footer = tail && tail.bytes.length > 8 ? tail.bytes.slice(0, tail.bytes.length - 8) : undefined;
      const r = await this.call('open', { file: handle, size: seen.size, ...(footer ? { footer } : {}) });
      entry.open = true;
      if (!seen.mended) entry.tail = undefined; // later reads are of column chunks: storage's
      return {
        handle,
        rowGroupRows: r.rowGroupRows,
        numRows: r.numRows,
        createdBy: r.createdBy ?? undefined,
        keyValueMetadata: r.keyValueMetadata,
        schemaIpc: r.schema,
      };
    } catch (e) {
      throw this.withIoError(handle, e);
    } finally {
      if (!this.files.get(handle)?.open) this.files.delete(handle);
    }
  }

  /** Starts streaming one row group; its first batch is decoded (and its bytes fetched) at once. The
   * first `skip` rows of the row group are dropped in the thread. `formats`: for streams to be read
   * packed, the columns the thread may decode directly (thread-protocol.ts). */
  async startStream(handle: number, rowGroup: number, columns: string[], batchSize: number, skip = 0, formats?: Record<string, string>): Promise<number> {
    const id = this.calls.nextId();
    this.streams.set(id, handle);
    try {
      await this.call('stream', { id, file: handle, rowGroup, columns, batchSize, skip, ...(formats ? { formats } : {}) });
    } catch (e) {
      this.streams.delete(id);
      throw this.withIoError(handle, e);
    }
    return id;
  }

  /** From now on the batches of this file's streams come packed into tensors (nextBatch). */
  async pack(handle: number, spec: PackSpec): Promise<void> {
    await this.call('pack', { file: handle, spec });
  }

  /** The next batch of a stream: Arrow IPC, or packed once pack() was called for its file. */
  async nextBatch(stream: number): Promise<NextReply> {
    try {
      const r = await this.call('next', { stream });
      this.times = r.times;
      if (r.done) this.streams.delete(stream);
      return r;
    } catch (e) {
      throw this.withIoError(this.streams.get(stream), e);
    }
  }

  /** The next batch of a stream as an Arrow IPC stream, or null at its end. */
  async next(stream: number): Promise<Uint8Array | null> {
    const r = await this.nextBatch(stream);
    if (r.done) return null;
    if (!('ipc' in r)) throw new Error('next(): the stream\'s file is packed; use nextBatch()');
    return r.ipc;
  }

  async close(handle: number): Promise<void> {
    try {
      if (!this.dead) await this.call('close', { file: handle });
    } finally {
      this.files.delete(handle);
    }
  }

  /** Resolves once the thread is up and parquet-wasm instantiated (to start one ahead of need). */
  async ping(): Promise<void> {
    await this.call('ping', {});
  }

  /** Starts a Parquet file written as rows arrive (appendPart), encoded in this thread. Returns its id. */
  async openPart(req: PartOptions): Promise<number> {
    const part = this.calls.nextId();
    await this.call('part-open', { ...req, part });
    return part;
  }

  /** Encodes rows (an Arrow IPC stream) into an open part. Resolves once the encoder has taken them,
   * that is, once it is done with the rows appended before: at most one append waits in the thread. */
  async appendPart(part: number, ipc: Uint8Array): Promise<void> {
    const own = transferable(ipc);
    await this.call('part-append', { part, ipc: own }, [own.buffer as ArrayBuffer]);
  }

  /** The bytes of an open part encoded since the last take (its finished row groups, in order), handed
   * over: the thread keeps none of them. A client that takes them writes them before closePart's. */
  async takePart(part: number): Promise<Uint8Array[]> {
    return await this.call('part-take', { part });
  }

  /** Finishes an open part (the footer) and returns the whole file (the rest of it, after takePart). Fails unless the file holds
   * every row appended, and if the encoder does not finish within the part's closeTimeoutMs. */
  async closePart(part: number): Promise<Uint8Array> {
    return await this.call('part-close', { part });
  }

  /** Drops an open part, discarding what was encoded. */
  async abortPart(part: number): Promise<void> {
    if (!this.dead) await this.call('part-abort', { part });
  }

  /** Stops the thread, failing whatever is in flight. Idempotent. */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    await this.worker.terminate();
    this.die(this.stoppedError());
  }

  private withIoError(handle: number | undefined, e: unknown): unknown {
    const ioError = handle === undefined ? undefined : this.files.get(handle)?.ioError;
    if (ioError === undefined || !(e instanceof ParquetThreadError)) return e;
    const err = new ParquetThreadError(e.message, e.fatal, { cause: e.cause });
    err.ioError = ioError;
    err.stopped = e.stopped;
    err.packing = e.packing;
    err.badInput = e.badInput;
    return err;
  }

  private call<K extends Op>(op: K, msg: Requests[K], transfer: ArrayBuffer[] = []): Promise<Replies[K]> {
    return this.calls.call({ ...msg, op }, transfer) as Promise<Replies[K]>;
  }

  private onMessage(m: ThreadMessage): void {
    if (m.t === 'read') {
      void this.serveRead(m.rid, m.file, m.start, m.end);
      return;
    }
    if (m.t !== 'reply') return;
    const p = this.calls.settle(m.id);
    if (!p) return;
    if (m.error) {
      const err = threadError(m.error);
      if (err.fatal) {
        // A panic caught inside a call: the wasm instance is unusable from now on.
        p.reject(err);
        this.die(err);
        void this.worker.terminate();
      } else {
        p.reject(err);
      }
    } else {
      p.resolve(m.result);
    }
  }

  /** One ranged read of the stored file, counted, checked for length. */
  private async readStored(entry: FileEntry, start: number, end: number): Promise<Uint8Array> {
    const t0 = performance.now();
    try {
      const bytes = await entry.storage.readRange(entry.uri, start, end, entry.etag !== undefined ? { ifMatch: entry.etag } : undefined);
      if (bytes.byteLength !== end - start) {
        throw new Error(`short read of ${entry.uri}: asked for bytes [${start}, ${end}), got ${bytes.byteLength}`);
      }
      this.io.rangeRequests++;
      this.io.bytesRead += bytes.byteLength;
      return bytes;
    } finally {
      this.io.ioSeconds += (performance.now() - t0) / 1000;
    }
  }

  /**
   * Reads the footer (its length, then itself) into entry.tail, mended if it needs to be, and returns
   * the size of the file as the thread is to see it. Bytes that do not end like a Parquet file are left
   * for parquet-wasm to refuse with its own words.
   */
  private async readTail(entry: FileEntry, size: number): Promise<{ size: number; mended: boolean }> {
    const asIs = { size, mended: false };
    if (size < 12) return asIs;
    const last8 = await this.readStored(entry, size - 8, size);
    const len = footerLength(last8, size);
    if (len === undefined) return asIs;
    const start = size - 8 - len;
    const footer = await this.readStored(entry, start, size - 8);
    const mended = mendFooter(footer);
    if (!mended) {
      const bytes = new Uint8Array(len + 8);
      bytes.set(footer);
      bytes.set(last8, len);
      entry.tail = { start, bytes };
      return asIs;
    }
    entry.tail = { start, bytes: parquetTail(mended) };
    return { size: start + entry.tail.bytes.length, mended: true };
  }

  /** Bytes [start, end) of the file as the thread sees it: the tail from memory, the rest stored. */
  private async readSeen(entry: FileEntry, start: number, end: number): Promise<Uint8Array> {
    const tail = entry.tail;
    if (!tail || end <= tail.start) return this.readStored(entry, start, end);
    const fromTail = tail.bytes.subarray(Math.max(0, start - tail.start), end - tail.start);
    if (start >= tail.start) {
      if (fromTail.length !== end - start) {
        throw new Error(`short read of ${entry.uri}: asked for bytes [${start}, ${end}), the file ends at ${tail.start + tail.bytes.length}`);
      }
      return fromTail.slice();
    }
    const head = await this.readStored(entry, start, tail.start);
    const out = new Uint8Array(end - start);
    out.set(head);
    out.set(fromTail, head.length);
    return out;
  }

  private async serveRead(rid: number, handle: number, start: number, end: number): Promise<void> {
    const entry = this.files.get(handle);
    let reply: DataMessage;
    let transfer: ArrayBuffer[] = [];
    if (!entry) {
      reply = { t: 'data', rid, error: `file handle ${handle} is not open` };
    } else {
      try {
        const own = transferable(await this.readSeen(entry, start, end));
        reply = { t: 'data', rid, bytes: own };
        transfer = [own.buffer as ArrayBuffer];
      } catch (e) {
        entry.ioError = e;
        reply = { t: 'data', rid, error: e instanceof Error ? e.message : String(e) };
      }
    }
    if (this.calls.dead) return;
    try {
      this.worker.postMessage(reply, transfer);
    } catch {
      /* the thread is gone */
    }
  }

  private stoppedError(): ParquetThreadError {
    const err = new ParquetThreadError('the Parquet thread was stopped', true);
    err.stopped = true;
    return err;
  }

  private die(err: ParquetThreadError): void {
    this.calls.fail(err);
  }
}

let shared: ParquetThread | undefined;

/** A process-wide thread for short calls (footers). Replaced transparently if it crashed. */
export function sharedParquetThread(): ParquetThread {
  if (!shared || shared.dead) shared = new ParquetThread();
  return shared;
}
