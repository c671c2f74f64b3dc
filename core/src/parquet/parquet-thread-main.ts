/**
 * The Parquet thread itself (see parquet-thread.ts for why a thread, and thread-protocol.ts for the
 * messages). Started by the client as a module file: `dist/core/src/parquet/parquet-thread-main.js`.
 *
 * It serves two kinds of work:
 * - decoding (the reader): open a file (its footer), stream row groups batch by batch, each batch
 *   either as Arrow IPC or, once the client sent a pack spec for the file, packed into the model's
 *   input tensors right here, so the main thread has almost nothing to do per row: straight from
 *   wasm memory where the batch allows (thread-fast-pack.ts), else through Arrow JS by every rule
 *   (thread-pack.ts, loaded only when first needed);
 * - encoding (the writer): Parquet parts written as their rows arrive (thread-parts.ts).
 *
 * A wasm panic (parquet-wasm is built with panic=abort: corrupt data can make it trap) is reported
 * as a fatal error for the call that hit it; the client then ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { RangedBlob } from './thread-blob.js';
import { ffiColumns } from './thread-ffi.js';
import { fastPack } from './thread-fast-pack.js';
import { fileLayout, type FileLayout } from './direct/chunk-meta.js';
import { DirectRowGroup, directColumns } from './direct/direct-row-group.js';
import { packDirect } from './direct/direct-pack.js';
import { Part, freeQuietly } from './thread-parts.js';
import type {
  DataMessage, NextReply, Op, PackSpec, Replies, Request, ThreadData, ThreadMessage, ThreadTimes, WireError,
} from './thread-protocol.js';

import type { ParquetFile as WasmFile, RecordBatch as WasmBatch } from 'parquet-wasm/esm';
import { awaitedLater } from '../contract/settle.js';
import { copyOfView, releaseBuffer, spansOwnBuffer } from '../threads/transfer.js';

type ParquetWasm = typeof import('parquet-wasm/esm');
type Packer = typeof import('./thread-pack.js');

if (!parentPort) throw new Error('parquet-thread-main.js runs as a worker thread');
const port = parentPort;
const data = workerData as ThreadData;

// parquet-wasm's ESM build, instantiated from the module the client compiled (shared machine code).
let pw!: ParquetWasm;
const ready = import(data.esmUrl).then((m: ParquetWasm) => {
  m.initSync({ module: data.module });
  pw = m;
});
awaitedLater(ready); // every request awaits it and reports its failure

let packer: Promise<Packer> | undefined;
const loadPacker = (): Promise<Packer> => (packer ??= import('./thread-pack.js'));

interface FileEntry {
  handle: number;
  pf: WasmFile;
  /** Set by a `pack` request: batches of this file's streams come packed. */
  pack?: PackSpec;
  /** The footer as parquet-wasm read it, for the direct decoder (direct/). */
  footer?: Uint8Array;
  /** Its layout, parsed on first need; null if it could not be. */
  layout?: FileLayout | null;
}

interface StreamEntry {
  file: FileEntry;
  rowGroup: number;
  columns: string[];
  batchSize: number;
  /** Decoding without parquet-wasm (packed streams whose columns it takes: direct/): the row group,
   * once its chunks are fetched. Dropped for parquet-wasm, from the same row on, on the first batch
   * it cannot decode or the fast packer cannot pack. */
  direct?: Promise<DirectRowGroup>;
  /** The direct stream's next answer, decoded and packed while the client takes the last one. */
  directAhead?: Promise<Answer<'next'> | undefined>;
  reader?: ReadableStreamDefaultReader<WasmBatch>;
  /** The batch being decoded ahead of the caller. */
  pending?: Promise<ReadableStreamReadResult<WasmBatch>>;
  /** Rows still to drop from the start of the row group. */
  skip: number;
}

/** BIJ_DIRECT_DECODE=0 decodes everything with parquet-wasm. */
const DIRECT = process.env.BIJ_DIRECT_DECODE !== '0';

const files = new Map<number, FileEntry>();
const streams = new Map<number, StreamEntry>();
const parts = new Map<number, Part>();
const reads = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void; keep: boolean }>();
let nextReadId = 1;
let packMs = 0;
let fastBatches = 0;
let directBatches = 0;

/** Bytes [start, end) of a file, from the client. Unless `keep`, the buffer is freed one macrotask
 * after it arrives (parquet-wasm has copied it by then); the direct decoder keeps what it reads. */
function fetchRange(file: number, start: number, end: number, keep = false): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const rid = nextReadId++;
    reads.set(rid, { resolve, reject, keep });
    post({ t: 'read', rid, file, start, end });
  });
}

/** Frees a buffer after the current macrotask (releaseBuffer), once whoever it was handed to is done. */
function releaseLater(buffer: ArrayBuffer): void {
  setImmediate(() => releaseBuffer(buffer));
}

function post(m: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function times(): ThreadTimes {
  return { busyMs: performance.eventLoopUtilization().active, packMs, fastBatches, directBatches };
}

/** Starts decoding the stream's next batch (a rejection is kept for whoever awaits it). */
function readAhead(st: StreamEntry): void {
  st.pending = st.reader!.read();
  awaitedLater(st.pending);
}

/** Starts parquet-wasm on the stream's row group, after its first `skip` rows. */
async function wasmStream(st: StreamEntry, skip: number): Promise<void> {
  const s = await st.file.pf.stream({ rowGroups: [st.rowGroup], columns: st.columns, batchSize: st.batchSize });
  st.reader = s.getReader() as ReadableStreamDefaultReader<WasmBatch>;
  st.skip = skip;
  readAhead(st);
}

/** The row group decoded directly, if every column of it can be (direct/direct-row-group.ts). */
function directStream(st: StreamEntry, formats: Record<string, string> | undefined, skip: number): Promise<DirectRowGroup> | undefined {
  const f = st.file;
  if (!DIRECT || !formats || !f.footer) return undefined;
  if (f.layout === undefined) {
    try {
      f.layout = fileLayout(f.footer);
    } catch {
      f.layout = null; // parquet-wasm read it: it will say what is wrong, if anything
    }
  }
  const cols = f.layout && directColumns(f.layout, st.rowGroup, st.columns, formats);
  if (!cols) return undefined;
  const rows = f.layout!.rowGroups[st.rowGroup].numRows;
  const group = DirectRowGroup.open((start, end) => fetchRange(f.handle, start, end, true), cols, rows, skip);
  awaitedLater(group);
  return group;
}

/** The stream's next batch with rows, after dropping what `skip` says; undefined at its end. */
async function nextBatch(st: StreamEntry): Promise<WasmBatch | undefined> {
  for (;;) {
    const r = await st.pending!;
    if (r.done) return undefined;
    readAhead(st); // decode the following batch while the caller works on this one
    let batch = r.value;
    if (st.skip > 0) {
      const n = batch.numRows;
      const drop = Math.min(st.skip, n);
      st.skip -= drop;
      const rest = drop < n ? batch.slice(drop, n - drop) : undefined;
      freeQuietly(batch);
      if (!rest) continue;
      batch = rest;
    }
    if (batch.numRows === 0) {
      freeQuietly(batch);
      continue;
    }
    return batch;
  }
}

/** An error met while packing (not decoding): the client reports it as such, not as corrupt data. */
function asPackingError(e: unknown): Error {
  return Object.assign(e instanceof Error ? e : new Error(String(e)), { packing: true });
}

/** The fast path: the batch packed where it lies, or null (then the general path packs it). */
function packInWasmMemory(batch: WasmBatch, spec: PackSpec): ReturnType<typeof fastPack> {
  const ffi = batch.toFFI();
  try {
    const arrayAddr = ffi.arrayAddr();
    const schemaAddr = ffi.schemaAddr();
    const mem = pw.wasmMemory().buffer as ArrayBuffer; // after the calls above: a grown memory detaches older views
    return fastPack(mem, ffiColumns(mem, arrayAddr, schemaAddr), batch.numRows, spec);
  } finally {
    freeQuietly(ffi);
  }
}

type Answer<K extends Op> = [Replies[K], ArrayBuffer[]?];

async function open(m: Request<'open'>): Promise<Answer<'open'>> {
  const pf = await pw.ParquetFile.fromFile(new RangedBlob(fetchRange, m.file, 0, m.size));
  files.set(m.file, { handle: m.file, pf, ...(m.footer ? { footer: m.footer } : {}) });
  const md = pf.metadata();
  try {
    const n = md.numRowGroups();
    const rowGroupRows: number[] = [];
    for (let i = 0; i < n; i++) {
      const rg = md.rowGroup(i);
      rowGroupRows.push(rg.numRows());
      freeQuietly(rg);
    }
    const fmd = md.fileMetadata();
    const numRows = fmd.numRows();
    const createdBy = fmd.createdBy();
    const keyValueMetadata: Record<string, string> = {};
    for (const [k, v] of fmd.keyValueMetadata()) keyValueMetadata[String(k)] = v == null ? '' : String(v);
    freeQuietly(fmd);
    const schema = pf.schema().intoIPCStream();
    return [{ rowGroupRows, numRows, createdBy, keyValueMetadata, schema }, [schema.buffer as ArrayBuffer]];
  } finally {
    freeQuietly(md);
  }
}

/**
 * The stream's next batch decoded and packed directly; undefined when the stream is not (or no longer)
 * direct: parquet-wasm then goes on from the first row not yet answered.
 */
async function nextDirect(st: StreamEntry, spec: PackSpec | undefined): Promise<Answer<'next'> | undefined> {
  if (!st.direct) return undefined;
  let group: DirectRowGroup | undefined;
  let at = st.skip;
  try {
    group = await st.direct;
    at = group.position;
    if (!spec) throw new Error('batches of this stream are asked for as Arrow IPC'); // parquet-wasm's
    if (group.left === 0) return [{ done: true, times: times() }];
    const n = Math.min(group.left, Math.max(8, st.batchSize));
    // Decoded and packed in one pass where the spec allows (counted as decoding, not packing), else
    // decoded into columns and packed from them.
    let fast = packDirect(group, n, spec);
    if (fast === undefined) {
      const columns = group.take(n); // decoding: counted in the thread's busy time, not in packing
      const t0 = performance.now();
      fast = fastPack(new ArrayBuffer(0), columns, n, spec);
      packMs += performance.now() - t0;
      for (const c of columns) if (c.mem) releaseBuffer(c.mem); // copied into the tensors and kept columns
    }
    if (fast) {
      fastBatches++;
      directBatches++;
      if (group.left === 0) group.release();
      return [{ done: false, rows: n, packed: fast.packed, times: times() }, fast.transfer];
    }
  } catch {
    // Something the direct decoder does not take after all (or corrupt data): parquet-wasm decodes
    // these rows, and reports what is wrong with them in its own words.
  }
  group?.release();
  st.direct = undefined;
  await wasmStream(st, at);
  return undefined;
}

async function next(m: Request<'next'>): Promise<Answer<'next'>> {
  const st = streams.get(m.stream);
  if (!st) throw new Error(`stream ${m.stream} is not open`);
  const ahead = st.directAhead;
  st.directAhead = undefined;
  const direct = await (ahead ?? nextDirect(st, st.file.pack));
  if (direct) {
    if (direct[0].done) streams.delete(m.stream);
    else if (st.direct) {
      // Decode and pack the following batch now, while the client takes this one (after this reply
      // is posted: setImmediate runs once the current macrotask, which posts it, is done).
      const spec = st.file.pack;
      st.directAhead = new Promise((resolve, reject) => setImmediate(() => nextDirect(st, spec).then(resolve, reject)));
      awaitedLater(st.directAhead);
    }
    return direct;
  }
  const batch = await nextBatch(st);
  if (!batch) {
    streams.delete(m.stream);
    return [{ done: true, times: times() }];
  }
  const rows = batch.numRows;
  const spec = st.file.pack;
  if (spec) {
    const t0 = performance.now();
    let fast;
    try {
      fast = packInWasmMemory(batch, spec);
    } catch (e) {
      throw asPackingError(e);
    } finally {
      packMs += performance.now() - t0;
    }
    if (fast) {
      fastBatches++;
      freeQuietly(batch);
      return [{ done: false, rows, packed: fast.packed, times: times() }, fast.transfer];
    }
  }
  const ipc = batch.intoIPCStream();
  freeQuietly(batch);
  if (!spec) return [{ done: false, rows, ipc, times: times() }, [ipc.buffer as ArrayBuffer]];
  const { packIpc } = await loadPacker();
  const t0 = performance.now();
  let out;
  try {
    out = packIpc(ipc, st.columns, spec);
  } catch (e) {
    throw asPackingError(e);
  } finally {
    packMs += performance.now() - t0;
  }
  const reply: NextReply = { done: false, rows, packed: out.packed, times: times() };
  return [reply, out.transfer];
}

async function handle(m: Request): Promise<Answer<Op>> {
  await ready;
  switch (m.op) {
    case 'open':
      return open(m);
    case 'stream': {
      const file = files.get(m.file);
      if (!file) throw new Error(`file handle ${m.file} is not open`);
      const st: StreamEntry = { file, rowGroup: m.rowGroup, columns: m.columns, batchSize: m.batchSize, skip: m.skip };
      // Start decoding at once: this fetches the row group's column chunks (read-ahead).
      st.direct = directStream(st, m.formats, m.skip);
      if (!st.direct) await wasmStream(st, m.skip);
      streams.set(m.id, st);
      return [true];
    }
    case 'pack': {
      const file = files.get(m.file);
      if (!file) throw new Error(`file handle ${m.file} is not open`);
      file.pack = m.spec;
      return [true];
    }
    case 'next':
      return next(m);
    case 'close': {
      const file = files.get(m.file);
      files.delete(m.file);
      freeQuietly(file?.pf);
      return [true];
    }
    case 'ping':
      return [true];
    case 'part-open': {
      const { op: _op, id: _id, part, ...options } = m;
      parts.set(part, new Part(pw, options));
      return [true];
    }
    case 'part-append': {
      const part = parts.get(m.part);
      if (!part) throw new Error(`part ${m.part} is not open`);
      await part.append(m.ipc);
      return [true];
    }
    case 'part-take': {
      const part = parts.get(m.part);
      if (!part) throw new Error(`part ${m.part} is not open`);
      const chunks = part.take().map((c) => (spansOwnBuffer(c) ? c : copyOfView(c)));
      return [chunks, chunks.map((c) => c.buffer as ArrayBuffer)];
    }
    case 'part-close': {
      const part = parts.get(m.part);
      if (!part) throw new Error(`part ${m.part} is not open`);
      try {
        const out = await part.close();
        return [out, [out.buffer as ArrayBuffer]];
      } finally {
        parts.delete(m.part);
      }
    }
    case 'part-abort': {
      const part = parts.get(m.part);
      parts.delete(m.part);
      await part?.abort();
      return [true];
    }
    default:
      throw new Error(`unknown op ${(m as { op: unknown }).op}`);
  }
}

function wireError(e: unknown): WireError {
  const err = e as { message?: unknown; name?: unknown; packing?: unknown } | undefined;
  const name = String(err?.name ?? 'Error');
  return {
    message: String(err?.message ?? e),
    name,
    fatal: e instanceof WebAssembly.RuntimeError,
    badInput: err?.packing === true && name === 'BadInputError',
    packing: err?.packing === true,
  };
}

port.on('message', (m: Request | DataMessage) => {
  if ('t' in m) {
    const r = reads.get(m.rid);
    if (!r) return;
    reads.delete(m.rid);
    if (m.error !== undefined) r.reject(new Error(m.error));
    else {
      const bytes = m.bytes as Uint8Array;
      r.resolve(bytes);
      if (r.keep) return;
      // parquet-wasm copies what it reads into its own memory as soon as the read resolves (in the
      // microtasks that follow): the buffer is garbage by the next macrotask. Freed now, not at V8's
      // next collection of this isolate, which lets tens of MiB of them wait (see releaseBuffer).
      releaseLater(bytes.buffer as ArrayBuffer);
    }
    return;
  }
  handle(m).then(
    ([result, transfer]) => post({ t: 'reply', id: m.id, result }, transfer ?? []),
    (e: unknown) => post({ t: 'reply', id: m.id, error: wireError(e) }),
  );
});
