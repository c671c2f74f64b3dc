/**
 * The messages between a Parquet thread (parquet-thread-main.ts) and its client (parquet-thread.ts).
 *
 * The client posts requests (`op`), each with an id, and the thread answers each with one `reply`
 * carrying the same id. The thread asks the client for bytes of the files it reads with `read`
 * messages, answered by `data`. Everything here is structured-clonable; byte buffers and packed
 * tensors travel in the transfer list (moved, not copied).
 */
import type { ElementType } from '../tensors/type-rules.js';
import type { ScoringPlan } from '../tensors/scoring-plan.js';

/** How a streamed part (openPart) is written. */
export interface PartOptions {
  compression: WriteCompression;
  keyValueMetadata: Record<string, string>;
  maxRowGroupRows?: number;
  createdBy?: string;
  /** Columns to dictionary-encode (the rest are not). */
  dictionaryColumns?: string[];
  /** Streamed parts: how long closing may take before the part fails (default 120 s). */
  closeTimeoutMs?: number;
  /** Top-level integer or timestamp columns to write DELTA_BINARY_PACKED. */
  deltaColumns?: string[];
}

export type WriteCompression = 'zstd' | 'snappy' | 'gzip' | 'lz4' | 'none';

/**
 * How a decoder thread packs the batches of one file into the model's input layout (tensors/pack.ts),
 * instead of handing them over as Arrow IPC.
 */
export interface PackSpec {
  /** The scoring plan for this file's schema (tensors/scoring-plan.ts), computed by the client. */
  plan: ScoringPlan;
  /** Names rows in messages; a row whose id is null cannot be scored. */
  idColumn: string;
  /** The columns the output keeps (id, then passthrough): moved across as a small Arrow IPC stream. */
  keep: string[];
  scoreInfinity: boolean;
}

/** The client's requests, by op. */
export interface Requests {
  /** Opens a file of `size` bytes (its footer only; bytes come through `read`). */
  open: { file: number; size: number; footer?: Uint8Array };
  /** Starts decoding one row group (its first batch at once: this fetches its column chunks). The
   * first `skip` rows are dropped (a restart after a crash resumes after the rows already taken). */
  stream: {
    id: number; file: number; rowGroup: number; columns: string[]; batchSize: number; skip: number;
    /** For streams whose batches will be asked for packed: the Arrow C data interface format of each
     * column whose Arrow type (as parquet-wasm reads the file) the direct decoder writes ('f' Float32,
     * 'g' Float64, 'i' Int32, 'l' Int64, 'u' Utf8, 'z' Binary). With every column of the row group
     * named, it is decoded without parquet-wasm (direct/direct-row-group.ts). */
    formats?: Record<string, string>;
  };
  /** From now on, batches of streams of this file come packed. */
  pack: { file: number; spec: PackSpec };
  /** The next batch of a stream (and starts decoding the one after). */
  next: { stream: number };
  close: { file: number };
  /** Answered once parquet-wasm is instantiated. */
  ping: Record<string, never>;
  'part-open': PartOptions & { part: number };
  'part-append': { part: number; ipc: Uint8Array };
  /** The part's bytes encoded since the last take (finished row groups), moved to the client. */
  'part-take': { part: number };
  /** The rest of the part (the bytes not taken, the footer last), once every row is in it. */
  'part-close': { part: number };
  'part-abort': { part: number };
}

export type Op = keyof Requests;

/** A request as posted: its op, its fields and the call id. */
export type Request<K extends Op = Op> = { [P in K]: { op: P; id: number } & Requests[P] }[K];

/** Seconds the thread's event loop was busy so far (decoding, moving out, packing), and of that how
 * much was packing: sent with every batch, so the client can report decode and pack time measured
 * where they happen. */
export interface ThreadTimes {
  busyMs: number;
  packMs: number;
  /** Batches packed on the fast path, straight from wasm memory or the direct decoder's columns (thread-fast-pack.ts). */
  fastBatches: number;
  /** Of those, batches decoded without parquet-wasm (direct/). */
  directBatches: number;
}

/** Rows that cannot be scored, as tensors/pack.ts BadRows. */
export interface WireBadRows {
  rows: Int32Array;
  reason: Uint16Array;
  reasons: string[];
  counts: Int32Array;
}

export interface WireTensor {
  name: string;
  type: ElementType;
  dims: number[];
  data: ArrayBufferView;
}

/**
 * A kept column's buffers as the Arrow C data interface lays them out (copied out of wasm memory):
 * the main thread rebuilds the column with the type the file's schema gives it.
 */
export interface WireColumn {
  name: string;
  /** Its C data interface format, checked against the schema's type by the main thread. */
  format: string;
  length: number;
  offset: number;
  nullCount: number;
  validity?: Uint8Array;
  /** Variable-width columns: the value offsets (32- or 64-bit, as the format says). */
  offsets?: Uint8Array;
  /** Fixed-width values, booleans' bits, or variable-width columns' bytes. */
  values: Uint8Array;
}

/** A packed batch as it crosses: everything the main thread needs to score and write it. */
export interface WirePacked {
  numRows: number;
  /** The keep columns of every row of the batch: an Arrow IPC stream (the general path), or their
   * buffers (the fast path, which never loads Arrow JS in the thread). */
  keep: { ipc: Uint8Array } | { columns: WireColumn[] };
  goodRows: Int32Array;
  bad: WireBadRows;
  tensors: WireTensor[];
}

export type NextReply =
  | { done: true; times: ThreadTimes }
  | { done: false; rows: number; ipc: Uint8Array; times: ThreadTimes }
  | { done: false; rows: number; packed: WirePacked; times: ThreadTimes };

export interface OpenReply {
  rowGroupRows: number[];
  numRows: number;
  createdBy: string | null | undefined;
  keyValueMetadata: Record<string, string>;
  /** The file's Arrow schema as an IPC stream (zero rows). */
  schema: Uint8Array;
}

/** The thread's answers, by op. */
export interface Replies {
  open: OpenReply;
  stream: true;
  pack: true;
  next: NextReply;
  close: true;
  ping: true;
  'part-open': true;
  'part-append': true;
  'part-take': Uint8Array[];
  'part-close': Uint8Array;
  'part-abort': true;
}

/** Why a request failed, as the thread saw it. */
export interface WireError {
  message: string;
  name: string;
  /** A wasm panic: the instance is unusable, the thread must go. */
  fatal: boolean;
  /** It failed while packing, not decoding (the bytes were read and decoded fine). */
  packing: boolean;
  /** The data do not fit the model's inputs (a BadInputError in the packer). */
  badInput: boolean;
}

/** Thread -> client. */
export type ThreadMessage =
  | { t: 'reply'; id: number; result?: Replies[Op]; error?: WireError }
  | { t: 'read'; rid: number; file: number; start: number; end: number };

/** Client -> thread: the answer to a `read`. */
export interface DataMessage {
  t: 'data';
  rid: number;
  bytes?: Uint8Array;
  error?: string;
}

/** What the client passes the thread at start. */
export interface ThreadData {
  /** parquet-wasm's ESM build and its compiled module (shared machine code across threads). */
  esmUrl: string;
  module: WebAssembly.Module;
  /** Tests only: passed on to a test's own thread entry (ParquetThreadOptions.entry). */
  test?: unknown;
}
