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
  pf: WasmFile;
  /** Set by a `pack` request: batches of this file's streams come packed. */
  pack?: PackSpec;
}

interface StreamEntry {
  file: FileEntry;
  columns: string[];
  reader: ReadableStreamDefaultReader<WasmBatch>;
  /** The batch being decoded ahead of the caller. */
  pending: Promise<ReadableStreamReadResult<WasmBatch>>;
  /** Rows still to drop from the start of the row group. */
  skip: number;
}

const files = new Map<number, FileEntry>();
const streams = new Map<number, StreamEntry>();
const parts = new Map<number, Part>();
const reads = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }>();
let nextReadId = 1;
let packMs = 0;
let fastBatches = 0;

function fetchRange(file: number, start: number, end: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const rid = nextReadId++;
    reads.set(rid, { resolve, reject });
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
  return { busyMs: performance.eventLoopUtilization().active, packMs, fastBatches };
}

/** Starts decoding the stream's next batch (a rejection is kept for whoever awaits it). */
function readAhead(st: StreamEntry): void {
  st.pending = st.reader.read();
  awaitedLater(st.pending);
}

/** The stream's next batch with rows, after dropping what `skip` says; undefined at its end. */
async function nextBatch(st: StreamEntry): Promise<WasmBatch | undefined> {
  for (;;) {
    const r = await st.pending;
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
  files.set(m.file, { pf });
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

async function next(m: Request<'next'>): Promise<Answer<'next'>> {
  const st = streams.get(m.stream);
  if (!st) throw new Error(`stream ${m.stream} is not open`);
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
      const s = await file.pf.stream({ rowGroups: [m.rowGroup], columns: m.columns, batchSize: m.batchSize });
      // Start decoding the first batch at once: this fetches the row group's column chunks (read-ahead).
      const st = { file, columns: m.columns, reader: s.getReader() as ReadableStreamDefaultReader<WasmBatch>, skip: m.skip } as StreamEntry;
      readAhead(st);
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
