/**
 * The values section of one data page (or a dictionary page), decoded into dense form: the page's
 * non-null values, in order. Fixed-width values as little-endian bytes (a view into the page where
 * the encoding is PLAIN), byte arrays as start and length into a byte buffer. Every read is bounds-
 * checked: corrupt input throws DirectDecodeError.
 */
import { Encoding } from './chunk-meta.js';
import { DirectDecodeError } from './direct-error.js';
import { DictionaryCursor, decodeHybrid } from './hybrid.js';

export interface ByteArrays {
  starts: Int32Array;
  lens: Int32Array;
  data: Uint8Array;
}

/** A dictionary page's values: fixed-width values in a buffer of their own (aligned), or byte arrays. */
export type Dictionary = { fixed: Uint8Array; count: number } | { strings: ByteArrays; count: number };

/** Fixed-width values as dictionary indices: value i is `words` 32-bit words at dict[idx[i] * words]. */
export interface Indexed {
  dict: Int32Array;
  count: number;
  idx: Int32Array;
}

export type DenseValues = { fixed: Uint8Array } | { indexed: Indexed } | { cursor: DictionaryCursor } | { strings: ByteArrays };

/** PLAIN-encoded values: `count` fixed-width values of `width` bytes, or byte arrays (width 0). */
export function plainValues(body: Uint8Array, at: number, end: number, count: number, width: number): DenseValues {
  if (width > 0) {
    if (at + count * width > end) throw new DirectDecodeError(`a page holds ${end - at} bytes of values, ${count} values need ${count * width}`);
    return { fixed: body.subarray(at, at + count * width) };
  }
  const starts = new Int32Array(count);
  const lens = new Int32Array(count);
  let pos = at;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > end) throw new DirectDecodeError('a byte array runs past its page');
    const len = (body[pos] | (body[pos + 1] << 8) | (body[pos + 2] << 16) | (body[pos + 3] << 24)) >>> 0;
    pos += 4;
    if (pos + len > end) throw new DirectDecodeError('a byte array runs past its page');
    starts[i] = pos;
    lens[i] = len;
    pos += len;
  }
  return { strings: { starts, lens, data: body } };
}

/** A dictionary page's values (PLAIN), copied where fixed-width so the gather can use aligned views. */
export function dictionaryOf(body: Uint8Array, count: number, width: number): Dictionary {
  const v = plainValues(body, 0, body.length, count, width);
  if (!('fixed' in v)) return { strings: (v as { strings: ByteArrays }).strings, count };
  const aligned = v.fixed.byteOffset % 4 === 0 ? v.fixed : new Uint8Array(v.fixed); // a copy, even of a Buffer
  return { fixed: aligned, count };
}

function gatherStrings(dict: ByteArrays, dictCount: number, idx: Int32Array): ByteArrays {
  const n = idx.length;
  const starts = new Int32Array(n);
  const lens = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = idx[i];
    if (k < 0 || k >= dictCount) throw new DirectDecodeError(`dictionary index ${k} is past the dictionary's ${dictCount} values`);
    starts[i] = dict.starts[k];
    lens[i] = dict.lens[k];
  }
  return { starts, lens, data: dict.data };
}

/** BYTE_STREAM_SPLIT: byte k of value i is at k * count + i. */
function unsplit(body: Uint8Array, at: number, end: number, count: number, width: number): Uint8Array {
  if (at + count * width > end) throw new DirectDecodeError('a BYTE_STREAM_SPLIT page is shorter than its values');
  const out = new Uint8Array(count * width);
  for (let k = 0; k < width; k++) {
    const from = at + k * count;
    for (let i = 0; i < count; i++) out[i * width + k] = body[from + i];
  }
  return out;
}

/**
 * Decodes `count` non-null values in `encoding` from body[at, end). `width` is the value's byte width
 * (0 for byte arrays); `dict` is the chunk's dictionary page, if it had one.
 */
export function decodeValues(
  body: Uint8Array, at: number, end: number, encoding: number, count: number, width: number, dict: Dictionary | undefined,
  /** Fixed-width dictionary values may stay encoded, read as they are taken (a page with no nulls). */
  lazy = false,
): DenseValues {
  switch (encoding) {
    case Encoding.PLAIN:
      return plainValues(body, at, end, count, width);
    case Encoding.PLAIN_DICTIONARY:
    case Encoding.RLE_DICTIONARY: {
      if (!dict) throw new DirectDecodeError('a dictionary-encoded page comes without a dictionary page');
      if (lazy && 'fixed' in dict && count > 0) {
        if (at >= end) throw new DirectDecodeError('a dictionary-encoded page has no bit width');
        const words = width >>> 2;
        return { cursor: new DictionaryCursor(body, at + 1, end, body[at], new Int32Array(dict.fixed.buffer, dict.fixed.byteOffset, dict.count * words), dict.count, words) };
      }
      const idx = new Int32Array(count);
      if (count > 0) {
        if (at >= end) throw new DirectDecodeError('a dictionary-encoded page has no bit width');
        decodeHybrid(body, at + 1, end, body[at], count, idx);
      }
      if ('strings' in dict) return { strings: gatherStrings(dict.strings, dict.count, idx) };
      return { indexed: { dict: new Int32Array(dict.fixed.buffer, dict.fixed.byteOffset, dict.count * (width >>> 2)), count: dict.count, idx } };
    }
    case Encoding.BYTE_STREAM_SPLIT:
      if (width === 0) throw new DirectDecodeError('BYTE_STREAM_SPLIT on byte arrays');
      return { fixed: unsplit(body, at, end, count, width) };
    default:
      throw new DirectDecodeError(`encoding ${encoding} is not decoded directly`);
  }
}
