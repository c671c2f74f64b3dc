import { ExactSum } from './exact-sum.js';
import { prng } from '../modelgen/models.js';

/** A double as an exact integer multiple of 2^-1074 (BigInt): the oracle. */
function scaled(v: number): bigint {
  const f = new Float64Array([v]);
  const u = new BigUint64Array(f.buffer);
  const bits = u[0];
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = e === 0 ? frac : frac | (1n << 52n);
  const x = m << BigInt(e === 0 ? 0 : e - 1);
  return bits >> 63n ? -x : x;
}

const exactOf = (terms: number[]): bigint => terms.reduce((a, t) => a + scaled(t), 0n);

/** Terms, smallest first, none overlapping the next (each below the next one's lowest set bit). */
function expectExpansion(terms: number[]): void {
  for (let i = 1; i < terms.length; i++) expect(Math.abs(terms[i - 1])).toBeLessThan(Math.abs(terms[i]));
  expect(terms.every((t) => Number.isFinite(t) && t !== 0)).toBe(true);
}

describe('ExactSum', () => {
  const cases: [string, (r: () => number) => number, number][] = [
    ['probabilities', (r) => r(), 50_000],
    ['signs and magnitudes from 1e-300 to 1e100', (r) => (r() < 0.5 ? -1 : 1) * 10 ** (r() * 400 - 300), 20_000],
    ['subnormals', (r) => (r() - 0.5) * 1e-310, 5_000],
    ['large offset, small spread', (r) => 1e9 + r(), 20_000],
    ['cancelling to a negative total', (r) => -1 - r() * 1e-12, 3_000],
  ];
  test.each(cases)('%s: the sum and the sum of squares are exact', (_name, gen, n) => {
    const r = prng(11);
    const values = Array.from({ length: n }, () => gen(r));
    const sum = new ExactSum();
    const squares = new ExactSum();
    let want = 0n;
    let wantSquares = 0n;
    for (const v of values) {
      sum.add(v);
      squares.addSquare(v);
      want += scaled(v);
      // v*v exactly, in units of 2^-2148, while the squares stay above the subnormal range.
      wantSquares += scaled(v) * scaled(v);
    }
    const terms = sum.terms();
    expectExpansion(terms);
    expect(exactOf(terms)).toBe(want);
    if (values.every((v) => Math.abs(v) > 1e-150)) {
      expect(exactOf(squares.terms()) << 1074n).toBe(wantSquares);
    }
  });

  test.each([
    ['a significand of all ones, placed to give the largest pieces', (2 ** 53 - 1) * 2 ** 237],
    ['its negative', -(2 ** 53 - 1) * 2 ** 237],
    ['the largest subnormal', (2 ** 52 - 1) * 2 ** -1074],
  ])('past the carry period (2^20 additions): 3M additions of %s stay exact, and cancel to zero', (_name, v) => {
    const sum = new ExactSum();
    const n = 3_000_000;
    for (let i = 0; i < n; i++) sum.add(v);
    const terms = sum.terms();
    expectExpansion(terms);
    expect(exactOf(terms)).toBe(scaled(v) * BigInt(n));
    for (let i = 0; i < n; i++) sum.add(-v);
    expect(sum.terms()).toEqual([]);
  });

  test('a negative total: every term negative, the total exact', () => {
    const sum = new ExactSum();
    sum.add(2 ** -1074);
    sum.add(-1);
    const terms = sum.terms();
    expect(exactOf(terms)).toBe(scaled(2 ** -1074) - scaled(1));
    expect(terms.every((t) => t < 0)).toBe(true);
    expectExpansion(terms);
  });
});
