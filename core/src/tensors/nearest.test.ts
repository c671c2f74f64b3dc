import { prng } from '../modelgen/index.js';
import { decimalNearest, int64Nearest, ROUND } from './nearest.js';

/** Significand bits and smallest normal exponent of each float type. */
const FORMATS = { float64: { bits: 53, emin: -1022, max: Number.MAX_VALUE }, float32: { bits: 24, emin: -126, max: 3.4028234663852886e38 }, float16: { bits: 11, emin: -14, max: 65504 } } as const;
type Format = keyof typeof FORMATS;

const bitLength = (v: bigint): number => (v === 0n ? 0 : v.toString(2).length);

/**
 * The reference: the value of `format` nearest to num / den (den > 0), ties to even, in BigInt
 * arithmetic only: independent of doubles, string parsing and the code under test.
 */
function nearestRational(num: bigint, den: bigint, format: Format): number {
  if (num === 0n) return 0;
  const { bits, emin, max } = FORMATS[format];
  const neg = num < 0n;
  const n = neg ? -num : num;
  // e = floor(log2(n / den))
  let e = bitLength(n) - bitLength(den);
  const ge = (k: number) => (k >= 0 ? n >= den << BigInt(k) : n << BigInt(-k) >= den);
  while (!ge(e)) e--;
  while (ge(e + 1)) e++;
  const q = Math.max(e, emin) - (bits - 1); // the spacing of values around x is 2^q
  // m = n / (den * 2^q), rounded half to even
  const [a, b] = q >= 0 ? [n, den << BigInt(q)] : [n << BigInt(-q), den];
  let m = a / b;
  const r2 = 2n * (a - m * b);
  if (r2 > b || (r2 === b && (m & 1n) === 1n)) m += 1n;
  const v = Number(m) * 2 ** q; // exact: m has at most bits + 1 bits
  const out = v > max ? Infinity : v;
  return neg ? -out : out;
}

/** Words of a two's-complement value, little-endian, as Arrow stores a decimal. */
function wordsOf(u: bigint, words: number): Uint32Array {
  const w = new Uint32Array(words);
  let v = BigInt.asUintN(32 * words, u);
  for (let k = 0; k < words; k++, v >>= 32n) w[k] = Number(v & 0xffffffffn);
  return w;
}

const decimal = (u: bigint, scale: number, format: Format, words = 4): number => decimalNearest(wordsOf(u, words), 0, words, scale, ROUND[format]);

describe('decimalNearest: the nearest float of each type to an exact decimal', () => {
  const rand = prng(11);
  const randomBig = (digits: number): bigint => {
    let s = '';
    for (let i = 0; i < digits; i++) s += Math.floor(rand() * 10);
    return (rand() < 0.5 ? -1n : 1n) * BigInt(s);
  };

  test.each(['float64', 'float32', 'float16'] as const)('random DECIMAL(38, s) values -> %s match an exact BigInt reference', (format) => {
    for (let i = 0; i < 3000; i++) {
      const digits = 1 + Math.floor(rand() * 38);
      const scale = Math.floor(rand() * (digits + 1));
      const u = randomBig(digits);
      expect([String(u), scale, decimal(u, scale, format)]).toEqual([String(u), scale, nearestRational(u, 10n ** BigInt(scale), format)]);
    }
  });

  test.each([
    ['Decimal32', 1, 9], ['Decimal64', 2, 18], ['Decimal128', 4, 38], ['Decimal256', 8, 76],
  ] as const)('every word width: %s', (_name, words, digits) => {
    for (const format of ['float64', 'float32', 'float16'] as const) {
      for (let i = 0; i < 300; i++) {
        const u = randomBig(1 + Math.floor(rand() * digits));
        const scale = Math.floor(rand() * 12);
        expect(decimal(u, scale, format, words)).toBe(nearestRational(u, 10n ** BigInt(scale), format));
      }
    }
  });

  // x just above, just below and exactly at a value halfway between two floats of the narrower type:
  // the double nearest to x is the halfway point itself, and rounding that again would go to the even
  // neighbour; the nearest value to x is the one on x's side.
  const halfway: Array<[string, Format, string, number, number]> = [
    // 1 + 2^-24 is halfway between float32 1 and 1 + 2^-23.
    ['float32', 'float32', '1.000000059604644775390625', 1, 1 + 2 ** -23],
    // 1 + 2^-11 is halfway between float16 1 and 1 + 2^-10.
    ['float16', 'float16', '1.00048828125', 1, 1 + 2 ** -10],
  ];
  test.each(halfway)('%s: halfway cases are settled by the exact value', (_n, format, mid, below, above) => {
    const [int, frac] = mid.split('.');
    const at = (extra: string, delta: bigint) => {
      const scale = frac.length + extra.length;
      return decimal(BigInt(int + frac + extra) + delta, scale, format);
    };
    expect(at('', 0n)).toBe(below); // exactly halfway: to even
    expect(at('0000000000', 1n)).toBe(above); // a hair above
    expect(at('0000000000', -1n)).toBe(below); // a hair below
    expect(decimal(-BigInt(int + frac + '0000000000') - 1n, frac.length + 10, format)).toBe(-above);
  });

  test('beyond the type\'s range: infinity (the packer refuses such values before they get here)', () => {
    expect(decimal(65520n, 0, 'float16')).toBe(Infinity);
    expect(decimal(65519n, 0, 'float16')).toBe(65504);
    expect(decimal(-(10n ** 39n), 0, 'float32', 8)).toBe(-Infinity);
  });
});

describe('int64Nearest', () => {
  const split = (v: bigint) => {
    const u = BigInt.asUintN(64, v);
    return [Number(u >> 32n) | 0, Number(u & 0xffffffffn) | 0] as const;
  };
  const nearest = (v: bigint, unsigned: boolean, format: Format) => int64Nearest(...split(v), unsigned, ROUND[format]);

  test('random int64 and uint64 values to every float type match the BigInt reference', () => {
    const rand = prng(5);
    for (let i = 0; i < 3000; i++) {
      const hi = BigInt(Math.floor(rand() * 2 ** 32));
      const lo = BigInt(Math.floor(rand() * 2 ** 32));
      const u = (hi << 32n) | lo;
      const s = BigInt.asIntN(64, u);
      for (const format of ['float64', 'float32', 'float16'] as const) {
        expect(nearest(u, true, format)).toBe(nearestRational(u, 1n, format));
        expect(nearest(s, false, format)).toBe(nearestRational(s, 1n, format));
      }
    }
  });

  test('halfway after the first rounding: 2^60 + 2^36 + 1 goes up to float32 2^60 + 2^37, not to even', () => {
    expect(nearest(2n ** 60n + 2n ** 36n + 1n, false, 'float32')).toBe(2 ** 60 + 2 ** 37);
    expect(Math.fround(Number(2n ** 60n + 2n ** 36n + 1n))).toBe(2 ** 60); // what rounding twice gives
    expect(nearest(2n ** 60n + 2n ** 36n, false, 'float32')).toBe(2 ** 60);
    expect(nearest(2n ** 64n - 1n, true, 'float64')).toBe(2 ** 64);
    expect(nearest(-(2n ** 63n), false, 'float16')).toBe(-Infinity);
  });
});
