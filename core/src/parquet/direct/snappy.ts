/**
 * Snappy decompression (https://github.com/google/snappy/blob/main/format_description.txt), for the
 * direct decoder's SNAPPY pages. Node has zstd, gzip and brotli built in (node:zlib), not snappy.
 * Every length and offset is checked: corrupt input throws, it never reads or writes out of bounds.
 */
import { DirectDecodeError } from './direct-error.js';

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
          for (let i = 0; i < bytes; i++) n += src[pos + i] * 2 ** (8 * i);
          pos += bytes;
        }
        n += 1;
        if (pos + n > src.length || out + n > len) throw new DirectDecodeError('snappy: literal runs past the block');
        if (n >= 64) dst.set(src.subarray(pos, pos + n), out);
        else {
          let i = 0;
          for (; i + 4 <= n; i += 4) dv.setUint32(out + i, sv.getUint32(pos + i, true), true);
          for (; i < n; i++) dst[out + i] = src[pos + i];
        }
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
        offset = (src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16)) + src[pos + 3] * 2 ** 24;
        pos += 4;
    }
    if (offset === 0 || offset > out || out + n > len) throw new DirectDecodeError('snappy: copy out of bounds');
    const from = out - offset;
    if (offset >= n && n >= 64) dst.copyWithin(out, from, from + n);
    else if (offset >= 4) {
      // Overlapping or not, each 4 bytes read lie before the 4 written (offset >= 4): the pattern repeats.
      let i = 0;
      for (; i + 4 <= n; i += 4) dv.setUint32(out + i, dv.getUint32(from + i, true), true);
      for (; i < n; i++) dst[out + i] = dst[from + i];
    } else for (let i = 0; i < n; i++) dst[out + i] = dst[from + i]; // a run of 1-3 bytes repeated
    out += n;
  }
  if (out !== len) throw new DirectDecodeError(`snappy: the block expands to ${out} bytes, not ${len}`);
  return dst;
}
