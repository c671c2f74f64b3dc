/**
 * Exact values that a JS number cannot hold (decimals, 64-bit integers) to the nearest value of a
 * float type: float64, float32 or float16, rounding half to even, as a CAST in SQL would give.
 *
 * The nearest double comes first: for a decimal u / 10^s with |u| < 2^53 and s <= 22, the division
 * of two exact doubles (one rounding); for anything wider, JS's own decimal-string parsing, which is
 * correctly rounded. Going on to float32 or float16 rounds a second time, and that can differ from
 * rounding the exact value once only when the double lands exactly halfway between two values of the
 * narrower type. That case is detected and settled by comparing the exact value with the double in
 * BigInt arithmetic (rare, so the cost does not matter).
 */
import type { FloatElementType } from './type-rules.js';

/** Rounds a double to the nearest value of a float type. */
export type Round = (x: number) => number;
const same: Round = (x) => x;
export const ROUND: Readonly<Record<FloatElementType, Round>> = { float64: same, float32: Math.fround, float16: Math.f16round };

const TWO32 = 4294967296;
/** 10^k for k <= 22: exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** d = m * 2^e exactly (d finite). */
function decompose(d: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, d);
  const hi = view.getUint32(0);
  const exp = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (exp !== 0) m |= 1n << 52n;
  return { m: hi >>> 31 ? -m : m, e: exp === 0 ? -1074 : exp - 1075 };
}

/** The sign of u / 10^scale - d, exactly. */
function compareDecimal(u: bigint, scale: number, d: number): number {
  const { m, e } = decompose(d);
  // Both sides times 10^scale * 2^k, k = max(0, -e): integers.
  const k = e < 0 ? -e : 0;
  const left = u << BigInt(k);
  const right = (m * 10n ** BigInt(scale)) << BigInt(e + k);
  return left > right ? 1 : left < right ? -1 : 0;
}

/**
 * The value of `round`'s type nearest to an exact x, given d, the double nearest to x, and
 * `sign() = sign(x - d)`.
 */
function settle(d: number, round: Round, sign: () => number): number {
  const r = round(d);
  if (r === d || !Number.isFinite(r)) return r;
  // d lies strictly between two values of the type. Unless it is exactly halfway, r is nearest to x
  // too: a halfway point is itself a double, so it cannot lie between x and its nearest double d.
  const other = 2 * d - r;
  if (round(other) !== other) return r;
  const s = sign();
  if (s === 0) return r; // x is the halfway point: round gave the even one
  return s > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** The two's-complement integer held in `words` little-endian 32-bit words from w[at]. */
export function bigIntAt(w: Uint32Array, at: number, words: number): bigint {
  let v = 0n;
  for (let k = words - 1; k >= 0; k--) v = (v << 32n) | BigInt(w[at + k]);
  return BigInt.asIntN(32 * words, v);
}

/**
 * The decimal with unscaled value w[at .. at + words) (little-endian two's complement, as Arrow
 * stores Decimal32/64/128/256) and `scale`, rounded to the nearest value of `round`'s type.
 */
export function decimalNearest(w: Uint32Array, at: number, words: number, scale: number, round: Round): number {
  const hi = words === 1 ? (w[at] | 0) >> 31 : w[at + 1] | 0;
  let small = hi >= -0x200000 && hi < 0x200000 && scale < POW10.length;
  for (let k = 2; small && k < words; k++) small = (w[at + k] | 0) === hi >> 31;
  if (small) {
    const v = words === 1 ? w[at] | 0 : hi * TWO32 + w[at];
    const d = v / POW10[scale];
    return round === same ? d : settle(d, round, () => compareDecimal(BigInt(v), scale, d));
  }
  const u = bigIntAt(w, at, words);
  const d = Number(`${u}e-${scale}`);
  return round === same ? d : settle(d, round, () => compareDecimal(u, scale, d));
}

/** The 64-bit integer hi * 2^32 + lo (hi read as signed or unsigned) rounded to `round`'s type. */
export function int64Nearest(hi: number, lo: number, unsigned: boolean, round: Round): number {
  const h = unsigned ? hi >>> 0 : hi | 0;
  const d = h * TWO32 + (lo >>> 0); // h * 2^32 is exact, so this rounds once
  if (round === same) return d;
  return settle(d, round, () => {
    const x = (BigInt(h) << 32n) + BigInt(lo >>> 0);
    const y = BigInt(d); // integral: below 2^53 it is x itself
    return x > y ? 1 : x < y ? -1 : 0;
  });
}
