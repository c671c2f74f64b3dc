/**
 * Snappy decompression (https://github.com/google/snappy/blob/main/format_description.txt), for the
 * direct decoder's SNAPPY pages. Node has zstd, gzip and brotli built in (node:zlib), not snappy.
 * Every length and offset is checked: corrupt input throws, it never reads or writes out of bounds.
 */
import { DirectDecodeError } from './direct-error.js';

/** 256 ** i, as small integers: `2 ** (8 * i)` gave V8 a float to compile for, and a deoptimization. */
const BYTE_WEIGHT = [1, 256, 65536, 16777216];

/**
 * Decompresses `src`, which must expand to exactly `expected` bytes (the page header's size): into the
 * start of `into` when it is given and large enough (the result is then a view of it), else into a
 * buffer of its own.
 */
export function snappyDecompress(src: Uint8Array, expected: number, into?: Uint8Array): Uint8Array {
  let pos = 0;
  let len = 0;
  let mul = 1;
  for (;;) {
    if (pos >= src.length || mul > 2 ** 28) throw new DirectDecodeError('snappy: bad length header');
    const b = src[pos++];
    len += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
  }
  if (len !== expected) throw new DirectDecodeError(`snappy: the block holds ${len} bytes, the page header says ${expected}`);
  const dst = into && into.length >= len ? into.subarray(0, len) : new Uint8Array(len);
  // Short copies move 4 bytes a step through DataViews (a page is mostly literals and copies of tens
  // of bytes: 1.1x faster than byte by byte, and than a subarray a copy).
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  let out = 0;
  while (pos < src.length) {
    const tag = src[pos++];
    let n: number;
    let offset: number;
    switch (tag & 3) {
      case 0: { // literal
        n = tag >>> 2;
        if (n >= 60) {
          const bytes = n - 59;
          if (pos + bytes > src.length) throw new DirectDecodeError('snappy: truncated literal length');
          n = 0;
          for (let i = 0; i < bytes; i++) n += src[pos + i] * BYTE_WEIGHT[i];
          pos += bytes;
        }
        n += 1;
        if (pos + n > src.length || out + n > len) throw new DirectDecodeError('snappy: literal runs past the block');
        copyLiteral(src, sv, pos, dst, dv, out, n);
        pos += n;
        out += n;
        continue;
      }
      case 1:
        if (pos >= src.length) throw new DirectDecodeError('snappy: truncated copy');
        n = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | src[pos++];
        break;
      case 2:
        if (pos + 2 > src.length) throw new DirectDecodeError('snappy: truncated copy');
        n = (tag >>> 2) + 1;
        offset = src[pos] | (src[pos + 1] << 8);
        pos += 2;
        break;
      default:
        if (pos + 4 > src.length) throw new DirectDecodeError('snappy: truncated copy');
        n = (tag >>> 2) + 1;
        offset = (src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16)) + src[pos + 3] * BYTE_WEIGHT[3];
        pos += 4;
    }
    if (offset === 0 || offset > out || out + n > len) throw new DirectDecodeError('snappy: copy out of bounds');
    copyMatch(dst, dv, out, offset, n);
    out += n;
  }
  if (out !== len) throw new DirectDecodeError(`snappy: the block expands to ${out} bytes, not ${len}`);
  return dst;
}

/*
 * The two copies, in functions of their own: V8 optimizes each on its own loops' feedback instead of
 * compiling the whole decoder before every branch has run, and deoptimizing it as each one first does
 * (in every new thread).
 */

/** src[pos, pos + n) to dst[out, out + n). */
function copyLiteral(src: Uint8Array, sv: DataView, pos: number, dst: Uint8Array, dv: DataView, out: number, n: number): void {
  if (n >= 64) {
    dst.set(src.subarray(pos, pos + n), out);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) dv.setUint32(out + i, sv.getUint32(pos + i, true), true);
  for (; i < n; i++) dst[out + i] = src[pos + i];
}

/** dst[out - offset, out - offset + n) to dst[out, out + n), overlapping or not (a repeated pattern). */
function copyMatch(dst: Uint8Array, dv: DataView, out: number, offset: number, n: number): void {
  const from = out - offset;
  if (offset >= n && n >= 64) {
    dst.copyWithin(out, from, from + n);
    return;
  }
  let i = 0;
  // Each 4 bytes read lie before the 4 written when offset >= 4; a run of 1-3 bytes goes byte by byte.
  if (offset >= 4) for (; i + 4 <= n; i += 4) dv.setUint32(out + i, dv.getUint32(from + i, true), true);
  for (; i < n; i++) dst[out + i] = dst[from + i];
}
