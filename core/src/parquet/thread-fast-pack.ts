/**
 * Inside a decoder thread: the fast path of packing, for the batches nearly every job sends (the
 * tensors/pack-dense.ts case: numeric columns, or one fixed-size list column, into float inputs, no
 * null, no NaN or infinity). It reads the decoded batch where parquet-wasm left it, in wasm memory
 * (thread-ffi.ts), and writes the tensors in one pass (the same copy kernels as pack-dense.ts). No
 * Arrow IPC is made and no Arrow JS is loaded: the kept columns (id, passthrough) cross as their
 * buffers, copied out of wasm memory.
 *
 * It gives up (null) on anything else, before or during the copy: the general path (thread-pack.ts)
 * then packs the same batch by every rule, and reports bad rows and mapping errors.
 */
import { copyColumns, copyFlat, type Plain } from '../tensors/dense-copy.js';
import type { PackedTensor } from '../tensors/types.js';
import { byteWidth, type FfiColumn } from './thread-ffi.js';
import type { PackSpec, WireColumn, WirePacked } from './thread-protocol.js';

type PlainCtor = { new (buffer: ArrayBuffer, byteOffset: number, length: number): Plain; readonly BYTES_PER_ELEMENT: number };

/** The numeric formats whose values are JS numbers as they are (pack-dense.ts: plainValues). */
const PLAIN: Record<string, PlainCtor> = {
  f: Float32Array, g: Float64Array, i: Int32Array, s: Int16Array, c: Int8Array, I: Uint32Array, S: Uint16Array, C: Uint8Array,
};

/** Values [start, start + count) of a column with no null, counted from its offset; null if not plain. */
function plainValues(mem: ArrayBuffer, c: FfiColumn, start: number, count: number): Plain | null {
  const Ctor = PLAIN[c.format];
  if (!Ctor || c.dictionary || c.nullCount !== 0 || c.length < start + count || c.buffers.length !== 2 || !c.buffers[1]) return null;
  const at = c.buffers[1] + (c.offset + start) * Ctor.BYTES_PER_ELEMENT;
  if (at % Ctor.BYTES_PER_ELEMENT !== 0) return null;
  return new Ctor(c.mem ?? mem, at, count);
}

/** A copy of bytes [addr, addr + n) of wasm memory, in a buffer of its own (transferable). */
function copyBytes(mem: ArrayBuffer, addr: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (n > 0) out.set(new Uint8Array(mem, addr, n));
  return out;
}

/** A kept column's buffers, or null when its layout is not one this path copies (the general path does). */
export function keptColumn(mem: ArrayBuffer, c: FfiColumn): WireColumn | null {
  if (c.dictionary || c.children.length > 0 || c.nullCount < 0) return null;
  const end = c.offset + c.length; // values the buffers hold, counted from 0
  const [validityAt, first, second] = c.buffers;
  const validity = c.nullCount > 0 && validityAt ? copyBytes(mem, validityAt, Math.ceil(end / 8)) : undefined;
  if (c.nullCount > 0 && !validity) return null;
  const base = { name: c.name, format: c.format, length: c.length, offset: c.offset, nullCount: c.nullCount, ...(validity ? { validity } : {}) };
  if (c.format === 'b') {
    if (c.buffers.length !== 2 || !first) return null;
    return { ...base, values: copyBytes(mem, first, Math.ceil(end / 8)) };
  }
  const variable = { u: 4, z: 4, U: 8, Z: 8 }[c.format];
  if (variable !== undefined) {
    if (c.buffers.length !== 3 || !first || (!second && c.length > 0)) return null;
    const offsets = copyBytes(mem, first, (end + 1) * variable);
    const view = new DataView(offsets.buffer);
    const bytes = variable === 4 ? view.getInt32(end * 4, true) : Number(view.getBigInt64(end * 8, true));
    return { ...base, offsets, values: copyBytes(mem, second, bytes) };
  }
  const width = byteWidth(c.format);
  if (width === undefined || c.buffers.length !== 2 || !first) return null;
  return { ...base, values: copyBytes(mem, first, end * width) };
}

/** The batch packed for `spec`, or null when the fast path does not apply. */
export function fastPack(mem: ArrayBuffer, columns: FfiColumn[], numRows: number, spec: PackSpec): { packed: WirePacked; transfer: ArrayBuffer[] } | null {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const id = byName.get(spec.idColumn);
  if (!id || id.nullCount !== 0) return null; // a null id makes its row an error row: the general path
  const tensors: PackedTensor[] = [];
  for (const ip of spec.plan.inputs) {
    if (ip.type !== 'float32' && ip.type !== 'float64') return null;
    const make = (len: number) => (ip.type === 'float32' ? new Float32Array(len) : new Float64Array(len));
    if (ip.source.kind === 'columns') {
      const width = ip.source.columns.length;
      if (ip.width !== width) return null;
      const cols: Plain[] = [];
      for (const name of ip.source.columns) {
        const c = byName.get(name);
        const values = c && plainValues(mem, c, 0, numRows);
        if (!values) return null;
        cols.push(values);
      }
      const dst = make(numRows * width);
      if (!copyColumns(cols, numRows, dst, width)) return null;
      tensors.push({ name: ip.name, type: ip.type, dims: [numRows, ...(ip.rowDims ?? [width])], data: dst });
      continue;
    }
    // One fixed-size list column: its child's values are already row-major.
    const c = byName.get(ip.source.column);
    const size = c && /^\+w:(\d+)$/.exec(c.format);
    if (!c || !size || c.dictionary || c.nullCount !== 0 || c.children.length !== 1) return null;
    const width = Number(size[1]);
    if (ip.width !== width || width === 0) return null;
    const values = plainValues(mem, c.children[0], c.offset * width, numRows * width);
    if (!values) return null;
    const dst = make(numRows * width);
    if (!copyFlat(values, numRows * width, dst)) return null;
    tensors.push({ name: ip.name, type: ip.type, dims: [numRows, ...(ip.rowDims ?? [width])], data: dst });
  }
  const kept: WireColumn[] = [];
  for (const name of new Set(spec.keep)) {
    const c = byName.get(name);
    const k = c && keptColumn(c.mem ?? mem, c);
    if (!k) return null;
    kept.push(k);
  }
  return packedReply(numRows, tensors, kept);
}

/** 0, 1, ... n - 1. A function of its own: the loop inside packedReply made V8 compile packedReply
 * on the stack before its later lines had run, and deoptimize it there, in every new thread. */
function rowNumbers(n: number): Int32Array<ArrayBuffer> {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** A batch whose every row is good (no null, nothing out of range), as the client takes it. */
export function packedReply(numRows: number, tensors: PackedTensor[], kept: WireColumn[]): { packed: WirePacked; transfer: ArrayBuffer[] } {
  const goodRows = rowNumbers(numRows);
  const bad = { rows: new Int32Array(0), reason: new Uint16Array(0), reasons: [], counts: new Int32Array(0) };
  const transfer: ArrayBuffer[] = [goodRows.buffer, ...tensors.map((t) => t.data.buffer as ArrayBuffer)];
  for (const k of kept) for (const b of [k.validity, k.offsets, k.values]) if (b) transfer.push(b.buffer as ArrayBuffer);
  const packed: WirePacked = {
    numRows, keep: { columns: kept }, goodRows, bad,
    tensors: tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims], data: t.data })),
  };
  return { packed, transfer };
}
