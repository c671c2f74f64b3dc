/**
 * The direct decoder: a row group's columns decoded in JavaScript, with Node's native zstd, gzip and
 * brotli (node:zlib) and a snappy decoder of our own, instead of through parquet-wasm. It takes only
 * what it decodes exactly as parquet-wasm would, column by column:
 * - flat columns (REQUIRED or OPTIONAL, not nested), whose Arrow type as parquet-wasm reads it is
 *   Float32, Float64, Int32, Int64, Utf8 or Binary (the client says, from the file's Arrow schema),
 *   stored as the matching physical type with no annotation that changes the values;
 * - PLAIN, dictionary (RLE_DICTIONARY, PLAIN_DICTIONARY) and BYTE_STREAM_SPLIT values; RLE definition
 *   levels; data pages v1 and v2;
 * - uncompressed, SNAPPY, GZIP, BROTLI and ZSTD chunks in the file itself.
 * Anything else (and any chunk it finds it cannot decode) is parquet-wasm's, from the same row on.
 */
import type { FfiColumn } from '../thread-ffi.js';
import { releaseBuffer } from '../../threads/transfer.js';
import { Codec, Encoding, PhysicalType, type ChunkMeta, type FileLayout, type LeafColumn } from './chunk-meta.js';
import { ColumnCursor, DIRECT_FORMATS, type StridedTarget } from './column-cursor.js';

const CODECS = new Set<number>([Codec.UNCOMPRESSED, Codec.SNAPPY, Codec.GZIP, Codec.BROTLI, Codec.ZSTD]);
const ENCODINGS = new Set<number>([Encoding.PLAIN, Encoding.PLAIN_DICTIONARY, Encoding.RLE, Encoding.RLE_DICTIONARY, Encoding.BYTE_STREAM_SPLIT]);
/** Merge two chunks' reads into one when at most this many bytes lie between them. */
const MERGE_GAP = 1 << 20;

/** The physical type each format is stored as, and the integer width an annotation may state. */
const STORED: Record<string, { physical: number; intBits?: number; converted?: number }> = {
  f: { physical: PhysicalType.FLOAT },
  g: { physical: PhysicalType.DOUBLE },
  i: { physical: PhysicalType.INT32, intBits: 32, converted: 17 /* INT_32 */ },
  l: { physical: PhysicalType.INT64, intBits: 64, converted: 18 /* INT_64 */ },
  u: { physical: PhysicalType.BYTE_ARRAY },
  z: { physical: PhysicalType.BYTE_ARRAY },
};

/** The column is stored so that decoding it directly gives what parquet-wasm gives as `format`. */
export function directable(format: string, leaf: LeafColumn, chunk: ChunkMeta): boolean {
  const stored = STORED[format];
  if (!stored || DIRECT_FORMATS[format] === undefined) return false;
  if (chunk.external || chunk.physicalType !== leaf.physicalType || leaf.physicalType !== stored.physical) return false;
  if (!CODECS.has(chunk.codec) || !chunk.encodings.every((e) => ENCODINGS.has(e))) return false;
  if (stored.physical === PhysicalType.BYTE_ARRAY) return true; // Utf8 or Binary: the bytes as stored
  if (leaf.convertedType !== undefined && leaf.convertedType !== stored.converted) return false;
  const lg = leaf.logical;
  return !lg || (lg.kind === 10 && lg.bitWidth === stored.intBits && lg.signed === true);
}

export interface DirectColumn {
  name: string;
  format: string;
  leaf: LeafColumn;
  chunk: ChunkMeta;
}

/**
 * The columns of a row group to decode directly, or undefined if one of them cannot be. Dictionary-
 * encoded numbers included: with the indices read by 32-bit loads and looked up straight into the
 * tensors (direct-pack.ts), they decode as fast as parquet-wasm decodes them where every chunk is
 * dictionary-encoded (parquet-rs's files), and 1.2x faster where a chunk falls back to PLAIN pages
 * (pyarrow's and Spark's, once the dictionary page is full).
 */
export function directColumns(layout: FileLayout, rowGroup: number, columns: readonly string[], formats: Readonly<Record<string, string>>): DirectColumn[] | undefined {
  const rg = layout.rowGroups[rowGroup];
  if (!rg) return undefined;
  const out: DirectColumn[] = [];
  for (const name of columns) {
    const leaf = layout.columns.get(name);
    const format = formats[name];
    const chunk = leaf && rg.chunks[leaf.leaf];
    if (!leaf || !format || !chunk || !directable(format, leaf, chunk)) return undefined;
    if (chunk.numValues !== rg.numRows) return undefined;
    out.push({ name, format, leaf, chunk });
  }
  return out;
}

/** Rows of a tensor written by every column before the next (2048 rows of 16 float32 are 128 KiB). */
const WRITE_BLOCK_ROWS = 2048;

/** Fetches bytes [start, end) of the file. */
export type Fetch = (start: number, end: number) => Promise<Uint8Array>;

/** A row group being decoded directly: `take(n)` gives its next n rows, column by column. */
export class DirectRowGroup {
  private taken = 0;

  private constructor(private readonly cursors: ColumnCursor[], readonly rows: number, private readonly buffers: ArrayBuffer[]) {}

  /** The group's columns, by name, and their formats. */
  get formats(): ReadonlyMap<string, string> {
    return new Map(this.cursors.map((c) => [c.name, c.format]));
  }

  /** Fetches the columns' chunks (neighbouring chunks in one read) and starts at row `skip`. */
  static async open(fetch: Fetch, columns: DirectColumn[], rows: number, skip: number): Promise<DirectRowGroup> {
    const byStart = [...columns].sort((a, b) => a.chunk.start - b.chunk.start);
    const ranges: { start: number; end: number; members: DirectColumn[] }[] = [];
    for (const c of byStart) {
      const last = ranges[ranges.length - 1];
      const end = c.chunk.start + c.chunk.length;
      if (last && c.chunk.start >= last.start && c.chunk.start - last.end <= MERGE_GAP) {
        last.end = Math.max(last.end, end);
        last.members.push(c);
      } else ranges.push({ start: c.chunk.start, end, members: [c] });
    }
    const reads = await Promise.all(ranges.map((r) => fetch(r.start, r.end)));
    const bytes = new Map<DirectColumn, Uint8Array>();
    ranges.forEach((r, i) => {
      for (const c of r.members) bytes.set(c, reads[i].subarray(c.chunk.start - r.start, c.chunk.start - r.start + c.chunk.length));
    });
    const cursors = columns.map((c) => new ColumnCursor(c.name, c.format, bytes.get(c)!, c.chunk, c.leaf.repetition === 1));
    const group = new DirectRowGroup(cursors, rows, reads.map((r) => r.buffer as ArrayBuffer));
    if (skip > 0) {
      for (const cur of cursors) cur.skip(Math.min(skip, rows));
      group.taken = Math.min(skip, rows);
    }
    return group;
  }

  /**
   * Frees the group's memory now (its fetched chunks, and the pages and dictionaries decoded from
   * them), rather than at the thread's next collection: for a group done or given up, whose columns
   * were all copied out (releaseBuffer).
   */
  release(): void {
    for (const b of this.buffers) releaseBuffer(b);
    for (const c of this.cursors) for (const b of c.ownBuffers()) releaseBuffer(b);
  }

  /** Rows not taken yet. */
  get left(): number {
    return this.rows - this.taken;
  }

  /** The row the next take starts at. */
  get position(): number {
    return this.taken;
  }

  /**
   * The next min(n, left) rows: the columns named in `into` written straight into their tensors, the
   * others returned as columns (in the group's order). `written` is false when a column could not be
   * written (not numeric) or one of its rows was null or not finite: the group is then given up
   * (its cursors may stand at different rows), and those rows decoded again by parquet-wasm.
   */
  takeSplit(n: number, into: ReadonlyMap<string, StridedTarget>): { columns: FfiColumn[]; written: boolean } {
    const m = Math.min(n, this.left);
    const columns: FfiColumn[] = [];
    const writers: { cursor: ColumnCursor; to: StridedTarget }[] = [];
    for (const c of this.cursors) {
      const to = into.get(c.name);
      if (to) writers.push({ cursor: c, to });
      else columns.push(c.take(m));
    }
    this.taken += m;
    // Block by block of rows, every column into the block: the block of the tensor stays in cache
    // while its columns are written (column by column over the whole batch, each store would touch
    // another cache line: 1.3x slower).
    for (let r = 0; r < m; r += WRITE_BLOCK_ROWS) {
      const rows = Math.min(WRITE_BLOCK_ROWS, m - r);
      for (const { cursor, to } of writers) {
        if (!cursor.takeInto(rows, { dst: to.dst, at: to.at + r * to.stride, stride: to.stride })) return { columns, written: false };
      }
    }
    return { columns, written: true };
  }

  /** The next min(n, left) rows of every column. */
  take(n: number): FfiColumn[] {
    const m = Math.min(n, this.left);
    const cols = this.cursors.map((c) => c.take(m));
    this.taken += m;
    return cols;
  }
}
