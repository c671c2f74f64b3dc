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
  let view: DataView | undefined;
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
      unpack(buf, (view ??= viewOf(buf)), pos, bitWidth, mask, take, out, i);
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

const viewOf = (buf: Uint8Array): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

/**
 * How many values of `bitWidth` bits (at most 25: each lies within the 4 bytes from its first), the
 * first at bit `bit` of buf, can be read with one 32-bit load each without reading past buf's end.
 * (A DataView load past the end throws; a typed array's would make V8 leave its fast path for good.)
 */
function wordReadable(bufLength: number, bit: number, bitWidth: number, count: number): number {
  if (bitWidth > 25 || bitWidth === 0) return 0;
  return Math.min(count, Math.max(0, Math.floor(((bufLength - 4) * 8 - bit) / bitWidth) + 1));
}

/** Bit-unpacks `count` values of `bitWidth` bits from byte `pos` into out[i, i + count). */
function unpack(buf: Uint8Array, view: DataView, pos: number, bitWidth: number, mask: number, count: number, out: Int32Array | Uint8Array, i: number, shift = 0): void {
  let bit = pos * 8 + shift;
  // One little-endian 32-bit load a value (bytes past the run are masked off): 2x as fast as
  // assembling the word from four byte loads.
  const fast = wordReadable(buf.length, bit, bitWidth, count);
  for (let k = 0; k < fast; k++, bit += bitWidth) out[i + k] = (view.getUint32(bit >>> 3, true) >>> (bit & 7)) & mask;
  for (let k = fast; k < count; k++, bit += bitWidth) {
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
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array, private pos: number, private readonly end: number, private readonly bitWidth: number,
    private readonly dict: Int32Array, private readonly count: number, private readonly words: number,
  ) {
    if (bitWidth < 0 || bitWidth > 32) throw new DirectDecodeError(`bit width ${bitWidth} is out of range`);
    this.mask = bitWidth === 32 ? 0xffffffff : (1 << bitWidth) - 1;
    this.view = viewOf(buf);
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

  /**
   * Writes the next n values, looked up in `values` (the dictionary as numbers, one element a value),
   * into dst[d], dst[d + stride], ...: a column of a row-major tensor, converted by the store. Returns
   * the values' finiteness sum: 0 when every one is finite (x - x is 0 for a finite x, else NaN).
   */
  gatherStrided(n: number, values: Numbers, dst: Floats, d: number, stride: number): number {
    const { count, buf, bitWidth, mask, view } = this;
    let check = 0;
    if (values.length !== count) throw new Error(`the dictionary has ${count} values, the lookup table ${values.length}`);
    while (n > 0) {
      if (this.left === 0) this.nextRun();
      const m = Math.min(n, this.left);
      if (this.rle) {
        const x = this.value;
        if (x >= count) throw new DirectDecodeError(`dictionary index ${x} is past the dictionary's ${count} values`);
        check += fillStrided(values[x], m, dst, d, stride);
      } else {
        const bit = this.bit;
        if (bit + m * bitWidth > this.end * 8) throw new DirectDecodeError('a bit-packed run runs past its page');
        // Whole bytes a value (dictionaries of 129 to 65,536 values) are read as they are, every one
        // inside the page (checked above): 1.5x faster than the shifted 32-bit load.
        const bytesWide = (bitWidth === 16 || bitWidth === 8) && (bit & 7) === 0;
        const fast = bytesWide ? m : wordReadable(buf.length, bit, bitWidth, m);
        check += bitWidth === 16 && bytesWide ? lookup16(view, bit >>> 3, fast, values, dst, d, stride)
          : bitWidth === 8 && bytesWide ? lookup8(buf, bit >>> 3, fast, values, dst, d, stride)
            : lookupBits(view, bit, bitWidth, mask, fast, values, dst, d, stride);
        if (fast < m) {
          // The last values, whose 4-byte load would pass the buffer's end: unpacked first.
          const idx = new Int32Array(m - fast);
          const from = bit + fast * bitWidth;
          unpack(buf, view, from >>> 3, bitWidth, mask, m - fast, idx, 0, from & 7);
          check += lookupIndices(idx, values, dst, d + fast * stride, stride);
        }
        this.bit = bit + m * bitWidth;
      }
      d += m * stride;
      this.left -= m;
      n -= m;
    }
    return check;
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
        const view = this.view;
        // Indices read with one 32-bit load each; the dictionary read is clamped, so that a corrupt
        // index costs no branch per value, and the largest index is checked once, after the loop.
        const fast = wordReadable(buf.length, bit, bitWidth, m);
        let hi = 0;
        if (words === 1) {
          for (let k = 0; k < fast; k++, bit += bitWidth) {
            const x = (view.getUint32(bit >>> 3, true) >>> (bit & 7)) & mask;
            if (x > hi) hi = x;
            dst[o + k] = dict[x < count ? x : 0];
          }
        } else {
          for (let k = 0; k < fast; k++, bit += bitWidth) {
            const x = (view.getUint32(bit >>> 3, true) >>> (bit & 7)) & mask;
            if (x > hi) hi = x;
            const at = x < count ? 2 * x : 0;
            dst[2 * (o + k)] = dict[at];
            dst[2 * (o + k) + 1] = dict[at + 1];
          }
        }
        if (hi >= count && fast > 0) throw new DirectDecodeError(`dictionary index ${hi} is past the dictionary's ${count} values`);
        if (fast < m) {
          const idx = new Int32Array(m - fast);
          unpack(buf, view, bit >>> 3, bitWidth, mask, m - fast, idx, 0, bit & 7);
          for (let k = fast; k < m; k++) {
            const x = idx[k - fast] >>> 0;
            if (x >= count) throw new DirectDecodeError(`dictionary index ${x} is past the dictionary's ${count} values`);
            if (words === 1) dst[o + k] = dict[x];
            else {
              dst[2 * (o + k)] = dict[2 * x];
              dst[2 * (o + k) + 1] = dict[2 * x + 1];
            }
          }
          bit += (m - fast) * bitWidth;
        }
        this.bit = bit;
      }
      this.left -= m;
      n -= m;
      o += m;
    }
  }
}

/*
 * The lookup kernels of DictionaryCursor.gatherStrided, one loop each: in functions of their own,
 * V8 optimizes each on its own loop's feedback. In one function, the first loop to run got it
 * compiled while the others had never run, and each of them deoptimized it once it did, in every
 * new thread. Each writes values[index] at dst[d], dst[d + stride], ... and returns the finiteness
 * sum of what it wrote (x - x: 0 for a finite x, else NaN). An index past the dictionary throws:
 * the lookup is clamped and the largest index checked once, after the loop.
 */
type Numbers = Float32Array | Float64Array | Int32Array;
type Floats = Float32Array | Float64Array;

const pastDictionary = (x: number, count: number): DirectDecodeError => new DirectDecodeError(`dictionary index ${x} is past the dictionary's ${count} values`);

function fillStrided(v: number, m: number, dst: Floats, d: number, stride: number): number {
  for (let k = 0; k < m; k++, d += stride) dst[d] = v;
  return v - v;
}

function lookup16(view: DataView, at: number, m: number, values: Numbers, dst: Floats, d: number, stride: number): number {
  const count = values.length;
  let hi = 0;
  let check = 0;
  for (let k = 0; k < m; k++, at += 2, d += stride) {
    const x = view.getUint16(at, true);
    if (x > hi) hi = x;
    const v = values[x < count ? x : 0];
    dst[d] = v;
    check += v - v;
  }
  if (m > 0 && hi >= count) throw pastDictionary(hi, count);
  return check;
}

function lookup8(buf: Uint8Array, at: number, m: number, values: Numbers, dst: Floats, d: number, stride: number): number {
  const count = values.length;
  let hi = 0;
  let check = 0;
  for (let k = 0; k < m; k++, at++, d += stride) {
    const x = buf[at];
    if (x > hi) hi = x;
    const v = values[x < count ? x : 0];
    dst[d] = v;
    check += v - v;
  }
  if (m > 0 && hi >= count) throw pastDictionary(hi, count);
  return check;
}

/** Values of `bitWidth` bits (at most 25) from bit `bit` on, one 32-bit load each (wordReadable). */
function lookupBits(view: DataView, bit: number, bitWidth: number, mask: number, m: number, values: Numbers, dst: Floats, d: number, stride: number): number {
  const count = values.length;
  let hi = 0;
  let check = 0;
  for (let k = 0; k < m; k++, bit += bitWidth, d += stride) {
    const x = (view.getUint32(bit >>> 3, true) >>> (bit & 7)) & mask;
    if (x > hi) hi = x;
    const v = values[x < count ? x : 0];
    dst[d] = v;
    check += v - v;
  }
  if (m > 0 && hi >= count) throw pastDictionary(hi, count);
  return check;
}

function lookupIndices(idx: Int32Array, values: Numbers, dst: Floats, d: number, stride: number): number {
  const count = values.length;
  let check = 0;
  for (let k = 0; k < idx.length; k++, d += stride) {
    const x = idx[k] >>> 0;
    if (x >= count) throw pastDictionary(x, count);
    const v = values[x];
    dst[d] = v;
    check += v - v;
  }
  return check;
}

/** Definition levels (bit width 1) of `rows` rows: the per-row flags, or null when all are present. */
export function definitionLevels(buf: Uint8Array, at: number, end: number, rows: number): { defs: Uint8Array | null; present: number } {
  // The common case, a column with no null in the page: one RLE run of 1s covering every row.
  if (at < end && rows > 0) {
    let header = 0;
    let mul = 1;
    let pos = at;
    while (pos < end && mul <= 2 ** 28) {
      const b = buf[pos++];
      header += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
    }
    if (header % 2 === 0 && header / 2 >= rows && pos < end && buf[pos] === 1) return { defs: null, present: rows };
  }
  const defs = new Uint8Array(rows);
  decodeHybrid(buf, at, end, 1, rows, defs);
  let present = 0;
  for (let i = 0; i < rows; i++) present += defs[i];
  return present === rows ? { defs: null, present } : { defs, present };
}
