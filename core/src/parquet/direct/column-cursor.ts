/**
 * One column chunk, decoded page by page as its rows are asked for: `take(n)` returns the next n rows
 * in Arrow's layout (validity bitmap, values; for byte arrays, int32 offsets and data), in one buffer
 * of their own, as the decoder thread's fast packer reads them (thread-ffi.ts FfiColumn). Only the
 * page being read is held decoded, so memory follows the batch, not the row group.
 */
import { isUtf8 } from 'node:buffer';
import { type TStruct, type TValue, fieldOf, readStruct } from '../thrift.js';
import type { FfiColumn } from '../thread-ffi.js';
import { Codec, Encoding, type ChunkMeta } from './chunk-meta.js';
import { DirectDecodeError } from './direct-error.js';
import { definitionLevels as levels } from './hybrid.js';
import { decompress } from './page-codec.js';
import { type ByteArrays, type DenseValues, type Dictionary, type Indexed, decodeValues, dictionaryOf } from './page-values.js';

/** Arrow C data interface formats this decoder writes, with their byte widths (0: variable). */
export const DIRECT_FORMATS: Readonly<Record<string, number>> = { f: 4, g: 8, i: 4, l: 8, u: 0, z: 0 };

type Numbers = Float32Array | Float64Array | Int32Array;
type NumbersCtor = { new (buffer: ArrayBuffer, byteOffset: number, length: number): Numbers; readonly BYTES_PER_ELEMENT: number };
/** The formats whose values are JS numbers as they are, so a tensor takes them with a plain store. */
const NUMBERS: Readonly<Record<string, NumbersCtor>> = { f: Float32Array, g: Float64Array, i: Int32Array };

/** Where a column's rows go in a row-major tensor: row r of the batch at dst[at + r * stride]. */
export interface StridedTarget {
  dst: Float32Array | Float64Array;
  at: number;
  stride: number;
}

interface Page {
  rows: number;
  taken: number;
  /** 1 where the row has a value; null when every row of the page has one. */
  defs: Uint8Array | null;
  /** Non-null values taken so far. */
  valuesTaken: number;
  values: DenseValues;
}

const num = (v: TValue | undefined): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : -1);
const sub = (s: TStruct, id: number): TStruct => {
  const v = fieldOf(s, id)?.value;
  if (!v || typeof v !== 'object' || !('kind' in v) || v.kind !== 'struct') throw new DirectDecodeError(`a page header lacks field ${id}`);
  return v;
};

const align8 = (n: number) => (n + 7) & ~7;

/** Sets bits [from, from + count) of a validity bitmap. */
function setBits(bits: Uint8Array, from: number, count: number): void {
  let i = from;
  const end = from + count;
  while (i < end && (i & 7) !== 0) bits[i >>> 3] |= 1 << (i++ & 7);
  const fullEnd = end & ~7;
  if (i < fullEnd) {
    bits.fill(0xff, i >>> 3, fullEnd >>> 3);
    i = fullEnd;
  }
  while (i < end) bits[i >>> 3] |= 1 << (i++ & 7);
}

export class ColumnCursor {
  private pos = 0;
  private dict: Dictionary | undefined;
  /** The dictionary's values as numbers (for takeInto). */
  private dictNumbers: Numbers | undefined;
  private scratch: Uint8Array | undefined;
  private readonly owned: ArrayBuffer[] = [];
  private page: Page | undefined;
  private readonly width: number;

  constructor(
    readonly name: string,
    readonly format: string,
    private readonly chunk: Uint8Array,
    private readonly meta: ChunkMeta,
    private readonly optional: boolean,
  ) {
    const width = DIRECT_FORMATS[format];
    if (width === undefined) throw new DirectDecodeError(`format ${format} is not decoded directly`);
    this.width = width;
  }

  /**
   * The buffer data pages are decompressed into (snappy: the other codecs are node:zlib's, which
   * allocates its own), reused from page to page: a page's values are copied out before the next page
   * is read, and allocating a buffer a page made V8 collect the thread more (1.2x its CPU). The
   * dictionary page, which lives as long as the chunk, gets one of its own.
   */
  private scratchFor(size: number): Uint8Array | undefined {
    if (this.meta.codec !== Codec.SNAPPY) return undefined;
    if (!this.scratch || this.scratch.length < size) {
      this.scratch = new Uint8Array(Math.max(size, 1 << 16));
      this.owned.push(this.scratch.buffer as ArrayBuffer);
    }
    return this.scratch;
  }

  /** The buffers this cursor allocated and decoded into (the page buffer, the dictionary, its numbers),
   * to free once its rows are all copied out. (Not node:zlib's outputs: a small one may share Node's
   * buffer pool.) */
  ownBuffers(): readonly ArrayBuffer[] {
    return this.owned;
  }

  /** The next page with rows (dictionary pages are read on the way). */
  private nextPage(): Page {
    for (;;) {
      if (this.pos >= this.chunk.length) throw new DirectDecodeError(`column ${this.name}: its chunk ends before its rows do`);
      const { struct: h, end } = readStruct(this.chunk.subarray(this.pos));
      this.pos += end;
      const type = num(fieldOf(h, 1)?.value);
      const size = num(fieldOf(h, 2)?.value);
      const compressed = num(fieldOf(h, 3)?.value);
      if (size < 0 || compressed < 0 || this.pos + compressed > this.chunk.length) {
        throw new DirectDecodeError(`column ${this.name}: a page runs past its chunk`);
      }
      const raw = this.chunk.subarray(this.pos, this.pos + compressed);
      this.pos += compressed;
      if (type === 2) {
        const d = sub(h, 7);
        const encoding = num(fieldOf(d, 2)?.value);
        if (encoding !== Encoding.PLAIN && encoding !== Encoding.PLAIN_DICTIONARY) throw new DirectDecodeError(`dictionary encoding ${encoding}`);
        const body = decompress(this.meta.codec, raw, size);
        if (this.meta.codec === Codec.SNAPPY) this.owned.push(body.buffer as ArrayBuffer);
        this.dict = dictionaryOf(body, num(fieldOf(d, 1)?.value), this.width);
        if ('fixed' in this.dict && this.dict.fixed.buffer !== body.buffer) this.owned.push(this.dict.fixed.buffer as ArrayBuffer);
        this.dictNumbers = undefined;
        continue;
      }
      if (type === 0) return this.pageV1(sub(h, 5), decompress(this.meta.codec, raw, size, this.scratchFor(size)));
      if (type === 3) return this.pageV2(sub(h, 8), raw, size);
      if (type !== 1) throw new DirectDecodeError(`column ${this.name}: page type ${type}`);
    }
  }

  private pageV1(d: TStruct, body: Uint8Array): Page {
    const rows = num(fieldOf(d, 1)?.value);
    const encoding = num(fieldOf(d, 2)?.value);
    if (rows < 0) throw new DirectDecodeError('a data page without a value count');
    let at = 0;
    let defs: Uint8Array | null = null;
    let present = rows;
    if (this.optional) {
      if (num(fieldOf(d, 3)?.value) !== Encoding.RLE) throw new DirectDecodeError('definition levels not RLE-encoded');
      if (body.length < 4) throw new DirectDecodeError('a data page too short for its levels');
      const len = (body[0] | (body[1] << 8) | (body[2] << 16) | (body[3] << 24)) >>> 0;
      if (4 + len > body.length) throw new DirectDecodeError('definition levels run past their page');
      ({ defs, present } = levels(body, 4, 4 + len, rows));
      at = 4 + len;
    }
    return { rows, taken: 0, defs, valuesTaken: 0, values: decodeValues(body, at, body.length, encoding, present, this.width, this.dict, !defs) };
  }

  private pageV2(d: TStruct, raw: Uint8Array, size: number): Page {
    const rows = num(fieldOf(d, 1)?.value);
    const nulls = num(fieldOf(d, 2)?.value);
    const encoding = num(fieldOf(d, 4)?.value);
    const defLen = num(fieldOf(d, 5)?.value);
    const repLen = num(fieldOf(d, 6)?.value);
    const compressed = fieldOf(d, 7)?.value !== false;
    if (rows < 0 || nulls < 0 || defLen < 0 || repLen !== 0 || defLen > raw.length) throw new DirectDecodeError('a v2 data page header this decoder does not take');
    let defs: Uint8Array | null = null;
    let present = rows;
    if (this.optional && nulls > 0) {
      ({ defs, present } = levels(raw, 0, defLen, rows));
      if (present !== rows - nulls) throw new DirectDecodeError('a v2 page\'s levels disagree with its null count');
    } else if (nulls > 0) throw new DirectDecodeError('nulls in a required column');
    const valuesRaw = raw.subarray(defLen);
    const body = compressed ? decompress(this.meta.codec, valuesRaw, size - defLen, this.scratchFor(size - defLen)) : valuesRaw;
    return { rows, taken: 0, defs, valuesTaken: 0, values: decodeValues(body, 0, body.length, encoding, present, this.width, this.dict, !defs) };
  }

  /** Drops the next n rows. */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const p = this.current();
      const m = Math.min(left, p.rows - p.taken);
      if (p.defs) for (let k = 0; k < m; k++) p.valuesTaken += p.defs[p.taken + k];
      else {
        if ('cursor' in p.values) p.values.cursor.skip(m);
        p.valuesTaken += m;
      }
      p.taken += m;
      left -= m;
    }
  }

  private current(): Page {
    let p = this.page;
    while (!p || p.taken >= p.rows) p = this.page = this.nextPage();
    return p;
  }

  /** The next n rows as a column in a buffer of its own (addresses are offsets into `mem`). */
  take(n: number): FfiColumn {
    return this.width > 0 ? this.takeFixed(n) : this.takeStrings(n);
  }

  private takeFixed(n: number): FfiColumn {
    const w = this.width;
    const validityAt = 8;
    const valuesAt = align8(validityAt + (this.optional ? Math.ceil(n / 8) : 0));
    const mem = new ArrayBuffer(valuesAt + n * w);
    const bits = new Uint8Array(mem, validityAt, this.optional ? Math.ceil(n / 8) : 0);
    const out = new Uint8Array(mem, valuesAt, n * w);
    let filled = 0;
    let nulls = 0;
    while (filled < n) {
      const p = this.current();
      const m = Math.min(n - filled, p.rows - p.taken);
      if ('cursor' in p.values) { // no nulls in this page
        p.values.cursor.gather(m, new Int32Array(mem, valuesAt, n * (w >>> 2)), filled);
        if (this.optional) setBits(bits, filled, m);
        p.valuesTaken += m;
        p.taken += m;
        filled += m;
        continue;
      }
      if ('indexed' in p.values) {
        nulls += gather(p, p.values.indexed, m, w >>> 2, new Int32Array(mem, valuesAt, n * (w >>> 2)), bits, filled);
        p.taken += m;
        filled += m;
        continue;
      }
      const src = (p.values as { fixed: Uint8Array }).fixed;
      if (!p.defs) {
        out.set(src.subarray(p.valuesTaken * w, (p.valuesTaken + m) * w), filled * w);
        if (this.optional) setBits(bits, filled, m);
        p.valuesTaken += m;
      } else {
        for (let k = 0; k < m; k++) {
          if (p.defs[p.taken + k]) {
            const from = p.valuesTaken++ * w;
            for (let b = 0; b < w; b++) out[(filled + k) * w + b] = src[from + b];
            bits[(filled + k) >>> 3] |= 1 << ((filled + k) & 7);
          } else nulls++;
        }
      }
      p.taken += m;
      filled += m;
    }
    return this.column(mem, n, nulls, [nulls > 0 ? validityAt : 0, valuesAt]);
  }

  /**
   * The next n rows of a numeric column written straight into a tensor (`to`), converted by the store
   * (float32 rounding to nearest, ties to even, as the packer's copy kernels do). False when the
   * column is not numeric or one of the rows is null or not finite; the cursor may then have stopped
   * anywhere in the n rows, and its row group is given up (the general path decodes them again and
   * reports them).
   */
  takeInto(n: number, to: StridedTarget): boolean {
    const Ctor = NUMBERS[this.format];
    if (!Ctor) return false;
    const { dst, stride } = to;
    let d = to.at;
    let filled = 0;
    let check = 0;
    while (filled < n) {
      const p = this.current();
      const m = Math.min(n - filled, p.rows - p.taken);
      if (p.defs) {
        for (let k = 0; k < m; k++) if (!p.defs[p.taken + k]) return false;
      }
      const v = p.values;
      if ('cursor' in v || 'indexed' in v) {
        const values = this.numbersOfDictionary(Ctor);
        if ('cursor' in v) check += v.cursor.gatherStrided(m, values, dst, d, stride);
        else {
          const { idx, count } = v.indexed;
          for (let k = 0, o = d; k < m; k++, o += stride) {
            const at = idx[p.valuesTaken + k];
            if (at >>> 0 >= count) throw new DirectDecodeError(`dictionary index ${at} is past the dictionary's ${count} values`);
            const x = values[at];
            dst[o] = x;
            check += x - x;
          }
        }
      } else if ('fixed' in v) {
        const bytes = v.fixed;
        const from = bytes.byteOffset + p.valuesTaken * this.width;
        if (from % this.width === 0) {
          const src = new Ctor(bytes.buffer as ArrayBuffer, from, m);
          for (let k = 0, o = d; k < m; k++, o += stride) {
            const x = src[k];
            dst[o] = x;
            check += x - x;
          }
        } else check += unalignedInto(new DataView(bytes.buffer, from, m * this.width), this.format, m, dst, d, stride);
      } else return false;
      p.valuesTaken += m;
      p.taken += m;
      filled += m;
      d += m * stride;
    }
    return check === 0;
  }

  /** The dictionary page's values as `Ctor` numbers (aligned). */
  private numbersOfDictionary(Ctor: NumbersCtor): Numbers {
    if (this.dictNumbers) return this.dictNumbers;
    const dict = this.dict;
    if (!dict || !('fixed' in dict)) throw new DirectDecodeError(`column ${this.name}: a dictionary-encoded page comes without a dictionary page`);
    const w = Ctor.BYTES_PER_ELEMENT;
    let bytes = dict.fixed;
    if (bytes.byteOffset % w !== 0) {
      bytes = new Uint8Array(bytes); // a copy (a Buffer's slice() would be a view of the same memory)
      this.owned.push(bytes.buffer as ArrayBuffer);
    }
    return (this.dictNumbers = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, dict.count));
  }

  private takeStrings(n: number): FfiColumn {
    const offsets = new Int32Array(n + 1);
    const bits = new Uint8Array(Math.ceil(n / 8));
    let data = new Uint8Array(Math.max(64, n * 16));
    let size = 0;
    let filled = 0;
    let nulls = 0;
    while (filled < n) {
      const p = this.current();
      const m = Math.min(n - filled, p.rows - p.taken);
      const s = (p.values as { strings: ByteArrays }).strings;
      for (let k = 0; k < m; k++) {
        const row = filled + k;
        if (!p.defs || p.defs[p.taken + k]) {
          const v = p.valuesTaken++;
          const start = s.starts[v];
          const len = s.lens[v];
          if (size + len > data.length) {
            const grown = new Uint8Array(Math.max(data.length * 2, size + len));
            grown.set(data.subarray(0, size));
            data = grown;
          }
          if (len < 32) for (let b = 0; b < len; b++) data[size + b] = s.data[start + b];
          else data.set(s.data.subarray(start, start + len), size);
          size += len;
          bits[row >>> 3] |= 1 << (row & 7);
        } else nulls++;
        if (size > 0x7fffffff) throw new DirectDecodeError(`column ${this.name}: a batch holds over 2 GiB of bytes`);
        offsets[row + 1] = size;
      }
      p.taken += m;
      filled += m;
    }
    if (this.format === 'u' && !isUtf8(data.subarray(0, size))) throw new DirectDecodeError(`column ${this.name}: a string is not valid UTF-8`);
    const validityAt = 8;
    const offsetsAt = align8(validityAt + bits.length);
    const dataAt = align8(offsetsAt + offsets.byteLength);
    const mem = new ArrayBuffer(dataAt + size);
    new Uint8Array(mem, validityAt, bits.length).set(bits);
    new Uint8Array(mem, offsetsAt, offsets.byteLength).set(new Uint8Array(offsets.buffer));
    new Uint8Array(mem, dataAt, size).set(data.subarray(0, size));
    return this.column(mem, n, nulls, [nulls > 0 ? validityAt : 0, offsetsAt, dataAt]);
  }

  private column(mem: ArrayBuffer, n: number, nulls: number, buffers: number[]): FfiColumn {
    return { name: this.name, format: this.format, length: n, offset: 0, nullCount: nulls, buffers, children: [], dictionary: false, mem };
  }
}

/**
 * Values not aligned in their page (after the levels of a v1 page), read with little-endian loads into
 * dst[d], dst[d + stride], ...; returns their finiteness sum (0 when every one is finite).
 */
function unalignedInto(view: DataView, format: string, m: number, dst: Float32Array | Float64Array, d: number, stride: number): number {
  let check = 0;
  if (format === 'f') {
    for (let k = 0; k < m; k++, d += stride) {
      const x = view.getFloat32(k * 4, true);
      dst[d] = x;
      check += x - x;
    }
  } else if (format === 'g') {
    for (let k = 0; k < m; k++, d += stride) {
      const x = view.getFloat64(k * 8, true);
      dst[d] = x;
      check += x - x;
    }
  } else for (let k = 0; k < m; k++, d += stride) dst[d] = view.getInt32(k * 4, true);
  return check;
}

/**
 * Takes m rows of a dictionary-encoded page into dst (32-bit words) and the validity bitmap from row
 * `filled` on; returns the nulls among them.
 */
function gather(p: Page, ix: Indexed, m: number, words: number, dst: Int32Array, bits: Uint8Array, filled: number): number {
  const { dict, count, idx } = ix;
  let nulls = 0;
  let v = p.valuesTaken;
  if (!p.defs && bits.length === 0) {
    // Required columns, the common case: a tight loop.
    if (words === 1) {
      for (let k = 0; k < m; k++) {
        const at = idx[v + k];
        if (at >>> 0 >= count) throw new DirectDecodeError(`dictionary index ${at} is past the dictionary's ${count} values`);
        dst[filled + k] = dict[at];
      }
    } else {
      for (let k = 0; k < m; k++) {
        const at = idx[v + k];
        if (at >>> 0 >= count) throw new DirectDecodeError(`dictionary index ${at} is past the dictionary's ${count} values`);
        dst[2 * (filled + k)] = dict[2 * at];
        dst[2 * (filled + k) + 1] = dict[2 * at + 1];
      }
    }
    p.valuesTaken = v + m;
    return 0;
  }
  for (let k = 0; k < m; k++) {
    const row = filled + k;
    if (p.defs && !p.defs[p.taken + k]) {
      nulls++;
      continue;
    }
    const at = idx[v++];
    if (at >>> 0 >= count) throw new DirectDecodeError(`dictionary index ${at} is past the dictionary's ${count} values`);
    if (words === 1) dst[row] = dict[at];
    else {
      dst[2 * row] = dict[2 * at];
      dst[2 * row + 1] = dict[2 * at + 1];
    }
    if (bits.length > 0) bits[row >>> 3] |= 1 << (row & 7);
  }
  p.valuesTaken = v;
  return nulls;
}
