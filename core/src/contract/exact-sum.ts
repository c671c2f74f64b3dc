/**
 * An exact running sum of doubles in fixed point (a long accumulator, as Kulisch's): the value is
 * Σ limb[b] · 2^(32b − 1074), each limb a double holding an integer. Every double is an integer
 * multiple of 2^−1074, so adding one is exact: its 53-bit significand, shifted into place, is cut
 * into three 32-bit pieces added to three limbs. A limb stays an exact integer below 2^53 for 2^20
 * additions of pieces below 2^32; then the carries are propagated.
 *
 * This replaces adding each value to an expansion (Shewchuk's grow-expansion), which gives the same
 * exact sum at several times the cost per value: the statistics of the output columns count every
 * value scored (output-stats.ts), on the worker's main thread. Pure: no I/O.
 */

/** Limbs of 32 bits from 2^−1074 up past 2^1024, with room for the carries of 2^53 additions. */
const LIMBS = 68;
const TWO32 = 2 ** 32;
const TWO_M32 = 2 ** -32;
const TWO_M64 = 2 ** -64;
/** Additions between carry propagations: each limb stays below 2^20 · 3 · 2^32 < 2^53. */
const NORMALIZE_EVERY = 1 << 20;
const POW2 = Float64Array.from({ length: 32 }, (_, s) => 2 ** s);

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Which of u32's two words holds the sign and exponent. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** The rounding error of p = fl(a · b): a · b = p + productError(a, b, p) exactly (Dekker's
 * two-product with Veltkamp's split; |a|, |b| well below 1e150 so the split cannot overflow). */
export function productError(a: number, b: number, p: number): number {
  let c = 134217729 * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = 134217729 * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return (((ah * bh - p) + ah * bl) + al * bh) + al * bl;
}

/** a · b as hi + lo, exactly. */
export function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  return [p, productError(a, b, p)];
}

/** Propagates the carries of `limbs`: every limb but the last in [0, 2^32), the last keeps the sign. */
function carry(limbs: Float64Array): void {
  let c = 0;
  for (let i = 0; i < LIMBS - 1; i++) {
    const v = limbs[i] + c; // exact: |limb| < 2^53 − 2^33, |c| < 2^22
    c = Math.floor(v * TWO_M32);
    limbs[i] = v - c * TWO32;
  }
  limbs[LIMBS - 1] += c;
}

export class ExactSum {
  private readonly limbs = new Float64Array(LIMBS);
  private pending = 0;

  /** Adds a finite double, exactly. */
  add(v: number): void {
    if (v === 0) return;
    f64[0] = v;
    const hi = u32[HI];
    const e = (hi >>> 20) & 0x7ff;
    // v = ±m · 2^(p − 1074): m the significand as an integer (< 2^53), p its bit position.
    const m = ((hi & 0xfffff) + (e === 0 ? 0 : 0x100000)) * TWO32 + u32[LO];
    const p = e === 0 ? 0 : e - 1;
    const b = p >>> 5;
    // Shifted to its place within limb b: x < 2^85, still exact (a power of two times m); the three
    // pieces below are exact too (each keeps a run of x's bits).
    const x = m * POW2[p & 31];
    const top = Math.floor(x * TWO_M64);
    const r = x - top * TWO32 * TWO32;
    const mid = Math.floor(r * TWO_M32);
    const low = r - mid * TWO32;
    const limbs = this.limbs;
    if (hi >>> 31) {
      limbs[b] -= low;
      limbs[b + 1] -= mid;
      limbs[b + 2] -= top;
    } else {
      limbs[b] += low;
      limbs[b + 1] += mid;
      limbs[b + 2] += top;
    }
    if (++this.pending === NORMALIZE_EVERY) {
      carry(limbs);
      this.pending = 0;
    }
  }

  /** Adds v · v, exactly (its rounded product and the product's error); |v| well below 1e150 (the
   * caller counts larger values as infinities). */
  addSquare(v: number): void {
    const h = v * v;
    const l = productError(v, v, h);
    this.add(h);
    if (l !== 0) this.add(l);
  }

  /** The sum as doubles whose exact total it is, smallest first (non-overlapping: an expansion). */
  terms(): number[] {
    carry(this.limbs);
    this.pending = 0;
    // A negative total has every limb above its lowest set one at 2^32 − 1 (two's complement): its
    // magnitude is taken instead, and the terms negated.
    const negative = this.limbs[LIMBS - 1] < 0;
    const limbs = negative ? this.limbs.map((v) => -v) : this.limbs;
    if (negative) carry(limbs);
    const out: number[] = [];
    for (let i = 0; i < LIMBS; i++) {
      const v = limbs[i];
      // Exact: an integer below 2^32 times a power of two (the limbs above 2^1024 are zero: the sum of
      // values below 2^1024 in magnitude counted here never reaches them).
      if (v !== 0) out.push((negative ? -v : v) * 2 ** (32 * i - 1074));
    }
    return out;
  }
}
