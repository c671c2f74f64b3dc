/**
 * A page's bytes decompressed by its chunk's codec: Node's native zstd, gzip and brotli (node:zlib),
 * and our snappy (snappy.ts), which can write into a buffer it is given.
 */
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from 'node:zlib';
import { Codec } from './chunk-meta.js';
import { DirectDecodeError } from './direct-error.js';
import { snappyDecompress } from './snappy.js';

/** `raw` decompressed; snappy into `into` where given (a buffer of at least `size` bytes). */
export function decompress(codec: number, raw: Uint8Array, size: number, into?: Uint8Array): Uint8Array {
  let out: Uint8Array;
  switch (codec) {
    case Codec.UNCOMPRESSED: out = raw; break;
    case Codec.SNAPPY: return snappyDecompress(raw, size, into);
    // One output chunk of the page's size: zlib then returns it as it is, with no concatenation copy.
    case Codec.ZSTD: out = zstdDecompressSync(raw, { maxOutputLength: Math.max(size, 1), chunkSize: Math.max(size, 64) }); break;
    case Codec.GZIP: out = gunzipSync(raw, { maxOutputLength: Math.max(size, 1), chunkSize: Math.max(size, 64) }); break;
    case Codec.BROTLI: out = brotliDecompressSync(raw, { maxOutputLength: Math.max(size, 1), chunkSize: Math.max(size, 64) }); break;
    default: throw new DirectDecodeError(`codec ${codec} is not decoded directly`);
  }
  if (out.length !== size) throw new DirectDecodeError(`a page expands to ${out.length} bytes, its header says ${size}`);
  return out;
}
