/**
 * The RLE / bit-packed hybrid decoders against a plain reference: every bit width from 0 to 32, runs of
 * both kinds, batches that end inside runs, and pages whose last run ends at the buffer's last byte
 * (where the 32-bit loads must stop short of the end).
 */
import { DictionaryCursor, decodeHybrid } from './hybrid.js';
import { DirectDecodeError } from './direct-error.js';
import { uvarint } from '../../../testing/varint.js';

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** `values` in the hybrid encoding: random RLE and bit-packed runs (the last group padded with 0s). */
function encode(values: number[], bitWidth: number, rand: () => number): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < values.length) {
    if (rand() < 0.3) {
      // An RLE run of the value at i, as long as it repeats (at least 1).
      let n = 1;
      while (i + n < values.length && values[i + n] === values[i]) n++;
      out.push(...uvarint(n * 2));
      const byteWidth = (bitWidth + 7) >>> 3;
      for (let k = 0; k < byteWidth; k++) out.push(Math.floor(values[i] / 2 ** (8 * k)) % 256);
      i += n;
    } else {
      const groups = 1 + Math.floor(rand() * 20);
      const n = Math.min(groups * 8, values.length - i);
      const g = Math.ceil(n / 8);
      out.push(...uvarint(g * 2 + 1));
      const bytes = new Uint8Array(g * bitWidth);
      for (let k = 0; k < n; k++) {
        const v = values[i + k];
        for (let b = 0; b < bitWidth; b++) {
          if (Math.floor(v / 2 ** b) % 2 === 1) {
            const bit = k * bitWidth + b;
            bytes[bit >>> 3] |= 1 << (bit & 7);
          }
        }
      }
      out.push(...bytes);
      i += n;
    }
  }
  return Uint8Array.from(out);
}

function valuesFor(bitWidth: number, n: number, count: number, rand: () => number): number[] {
  const top = Math.min(count, 2 ** bitWidth);
  return Array.from({ length: n }, () => (rand() < 0.2 ? top - 1 : Math.floor(rand() * top)));
}

describe('decodeHybrid', () => {
  it('decodes every bit width from 0 to 32, with the last run ending at the buffer\'s end', () => {
    for (let bitWidth = 0; bitWidth <= 32; bitWidth++) {
      const rand = rng(100 + bitWidth);
      const values = valuesFor(bitWidth, 1000, 2 ** 32, rand);
      const enc = encode(values, bitWidth, rand);
      const out = new Int32Array(values.length);
      const end = decodeHybrid(enc, 0, enc.length, bitWidth, values.length, out);
      expect(end).toBe(enc.length);
      expect(Array.from(out, (x) => x >>> 0)).toEqual(values);
    }
  });

  it('decodes definition levels (bit width 1) into bytes', () => {
    const rand = rng(7);
    const values = valuesFor(1, 777, 2, rand);
    const enc = encode(values, 1, rand);
    const out = new Uint8Array(values.length);
    decodeHybrid(enc, 0, enc.length, 1, values.length, out);
    expect(Array.from(out)).toEqual(values);
  });

  it('says so when the data ends before its values', () => {
    const values = Array.from({ length: 64 }, (_, i) => i % 16);
    const enc = encode(values, 4, () => 0.9); // bit-packed only
    expect(() => decodeHybrid(enc, 0, enc.length - 3, 4, values.length, new Int32Array(64))).toThrow(DirectDecodeError);
  });
});

describe('DictionaryCursor', () => {
  /** Gathers `values` through the cursor in batches of random sizes, after skipping `skip`. */
  function gathered(enc: Uint8Array, bitWidth: number, dict: Int32Array, count: number, words: number, n: number, skip: number, rand: () => number): number[] {
    const cur = new DictionaryCursor(enc, 0, enc.length, bitWidth, dict, count, words);
    cur.skip(skip);
    const dst = new Int32Array((n - skip) * words);
    let o = 0;
    while (o < n - skip) {
      const m = Math.min(n - skip - o, 1 + Math.floor(rand() * 300));
      cur.gather(m, dst, o);
      o += m;
    }
    return Array.from(dst);
  }

  it('looks up every bit width\'s indices, one and two words a value, in batches that split runs', () => {
    for (let bitWidth = 0; bitWidth <= 20; bitWidth++) {
      for (const words of [1, 2]) {
        const rand = rng(1000 + bitWidth * 3 + words);
        const count = Math.max(1, Math.min(2 ** bitWidth, 3000) - (bitWidth > 2 ? 3 : 0));
        const dict = Int32Array.from({ length: count * words }, (_, i) => i * 7919 - 1e6);
        const values = valuesFor(bitWidth, 2000, count, rand);
        const enc = encode(values, bitWidth, rand);
        for (const skip of [0, 13]) {
          const expected = values.slice(skip).flatMap((v) => (words === 1 ? [dict[v]] : [dict[2 * v], dict[2 * v + 1]]));
          expect(gathered(enc, bitWidth, dict, count, words, values.length, skip, rand)).toEqual(expected);
        }
      }
    }
  });

  it('rejects an index past the dictionary, whether it is read with a word load or near the end', () => {
    const bitWidth = 10;
    const count = 500;
    const dict = new Int32Array(count);
    for (const at of [5, 1990, 1999]) {
      const values = Array.from({ length: 2000 }, (_, i) => i % count);
      values[at] = 777;
      const enc = encode(values, bitWidth, () => 0.9); // bit-packed only
      const cur = new DictionaryCursor(enc, 0, enc.length, bitWidth, dict, count, 1);
      expect(() => cur.gather(2000, new Int32Array(2000), 0)).toThrow(/dictionary index 777 is past the dictionary's 500 values/);
    }
  });

  it('gathers into a strided tensor column, converting by the store, for every bit width (bytes-wide ones too)', () => {
    for (let bitWidth = 0; bitWidth <= 20; bitWidth++) {
      const rand = rng(5000 + bitWidth);
      const count = Math.max(1, Math.min(2 ** bitWidth, 3000) - (bitWidth > 2 ? 3 : 0));
      const values = Float64Array.from({ length: count }, (_, i) => i / 3 - 7); // rounded when stored as float32
      const idx = valuesFor(bitWidth, 2000, count, rand);
      const enc = encode(idx, bitWidth, rand);
      for (const Dst of [Float32Array, Float64Array]) {
        const stride = 3;
        const dst = new Dst(idx.length * stride + 1);
        const cur = new DictionaryCursor(enc, 0, enc.length, bitWidth, new Int32Array(count), count, 1);
        let check = 0;
        for (let o = 0; o < idx.length;) {
          const m = Math.min(idx.length - o, 1 + Math.floor(rand() * 300));
          check += cur.gatherStrided(m, values, dst, 1 + o * stride, stride);
          o += m;
        }
        expect(check).toBe(0);
        expect(Array.from(idx, (_, r) => dst[1 + r * stride])).toEqual(Array.from(idx, (v) => Dst.of(values[v])[0]));
        expect(dst[0]).toBe(0); // nothing written outside the column
      }
    }
  });

  it('reports a value that is not finite, and an index past the dictionary on every path', () => {
    const values = Float32Array.from([1, NaN, 3]);
    const nanRun = encode([0, 2, 1, 0, 2, 0, 0, 2], 2, () => 0.9);
    expect(new DictionaryCursor(nanRun, 0, nanRun.length, 2, new Int32Array(3), 3, 1).gatherStrided(8, values, new Float32Array(8), 0, 1)).toBeNaN();
    for (const bitWidth of [8, 16, 11]) {
      const idx = Array.from({ length: 500 }, (_, i) => i % 3);
      idx[250] = 200;
      const enc = encode(idx, bitWidth, () => 0.9); // bit-packed only, byte-aligned runs for 8 and 16
      const cur = new DictionaryCursor(enc, 0, enc.length, bitWidth, new Int32Array(3), 3, 1);
      expect(() => cur.gatherStrided(500, Float32Array.from([1, 2, 3]), new Float32Array(500), 0, 1)).toThrow(/dictionary index 200 is past the dictionary's 3 values/);
    }
  });
});
