/**
 * Parquet's RLE / bit-packed hybrid encoding (definition levels and dictionary indices):
 * https://parquet.apache.org/docs/file-format/data-pages/encodings/#run-length-encoding--bit-packing-hybrid-rle--3
 */
import { DirectDecodeError } from './direct-error.js';

/**
 * Decodes `count` values of `bitWidth` bits (0-32) from buf[pos, end) into out[0, count). Returns the
 * position after the last run read. A bit-packed run may end short of its 8-value groups at the end
 * of the buffer (some writers trim it); values past what the buffer holds are an error.
 */
export function decodeHybrid(buf: Uint8Array, pos: number, end: number, bitWidth: number, count: number, out: Int32Array | Uint8Array): number {
  if (bitWidth < 0 || bitWidth > 32) throw new DirectDecodeError(`bit width ${bitWidth} is out of range`);
  const byteWidth = (bitWidth + 7) >>> 3;
  const mask = bitWidth === 32 ? 0xffffffff : (1 << bitWidth) - 1;
  let i = 0;
  while (i < count) {
    let header = 0;
    let mul = 1;
    for (;;) {
      if (pos >= end) throw new DirectDecodeError(`RLE/bit-packed data ends after ${i} of ${count} values`);
      const b = buf[pos++];
      header += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 35) throw new DirectDecodeError('RLE/bit-packed run header too long');
    }
    if (header % 2 === 1) {
      const values = Math.floor(header / 2) * 8;
      const bytes = Math.floor(header / 2) * bitWidth;
      const take = Math.min(values, count - i);
      if (pos + Math.ceil((take * bitWidth) / 8) > end) throw new DirectDecodeError('a bit-packed run runs past its page');
      unpack(buf, pos, bitWidth, mask, take, out, i);
      i += take;
      pos = Math.min(end, pos + bytes);
    } else {
      const run = Math.floor(header / 2);
      if (pos + byteWidth > end) throw new DirectDecodeError('an RLE run runs past its page');
      let v = 0;
      for (let k = 0; k < byteWidth; k++) v += buf[pos + k] * 2 ** (8 * k);
      pos += byteWidth;
      const take = Math.min(run, count - i);
      out.fill(v, i, i + take);
      i += take;
    }
  }
  return pos;
}

/** Bit-unpacks `count` values of `bitWidth` bits from byte `pos` into out[i, i + count). */
function unpack(buf: Uint8Array, pos: number, bitWidth: number, mask: number, count: number, out: Int32Array | Uint8Array, i: number, shift = 0): void {
  if (bitWidth === 8 && shift === 0) {
    for (let k = 0; k < count; k++) out[i + k] = buf[pos + k];
    return;
  }
  if (bitWidth === 16 && shift === 0) {
    for (let k = 0, at = pos; k < count; k++, at += 2) out[i + k] = buf[at] | (buf[at + 1] << 8);
    return;
  }
  let bit = pos * 8 + shift;
  if (bitWidth <= 25 && (bit + count * bitWidth) / 8 + 4 <= buf.length) {
    // Every value lies within the 4 bytes from its first: one 32-bit read (bytes past the run are
    // masked off; never past the array, which would make V8 leave its fast path).
    for (let k = 0; k < count; k++, bit += bitWidth) {
      const at = bit >>> 3;
      const word = buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24);
      out[i + k] = (word >>> (bit & 7)) & mask;
    }
    return;
  }
  for (let k = 0; k < count; k++, bit += bitWidth) {
    let at = bit >>> 3;
    const sh = bit & 7;
    let v = buf[at] >>> sh;
    let got = 8 - sh;
    while (got < bitWidth) {
      v |= buf[++at] << got;
      got += 8;
    }
    out[i + k] = (v & mask) >>> 0;
  }
}

/**
 * Dictionary indices in the hybrid encoding, read as they are needed and looked up at once: the
 * values go straight from the page into a batch, with no array of indices between (twice as fast as
 * decoding the indices first). Resumable: a batch may end inside a run.
 */
export class DictionaryCursor {
  private left = 0;
  private rle = false;
  private value = 0;
  private bit = 0;
  private readonly mask: number;

  constructor(
    private readonly buf: Uint8Array, private pos: number, private readonly end: number, private readonly bitWidth: number,
    private readonly dict: Int32Array, private readonly count: number, private readonly words: number,
  ) {
    if (bitWidth < 0 || bitWidth > 32) throw new DirectDecodeError(`bit width ${bitWidth} is out of range`);
    this.mask = bitWidth === 32 ? 0xffffffff : (1 << bitWidth) - 1;
  }

  private nextRun(): void {
    let header = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new DirectDecodeError('dictionary indices end before the page\'s values');
      const b = this.buf[this.pos++];
      header += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 35) throw new DirectDecodeError('RLE/bit-packed run header too long');
    }
    const n = Math.floor(header / 2);
    if (header % 2 === 1) {
      this.rle = false;
      this.left = n * 8;
      this.bit = this.pos * 8;
      this.pos = Math.min(this.end, this.pos + n * this.bitWidth);
    } else {
      const byteWidth = (this.bitWidth + 7) >>> 3;
      if (this.pos + byteWidth > this.end) throw new DirectDecodeError('an RLE run runs past its page');
      let v = 0;
      for (let k = 0; k < byteWidth; k++) v += this.buf[this.pos + k] * 2 ** (8 * k);
      this.pos += byteWidth;
      this.rle = true;
      this.value = v;
      this.left = n;
    }
    if (this.left === 0) this.nextRun();
  }

  /** Skips n values. */
  skip(n: number): void {
    while (n > 0) {
      if (this.left === 0) this.nextRun();
      const m = Math.min(n, this.left);
      if (!this.rle) this.bit += m * this.bitWidth;
      this.left -= m;
      n -= m;
    }
  }

  /** Writes the next n values into dst (32-bit words, `words` a value) from value index `o` on. */
  gather(n: number, dst: Int32Array, o: number): void {
    const { dict, count, words, buf, bitWidth, mask } = this;
    while (n > 0) {
      if (this.left === 0) this.nextRun();
      const m = Math.min(n, this.left);
      if (this.rle) {
        const x = this.value;
        if (x >= count) throw new DirectDecodeError(`dictionary index ${x} is past the dictionary's ${count} values`);
        if (words === 1) dst.fill(dict[x], o, o + m);
        else for (let k = 0; k < m; k++) {
          dst[2 * (o + k)] = dict[2 * x];
          dst[2 * (o + k) + 1] = dict[2 * x + 1];
        }
      } else {
        if (this.bit + m * bitWidth > this.end * 8) throw new DirectDecodeError('a bit-packed run runs past its page');
        let bit = this.bit;
        // Values whose 4-byte read stays inside the buffer (reading past a typed array's end is
        // correct in JS but makes V8 leave its fast path for good).
        const safe = words === 1 && bitWidth <= 25 ? Math.min(m, Math.max(0, Math.floor(((buf.length - 4) * 8 - bit) / bitWidth) + 1)) : 0;
        if (safe === m) {
          for (let k = 0; k < m; k++, bit += bitWidth) {
            const at = bit >>> 3;
            const x = ((buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> (bit & 7)) & mask;
            if (x >= count) throw new DirectDecodeError(`dictionary index ${x} is past the dictionary's ${count} values`);
            dst[o + k] = dict[x];
          }
        } else {
          const idx = new Int32Array(m);
          unpack(buf, bit >>> 3, bitWidth, mask, m, idx, 0, bit & 7);
          for (let k = 0; k < m; k++) {
            const x = idx[k];
            if (x >>> 0 >= count) throw new DirectDecodeError(`dictionary index ${x >>> 0} is past the dictionary's ${count} values`);
            if (words === 1) dst[o + k] = dict[x];
            else {
              dst[2 * (o + k)] = dict[2 * x];
              dst[2 * (o + k) + 1] = dict[2 * x + 1];
            }
          }
        }
        this.bit = bit + (safe === m ? 0 : m * bitWidth);
      }
      this.left -= m;
      n -= m;
      o += m;
    }
  }
}
