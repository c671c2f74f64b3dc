/**
 * Inside a decoder thread: a decoded record batch read where parquet-wasm left it, in its wasm memory,
 * through the Arrow C data interface (https://arrow.apache.org/docs/format/CDataInterface.html), with
 * no copy and no Arrow JS. Only what the fast packer needs is read: each column's format, length,
 * offset, null count and buffer addresses. The structs' layout is wasm32's: 64-bit integers are 8-byte
 * aligned, pointers 4 bytes.
 *
 * The views are valid until the batch's FFI export is freed or wasm memory grows (which detaches the
 * buffer they view): take them, use them, and drop them before calling into parquet-wasm again.
 */

/** One column of an exported record batch. */
export interface FfiColumn {
  name: string;
  /** The C data interface format string: 'f' float32, 'l' int64, 'u' utf8, '+w:4' fixed-size list... */
  format: string;
  length: number;
  offset: number;
  /** -1 when the exporter did not count. */
  nullCount: number;
  /** Buffer addresses in wasm memory (0: absent, e.g. no validity bitmap). */
  buffers: number[];
  children: FfiColumn[];
  /** The column is dictionary-encoded (its values are indices into another array). */
  dictionary: boolean;
  /** The memory the buffer addresses point into, when not wasm memory (the direct decoder's columns
   * each come in a buffer of their own: direct/column-cursor.ts). */
  mem?: ArrayBuffer;
}

// struct ArrowSchema (wasm32): format@0 name@4 metadata@8 flags@16 n_children@24 children@32 dictionary@36
// struct ArrowArray (wasm32): length@0 null_count@8 offset@16 n_buffers@24 n_children@32 buffers@40 children@44 dictionary@48
const MAX_CHILDREN = 1 << 16;

function cString(mem: ArrayBuffer, addr: number): string {
  if (addr === 0) return '';
  const bytes = new Uint8Array(mem);
  let end = addr;
  while (bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(addr, end));
}

function int64(view: DataView, at: number): number {
  const v = view.getBigInt64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -1n) throw new Error(`an Arrow C data interface field holds ${v}`);
  return Number(v);
}

function column(mem: ArrayBuffer, view: DataView, array: number, schema: number): FfiColumn {
  const nBuffers = int64(view, array + 24);
  const nChildren = int64(view, array + 32);
  if (nChildren !== int64(view, schema + 24) || nChildren > MAX_CHILDREN || nBuffers > 3) {
    throw new Error('the Arrow C data interface export does not hold together (children or buffers)');
  }
  const buffersAt = view.getUint32(array + 40, true);
  const buffers = Array.from({ length: nBuffers }, (_, i) => view.getUint32(buffersAt + 4 * i, true));
  const arrayChildren = view.getUint32(array + 44, true);
  const schemaChildren = view.getUint32(schema + 32, true);
  const children = Array.from({ length: nChildren }, (_, i) =>
    column(mem, view, view.getUint32(arrayChildren + 4 * i, true), view.getUint32(schemaChildren + 4 * i, true)));
  return {
    name: cString(mem, view.getUint32(schema + 4, true)),
    format: cString(mem, view.getUint32(schema, true)),
    length: int64(view, array),
    nullCount: int64(view, array + 8),
    offset: int64(view, array + 16),
    buffers,
    children,
    dictionary: view.getUint32(array + 48, true) !== 0 || view.getUint32(schema + 36, true) !== 0,
  };
}

/** The columns of a record batch exported as a struct array (parquet-wasm's RecordBatch.toFFI()). */
export function ffiColumns(mem: ArrayBuffer, arrayAddr: number, schemaAddr: number): FfiColumn[] {
  const view = new DataView(mem);
  const top = column(mem, view, arrayAddr, schemaAddr);
  if (top.format !== '+s') throw new Error(`a record batch exported as format '${top.format}', not a struct ('+s')`);
  return top.children;
}

/** Bytes per value of fixed-width formats (booleans, bit-packed, are not here). */
export function byteWidth(format: string): number | undefined {
  switch (format) {
    case 'c': case 'C': return 1;
    case 's': case 'S': case 'e': return 2;
    case 'i': case 'I': case 'f': case 'tdD': case 'tts': case 'ttm': return 4;
    case 'l': case 'L': case 'g': case 'tdm': case 'ttu': case 'ttn': return 8;
    default:
      if (/^ts[smun]:/.test(format) || /^tD[smun]$/.test(format)) return 8;
      if (/^d:\d+,-?\d+$/.test(format) || /^d:\d+,-?\d+,128$/.test(format)) return 16;
      if (/^d:\d+,-?\d+,256$/.test(format)) return 32;
      if (/^w:\d+$/.test(format)) return Number(format.slice(2));
      return undefined;
  }
}
