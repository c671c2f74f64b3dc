/**
 * Prediction statistics of the output columns (spec.model.outputs): accumulated by each worker over
 * its shard, merged by the operator for the run, compared with a baseline (drift.ts). Pure: no I/O.
 *
 * Every figure merges exactly, so the run's statistics do not depend on how the rows were split into
 * shards (or batches), to the last bit:
 * - count, nulls, NaN, infinities, min, max and the histogram's counts are integers or extremes;
 * - the sum and the sum of squares are kept exactly, as a list of non-overlapping doubles (an
 *   expansion, as Shewchuk's and Python's math.fsum); merging two is exact, and the mean and standard
 *   deviation are computed from the exact sums, each rounded once at the end;
 * - the histogram's bin edges are fixed before any value is counted (`BinLayout`, chosen once per run:
 *   layoutFromSample, or the baseline's), so shards count into the same bins. Values below the first
 *   edge or above the last go to `underflow` / `overflow`.
 *
 * A value of a fixed-size-list output column counts each of its elements.
 */
import { z } from 'zod';
import { ExactSum, twoProduct } from './exact-sum.js';

/** Equal-width bins: `bins` bins from `min` to `max`; a value v goes to bin
 * min(floor((v - min) / (max - min) * bins), bins - 1) when min <= v <= max (binIndex). */
export const BinLayoutSchema = z.object({
  min: z.number(),
  max: z.number(),
  bins: z.number().int().positive().max(1000),
  source: z.enum(['probability', 'sample', 'baseline'])
    .describe('probability: 0 to 1 (the first values seen all were); sample: chosen from the first values seen; baseline: the baseline run\'s.'),
});
export type BinLayout = z.infer<typeof BinLayoutSchema>;

export const ColumnStatsSchema = z.object({
  count: z.number().int().nonnegative().describe('Values seen, nulls and NaN included.'),
  nulls: z.number().int().nonnegative(),
  nan: z.number().int().nonnegative(),
  infinite: z.number().int().nonnegative().describe('±Infinity (and finite values beyond ±1e100): in the histogram\'s underflow/overflow and min/max, not in the mean.'),
  min: z.number().nullable().describe('Of the values other than null and NaN (±Infinity is written as ±1.7976931348623157e308).'),
  max: z.number().nullable(),
  mean: z.number().nullable().describe('Of the finite values (`count - nulls - nan - infinite` of them).'),
  std: z.number().nullable().describe('Sample standard deviation (n - 1) of the finite values; null for fewer than 2.'),
  sum: z.array(z.number()).describe('The exact sum of the finite values: the doubles whose exact total it is (largest first).'),
  sumSquares: z.array(z.number()).describe('The exact sum of their squares, likewise.'),
  histogram: z.object({
    layout: BinLayoutSchema,
    counts: z.array(z.number().int().nonnegative()),
    underflow: z.number().int().nonnegative(),
    overflow: z.number().int().nonnegative(),
  }),
});
export type ColumnStats = z.infer<typeof ColumnStatsSchema>;

/** Output column -> its statistics. */
export const OutputStatsSchema = z.record(z.string(), ColumnStatsSchema);
export type OutputStats = z.infer<typeof OutputStatsSchema>;

/** The default bin count (probabilities: 0 to 1 in steps of 0.05). */
export const DEFAULT_BINS = 20;
/** Finite values beyond this are counted as infinities for the mean: their squares' sums could overflow. */
const HUGE = 1e100;
const MAX_DOUBLE = Number.MAX_VALUE;

// ---- exact sums (expansions) ----

/** Adds x to the expansion `p` in place (Shewchuk's grow-expansion, as math.fsum). Exact. */
function addExact(p: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < p.length; j++) {
    let y = p[j];
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) p[i++] = lo;
    x = hi;
  }
  p.length = i;
  p.push(x);
}

/** The expansion's value, correctly rounded (math.fsum's final step). `p` ascends in magnitude. */
function roundExact(p: readonly number[]): number {
  let n = p.length;
  if (n === 0) return 0;
  let hi = p[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/** The canonical form of an exact sum, largest first: each term is the rest, correctly rounded. Two
 * expansions of the same exact number give the same list. */
function canonical(p: readonly number[]): number[] {
  const out: number[] = [];
  let rest = p.filter((x) => x !== 0);
  while (rest.length > 0) {
    const v = roundExact(rest);
    if (v === 0) break;
    out.push(v);
    addExact(rest, -v);
    rest = rest.filter((x) => x !== 0);
  }
  return out;
}

/** An expansion (any order) in the ascending order addExact keeps. */
const ascending = (terms: readonly number[]): number[] => {
  const p: number[] = [];
  for (const t of terms) addExact(p, t);
  return p;
};

/** Mean and sample standard deviation from the exact sums of n values: the mean is the exact mean
 * rounded once; the variance is (n·Σx² − (Σx)²) computed exactly, rounded once, then divided. */
export function meanAndStd(n: number, sum: readonly number[], sumSquares: readonly number[]): { mean: number | null; std: number | null } {
  if (n === 0) return { mean: null, std: null };
  const s = ascending(sum);
  const total = roundExact(s);
  // The mean: exact sum / n, with the remainder's correction (exact up to the final rounding's half ulp).
  const q = total / n;
  const r = ascending([...s, ...twoProduct(-q, n)]);
  const mean = q + roundExact(r) / n;
  if (n < 2) return { mean, std: null };
  const d: number[] = [];
  for (const t of sumSquares) for (const x of twoProduct(n, t)) addExact(d, x);
  const terms = [...s];
  for (let i = 0; i < terms.length; i++) {
    for (let j = 0; j < terms.length; j++) for (const x of twoProduct(-terms[i], terms[j])) addExact(d, x);
  }
  const num = Math.max(0, roundExact(d));
  return { mean, std: Math.sqrt(num / n / (n - 1)) };
}

// ---- bins ----

/** The bin of a value that is not NaN: -1 underflow, `bins` overflow. */
export function binIndex(layout: BinLayout, v: number): number {
  if (v < layout.min) return -1;
  if (v > layout.max) return layout.bins;
  const i = Math.floor((v - layout.min) / (layout.max - layout.min) * layout.bins);
  return i >= layout.bins ? layout.bins - 1 : i < 0 ? 0 : i;
}

/** The largest of 1, 2 and 5 times a power of ten that is at most x (> 0). */
function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [10, 5, 2, 1]) if (m * p <= x) return m * p;
  return p;
}

/** Rounds away the noise of floating-point multiples (0.30000000000000004 -> 0.3). */
const tidy = (x: number): number => Number(x.toPrecision(12));

/**
 * Bins chosen from a first sample of a column's values, before any is counted:
 * - all of them in [0, 1] (or none finite): probabilities, 0 to 1 in DEFAULT_BINS bins;
 * - else from min to max widened by half the range on each side, cut into DEFAULT_BINS to
 *   about 2.5·DEFAULT_BINS bins of a round width (1, 2 or 5 times a power of ten).
 */
export function layoutFromSample(values: ArrayLike<number>): BinLayout {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || Math.abs(v) > HUGE) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi || (lo >= 0 && hi <= 1)) return { min: 0, max: 1, bins: DEFAULT_BINS, source: 'probability' };
  const span = hi - lo > 0 ? hi - lo : Math.max(Math.abs(hi), 1);
  const from = lo - span / 2;
  const to = hi + span / 2;
  const step = niceStep((to - from) / DEFAULT_BINS);
  const min = tidy(Math.floor(from / step) * step);
  const bins = Math.max(DEFAULT_BINS, Math.ceil((to - min) / step));
  return { min, max: tidy(min + bins * step), bins, source: 'sample' };
}

export function sameBins(a: BinLayout, b: BinLayout): boolean {
  return a.min === b.min && a.max === b.max && a.bins === b.bins;
}

// ---- accumulate, merge ----

/** Statistics being accumulated (mutable). `finish` gives the JSON form. */
export class ColumnAccumulator {
  count = 0;
  nulls = 0;
  nan = 0;
  infinite = 0;
  min = Infinity;
  max = -Infinity;
  private readonly sum = new ExactSum();
  private readonly sumSquares = new ExactSum();
  readonly counts: number[];
  underflow = 0;
  overflow = 0;

  constructor(readonly layout: BinLayout) {
    this.counts = new Array<number>(layout.bins).fill(0);
  }

  /** Adds values; `valid(i)` false means null. Integers (bigint included) count as numbers. */
  add(values: ArrayLike<number | bigint>, valid?: (i: number) => boolean): void {
    if (!valid && (values instanceof Float32Array || values instanceof Float64Array)) {
      for (let i = 0; i < values.length; i++) this.addValue(values[i]);
      this.count += values.length;
      return;
    }
    for (let i = 0; i < values.length; i++) {
      this.count++;
      if (valid && !valid(i)) {
        this.nulls++;
        continue;
      }
      const raw = values[i];
      this.addValue(typeof raw === 'bigint' ? Number(raw) : raw);
    }
  }

  /** One value that is not null (`count` aside). */
  private addValue(v: number): void {
    if (v !== v) {
      this.nan++;
      return;
    }
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const b = binIndex(this.layout, v);
    if (b < 0) this.underflow++;
    else if (b >= this.layout.bins) this.overflow++;
    else this.counts[b]++;
    if (!(Math.abs(v) <= HUGE)) {
      this.infinite++;
      return;
    }
    this.sum.add(v);
    this.sumSquares.addSquare(v);
  }

  finish(): ColumnStats {
    return statsOf({
      count: this.count, nulls: this.nulls, nan: this.nan, infinite: this.infinite,
      min: this.count - this.nulls - this.nan > 0 ? this.min : null,
      max: this.count - this.nulls - this.nan > 0 ? this.max : null,
      sum: this.sum.terms(), sumSquares: this.sumSquares.terms(),
      histogram: { layout: this.layout, counts: [...this.counts], underflow: this.underflow, overflow: this.overflow },
    });
  }
}

type Raw = Omit<ColumnStats, 'mean' | 'std'>;

const clampJson = (v: number | null): number | null => (v === null ? null : v === Infinity ? MAX_DOUBLE : v === -Infinity ? -MAX_DOUBLE : v);

function statsOf(r: Raw): ColumnStats {
  const n = r.count - r.nulls - r.nan - r.infinite;
  const { mean, std } = meanAndStd(n, r.sum, r.sumSquares);
  return {
    count: r.count, nulls: r.nulls, nan: r.nan, infinite: r.infinite,
    min: clampJson(r.min), max: clampJson(r.max), mean, std,
    sum: canonical(r.sum), sumSquares: canonical(r.sumSquares),
    histogram: r.histogram,
  };
}

/** An error in merging statistics: names the column and what disagrees. */
export class StatsMergeError extends Error {}

/** Two columns' statistics as one. Their bins must be the same (StatsMergeError otherwise). */
export function mergeColumnStats(a: ColumnStats, b: ColumnStats, column = 'the column'): ColumnStats {
  const ha = a.histogram;
  const hb = b.histogram;
  if (!sameBins(ha.layout, hb.layout) || ha.counts.length !== hb.counts.length) {
    throw new StatsMergeError(`output column ${column}: the histograms have different bins `
      + `(${ha.layout.bins} from ${ha.layout.min} to ${ha.layout.max} and ${hb.layout.bins} from ${hb.layout.min} to ${hb.layout.max})`);
  }
  const pick = (x: number | null, y: number | null, f: (p: number, q: number) => number) => (x === null ? y : y === null ? x : f(x, y));
  return statsOf({
    count: a.count + b.count, nulls: a.nulls + b.nulls, nan: a.nan + b.nan, infinite: a.infinite + b.infinite,
    min: pick(a.min, b.min, Math.min), max: pick(a.max, b.max, Math.max),
    sum: ascending([...a.sum, ...b.sum]), sumSquares: ascending([...a.sumSquares, ...b.sumSquares]),
    histogram: {
      layout: ha.layout,
      counts: ha.counts.map((c, i) => c + hb.counts[i]),
      underflow: ha.underflow + hb.underflow, overflow: ha.overflow + hb.overflow,
    },
  });
}

/**
 * Several parts' statistics (shards, in any order) as one: per column. `labels[i]` names part i in
 * errors (e.g. "shard 3"). A column missing from some parts is merged over those that have it.
 */
export function mergeOutputStats(parts: readonly OutputStats[], labels?: readonly string[]): OutputStats {
  const out: OutputStats = {};
  parts.forEach((p, i) => {
    for (const [column, s] of Object.entries(p)) {
      const have = out[column];
      try {
        out[column] = have ? mergeColumnStats(have, s, column) : s;
      } catch (e) {
        throw e instanceof StatsMergeError && labels ? new StatsMergeError(`${e.message} (at ${labels[i]})`, { cause: e }) : e;
      }
    }
  });
  return out;
}

/** The short form for status.outputs and events: no sums, no histogram. */
export interface ColumnSummary {
  count: number;
  nulls: number;
  nan: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
}

export function summarize(s: ColumnStats): ColumnSummary {
  return { count: s.count, nulls: s.nulls, nan: s.nan, min: s.min, max: s.max, mean: s.mean, std: s.std };
}
