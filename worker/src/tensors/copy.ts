/**
 * The copy pass of the packer: values of the good rows, from Arrow chunks into a dense row-major
 * typed array of the model's element type. Rows are copied in blocks that fit in cache, all
 * columns of one block before the next, so the row-major writes stay cheap.
 */
import { DataType, Precision, type Data } from 'apache-arrow';
import type { ElementType, TensorData } from './types.js';

const IS_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = IS_LE ? 0 : 1;
const HI = 1 - LO;
const TWO32 = 4294967296;

/** Where a chunk's values are read from: numbers, 64-bit ints as two int32 words, or float16 bits. */
type Source =
  | { kind: 'num'; a: ArrayLike<number> }
  | { kind: 'i64'; w: Int32Array; unsigned: boolean }
  | { kind: 'f16'; a: Uint16Array };

/** Where the packed values go; int64 targets are written as two int32 words (no BigInts made). */
export type Target =
  | { kind: 'num'; a: Float32Array | Float64Array | Int32Array; int32: boolean }
  | { kind: 'i64'; w: Int32Array; a: BigInt64Array };

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function sourceOf(d: Data): Source {
  const t = d.type;
  const v = d.values as ArrayLike<number> & ArrayBufferView;
  if (DataType.isInt(t) && t.bitWidth === 64) {
    return { kind: 'i64', w: new Int32Array(v.buffer, v.byteOffset, v.length * 2), unsigned: !t.isSigned };
  }
  if (DataType.isFloat(t) && t.precision === Precision.HALF) return { kind: 'f16', a: d.values as Uint16Array };
  return { kind: 'num', a: v };
}

function readNum(s: Source, i: number): number {
  switch (s.kind) {
    case 'num': return s.a[i];
    case 'f16': return halfToNumber(s.a[i]);
    default: return (s.unsigned ? s.w[2 * i + HI] >>> 0 : s.w[2 * i + HI]) * TWO32 + (s.w[2 * i + LO] >>> 0);
  }
}

export function targetFor(type: ElementType, n: number): Target {
  switch (type) {
    case 'float32': return { kind: 'num', a: new Float32Array(n), int32: false };
    case 'float64': return { kind: 'num', a: new Float64Array(n), int32: false };
    case 'int32': return { kind: 'num', a: new Int32Array(n), int32: true };
    case 'int64': {
      const a = new BigInt64Array(n);
      return { kind: 'i64', w: new Int32Array(a.buffer), a };
    }
  }
}

export const targetData = (t: Target): TensorData => t.a;

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
 * into columns [col, col + count) of rows `width` wide. Returns the first packed row whose value is
 * out of the int32 range of an int32 target, or -1.
 */
export function copyRows(cur: ColumnCursor, goodRows: Int32Array, g0: number, g1: number, count: number, dst: Target, width: number, col: number): number {
  let g = g0;
  while (g < g1) {
    cur.seek(goodRows[g]);
    const { base, end, src: s, offsets, stride } = cur;
    let stop = g;
    while (stop < g1 && goodRows[stop] < end) stop++;
    if (s.kind === 'num' && dst.kind === 'num' && !dst.int32) {
      // The hot paths: numbers into a float tensor, from a scalar column or from a list column.
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
            const v = Math.trunc(readNum(s, si + j));
            w[o + LO] = v | 0;
            w[o + HI] = Math.floor(v / TWO32) | 0;
          }
        }
      } else {
        const a = dst.a;
        for (let j = 0; j < count; j++) {
          const v = readNum(s, si + j);
          if (dst.int32 && (v >= 2147483648 || v <= -2147483649)) return g;
          a[di + j] = v;
        }
      }
    }
  }
  return -1;
}
