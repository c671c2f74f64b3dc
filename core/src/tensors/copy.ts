/**
 * The copy pass of the packer: values of the good rows, from Arrow chunks into a dense row-major
 * typed array of the model's element type. Rows are copied in blocks that fit in cache, all
 * columns of one block before the next, so the row-major writes stay cheap.
 */
import { DataType, Precision, type Data } from 'apache-arrow';
import { decimalNearest, int64Nearest, ROUND, type Round } from './nearest.js';
import { isFloatElement, type ElementType } from './type-rules.js';
import type { TensorData } from './types.js';

const IS_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Where the low and the high 32-bit word of a 64-bit value are, in an Int32Array view. */
export const LO = IS_LE ? 0 : 1;
export const HI = 1 - LO;
const TWO32 = 4294967296;

/**
 * Where a chunk's values are read from: numbers (ints up to 32 bits, Float16/32/64), 64-bit ints as
 * two int32 words, or decimals as `words` 32-bit words of their unscaled value.
 */
export type Source =
  | { kind: 'num'; a: ArrayLike<number> }
  | { kind: 'i64'; w: Int32Array; unsigned: boolean }
  | { kind: 'dec'; w: Uint32Array; words: number; scale: number };

/**
 * Where the packed values go: a typed array of numbers (`a`; for float16 a Float16Array over the
 * tensor's Uint16Array bits, so that a store rounds to float16), or, for int64/uint64, two int32
 * words per value (no BigInts made). `round` gives a float target's nearest value of an exact
 * value (nearest.ts); integer targets only ever get integers that fit (type-rules.ts).
 */
export type Target =
  | { kind: 'num'; a: Float32Array | Float64Array | Float16Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array; data: TensorData; round: Round }
  | { kind: 'i64'; w: Int32Array; data: BigInt64Array | BigUint64Array; round: Round };

export function sourceOf(d: Data): Source {
  const t = d.type;
  const v = d.values as ArrayLike<number> & ArrayBufferView;
  if (DataType.isInt(t) && t.bitWidth === 64) {
    return { kind: 'i64', w: new Int32Array(v.buffer, v.byteOffset, v.length * 2), unsigned: !t.isSigned };
  }
  if (DataType.isDecimal(t)) return { kind: 'dec', w: d.values as Uint32Array, words: t.bitWidth / 32, scale: t.scale };
  // Float16 values are their bits in a Uint16Array: read them as numbers through a Float16Array.
  if (DataType.isFloat(t) && t.precision === Precision.HALF) return { kind: 'num', a: new Float16Array(v.buffer, v.byteOffset, v.length) };
  return { kind: 'num', a: v };
}

/** Value i of a source, rounded to the target's type where it is not a JS number already. */
export function readNum(s: Source, i: number, round: Round): number {
  switch (s.kind) {
    case 'num': return s.a[i];
    case 'i64': return int64Nearest(s.w[2 * i + HI], s.w[2 * i + LO], s.unsigned, round);
    default: return decimalNearest(s.w, i * s.words, s.words, s.scale, round);
  }
}

export function targetFor(type: ElementType, n: number): Target {
  const round = isFloatElement(type) ? ROUND[type] : ROUND.float64;
  const num = (a: Exclude<Target, { kind: 'i64' }>['a'], data: TensorData = a as TensorData): Target => ({ kind: 'num', a, data, round });
  const i64 = (data: BigInt64Array | BigUint64Array): Target => ({ kind: 'i64', w: new Int32Array(data.buffer), data, round });
  switch (type) {
    case 'float32': return num(new Float32Array(n));
    case 'float64': return num(new Float64Array(n));
    case 'float16': {
      const bits = new Uint16Array(n);
      return num(new Float16Array(bits.buffer), bits);
    }
    case 'int32': return num(new Int32Array(n));
    case 'int16': return num(new Int16Array(n));
    case 'int8': return num(new Int8Array(n));
    case 'uint32': return num(new Uint32Array(n));
    case 'uint16': return num(new Uint16Array(n));
    case 'uint8': return num(new Uint8Array(n));
    case 'int64': return i64(new BigInt64Array(n));
    case 'uint64': return i64(new BigUint64Array(n));
  }
}

/** Start offsets of each row of a List/LargeList chunk as numbers, or null for FixedSizeList. */
export function listOffsets(d: Data): Int32Array | Float64Array | null {
  if (DataType.isFixedSizeList(d.type)) return null;
  const o = d.valueOffsets as Int32Array | BigInt64Array;
  return o instanceof BigInt64Array ? Float64Array.from(o, Number) : o;
}

/** Walks the chunks of one column forward, row by row. */
export class ColumnCursor {
  private k = -1;
  /** First row of the current chunk, and one past its last. */
  base = 0;
  end = 0;
  src: Source = { kind: 'num', a: [] };
  /** List columns: row starts in the child values (List), or the row stride (FixedSizeList). */
  offsets: Int32Array | Float64Array | null = null;
  stride = 1;

  constructor(private readonly chunks: readonly Data[], private readonly list: boolean) {}

  /** Makes the chunk holding `row` current. Rows must be asked for in ascending order. */
  seek(row: number): void {
    while (row >= this.end) {
      const d = this.chunks[++this.k];
      this.base = this.end;
      this.end += d.length;
      if (this.list) {
        this.src = sourceOf(d.children[0]);
        this.offsets = listOffsets(d);
        this.stride = DataType.isFixedSizeList(d.type) ? d.type.listSize : 0;
      } else {
        this.src = sourceOf(d);
      }
    }
  }
}

/**
 * Copies packed rows [g0, g1) (source rows goodRows[g]) of one column: `count` values per row,
 * into columns [col, col + count) of rows `width` wide. Every value fits the target: the scan
 * (pack.ts) has already set aside the rows holding one that does not.
 */
export function copyRows(cur: ColumnCursor, goodRows: Int32Array, g0: number, g1: number, count: number, dst: Target, width: number, col: number): void {
  let g = g0;
  while (g < g1) {
    cur.seek(goodRows[g]);
    const { base, end, src: s, offsets, stride } = cur;
    let stop = g;
    while (stop < g1 && goodRows[stop] < end) stop++;
    if (s.kind === 'num' && dst.kind === 'num') {
      // The hot paths: numbers into a typed array (which rounds to float32 or float16 itself), from a
      // scalar column or from a list column.
      const a = dst.a;
      const sa = s.a;
      if (count === 1 && offsets === null && stride === 1) {
        for (; g < stop; g++) a[g * width + col] = sa[goodRows[g] - base];
      } else {
        for (; g < stop; g++) {
          const i = goodRows[g] - base;
          const si = offsets ? offsets[i] : i * stride;
          const di = g * width + col;
          for (let j = 0; j < count; j++) a[di + j] = sa[si + j];
        }
      }
      continue;
    }
    for (; g < stop; g++) {
      const i = goodRows[g] - base;
      const si = offsets ? offsets[i] : i * stride;
      const di = g * width + col;
      if (dst.kind === 'i64') {
        const w = dst.w;
        for (let j = 0; j < count; j++) {
          const o = 2 * (di + j);
          if (s.kind === 'i64') {
            w[o] = s.w[2 * (si + j)];
            w[o + 1] = s.w[2 * (si + j) + 1];
          } else {
            const v = readNum(s, si + j, dst.round); // an integer (type-rules.ts)
            w[o + LO] = v | 0;
            w[o + HI] = Math.floor(v / TWO32) | 0;
          }
        }
      } else {
        const a = dst.a;
        for (let j = 0; j < count; j++) a[di + j] = readNum(s, si + j, dst.round);
      }
    }
  }
}
