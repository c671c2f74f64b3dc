import {
  ColumnAccumulator, StatsMergeError, binIndex, layoutFromSample, meanAndStd, mergeColumnStats, mergeOutputStats,
  type BinLayout, type ColumnStats,
} from './output-stats.js';
import { driftOf, psi, worstColumn } from './drift.js';
import { prng } from '../modelgen/models.js';


const PROB: BinLayout = { min: 0, max: 1, bins: 20, source: 'probability' };

function statsOf(values: ArrayLike<number | bigint>, layout: BinLayout = PROB, nulls?: Set<number>): ColumnStats {
  const acc = new ColumnAccumulator(layout);
  acc.add(values, nulls ? (i) => !nulls.has(i) : undefined);
  return acc.finish();
}

/** The statistics of `values` cut at `cuts` (shards), each part accumulated on its own, merged in `order`. */
function splitStats(values: number[], cuts: number[], layout: BinLayout, order?: number[]): ColumnStats {
  const bounds = [0, ...cuts, values.length];
  const parts = bounds.slice(1).map((end, i) => statsOf(values.slice(bounds[i], end), layout));
  const seq = (order ?? parts.map((_, i) => i)).map((i) => parts[i]);
  return seq.slice(1).reduce((acc, p) => mergeColumnStats(acc, p, 'score'), seq[0]);
}

/** Plain two-pass references. */
function reference(values: number[], layout: BinLayout) {
  const finite = values.filter((v) => Number.isFinite(v));
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const variance = finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (finite.length - 1);
  const counts = new Array<number>(layout.bins).fill(0);
  let under = 0;
  let over = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    if (v < layout.min) under++;
    else if (v > layout.max) over++;
    else counts[Math.min(layout.bins - 1, Math.floor((v - layout.min) / (layout.max - layout.min) * layout.bins))]++;
  }
  return { mean, std: Math.sqrt(variance), counts, under, over };
}

describe('ColumnAccumulator', () => {
  test.each([
    ['probabilities', (r: () => number) => r(), PROB],
    ['large offset, small spread (cancellation)', (r: () => number) => 1e9 + r(), { min: 1e9, max: 1e9 + 1, bins: 20, source: 'sample' } as BinLayout],
    ['wide range, some out of the bins', (r: () => number) => (r() - 0.5) * 1e6, { min: -2e5, max: 2e5, bins: 40, source: 'sample' } as BinLayout],
  ])('%s: count, min, max, mean, std and bins match a two-pass reference', (_name, gen, layout) => {
    const r = prng(7);
    const values = Array.from({ length: 5000 }, () => gen(r));
    const s = statsOf(values, layout);
    const ref = reference(values, layout);
    expect(s.count).toBe(5000);
    expect(s.min).toBe(Math.min(...values));
    expect(s.max).toBe(Math.max(...values));
    expect(s.mean!).toBeCloseTo(ref.mean, 6);
    expect(Math.abs(s.std! - ref.std) / ref.std).toBeLessThan(1e-9);
    expect(s.histogram.counts).toEqual(ref.counts);
    expect(s.histogram.underflow).toBe(ref.under);
    expect(s.histogram.overflow).toBe(ref.over);
    expect(s.histogram.counts.reduce((a, b) => a + b, 0) + ref.under + ref.over).toBe(5000);
  });

  test('nulls, NaN and infinities are counted apart; infinities go to underflow/overflow, not the mean', () => {
    const s = statsOf([0.5, NaN, Infinity, -Infinity, 0.25, 7], PROB, new Set([5]));
    expect(s).toMatchObject({ count: 6, nulls: 1, nan: 1, infinite: 2, mean: 0.375 });
    expect(s.min).toBe(-Number.MAX_VALUE);
    expect(s.max).toBe(Number.MAX_VALUE);
    expect(s.histogram.underflow).toBe(1);
    expect(s.histogram.overflow).toBe(1);
    expect(s.std).toBeCloseTo(Math.sqrt(0.03125), 15);
  });

  test('empty and single values: no mean or std where there is none', () => {
    expect(statsOf([])).toMatchObject({ count: 0, min: null, max: null, mean: null, std: null, sum: [] });
    expect(statsOf([0.3])).toMatchObject({ count: 1, min: 0.3, max: 0.3, mean: 0.3, std: null });
    expect(statsOf([NaN], PROB)).toMatchObject({ count: 1, nan: 1, min: null, mean: null });
  });

  test('bigint (int64) values count as numbers', () => {
    const s = statsOf(new BigInt64Array([1n, 2n, 3n]), { min: 0, max: 4, bins: 4, source: 'sample' });
    expect(s).toMatchObject({ mean: 2, std: 1, min: 1, max: 3 });
    expect(s.histogram.counts).toEqual([0, 1, 1, 1]);
  });

  test('typed arrays (the fast path) give exactly what plain numbers give: NaN, infinities, huge values, out of the bins', () => {
    const r = prng(9);
    const layout: BinLayout = { min: -2, max: 3, bins: 25, source: 'sample' };
    const special = [NaN, Infinity, -Infinity, 1e101, -1e120, 3, -2, 2.9999999, -0, 5e-324];
    const values = Array.from({ length: 4000 }, (_, i) => (i % 97 === 0 ? special[(i / 97) % special.length] : (r() - 0.4) * 7));
    const plain = statsOf(values, layout);
    expect(statsOf(Float64Array.from(values), layout)).toEqual(plain);
    const f32 = Float32Array.from(values);
    expect(statsOf(f32, layout)).toEqual(statsOf(Array.from(f32), layout));
    expect(plain).toMatchObject({ count: 4000, nan: 5, infinite: 17 });
  });

  test('the mean is the exact mean, rounded once: 0.1 ten times, and a sum that cancels', () => {
    expect(statsOf(new Array(10).fill(0.1)).mean).toBe(0.1);
    expect(statsOf([1e16, 1, -1e16, 1], { min: -1, max: 1, bins: 2, source: 'sample' }).mean).toBe(0.5);
  });
});

describe('merging is exact across shard splits', () => {
  const r = prng(42);
  const probs = Array.from({ length: 3001 }, () => r());
  const wide = Array.from({ length: 3001 }, () => (r() - 0.3) * 1e4 + (r() < 0.01 ? 1e15 : 0));
  const wideLayout: BinLayout = { min: -5000, max: 10000, bins: 30, source: 'sample' };
  test.each([
    ['one shard', [] as number[], undefined as number[] | undefined],
    ['two halves', [1500], undefined],
    ['uneven, with an empty shard', [1, 1, 2000], undefined],
    ['many shards, merged backwards', [100, 700, 701, 1999, 2500, 3000], [6, 5, 4, 3, 2, 1, 0]],
    ['merged out of order', [1000, 2000], [1, 2, 0]],
  ])('%s', (_name, cuts, order) => {
    for (const [values, layout] of [[probs, PROB], [wide, wideLayout]] as const) {
      const whole = statsOf(values, layout);
      // Every field, the mean and std included, to the last bit.
      expect(splitStats(values, cuts, layout, order)).toEqual(whole);
    }
  });

  test('a merge of merges equals the flat merge (mergeOutputStats)', () => {
    const parts = [0, 1000, 2000].map((s) => ({ score: statsOf(probs.slice(s, s + 1000)) }));
    const flat = mergeOutputStats(parts);
    const nested = mergeOutputStats([mergeOutputStats(parts.slice(0, 2)), parts[2]]);
    expect(nested).toEqual(flat);
    expect(flat.score.count).toBe(3000);
  });

  test('different bins do not merge: the error names the column and the part', () => {
    const a = { score: statsOf([0.5]) };
    const b = { score: statsOf([0.5], { min: 0, max: 2, bins: 20, source: 'sample' }) };
    expect(() => mergeOutputStats([a, b], ['shard 0', 'shard 1'])).toThrow(StatsMergeError);
    expect(() => mergeOutputStats([a, b], ['shard 0', 'shard 1'])).toThrow(/output column score: .*different bins.*\(at shard 1\)/);
  });
});

describe('bins', () => {
  test.each([
    [0, 0], [0.05, 1], [0.049999, 0], [1, 19], [0.999, 19], [-0.001, -1], [1.001, 20], [-Infinity, -1], [Infinity, 20],
  ])('probability layout: %d -> bin %d', (v, bin) => expect(binIndex(PROB, v)).toBe(bin));

  test.each([
    ['probabilities', [0, 0.2, 0.99, 1], { min: 0, max: 1, bins: 20, source: 'probability' }],
    ['nothing finite', [NaN, Infinity], { min: 0, max: 1, bins: 20, source: 'probability' }],
    ['0..100', [0, 100], { min: -50, max: 150, bins: 20, source: 'sample' }],
    ['one value', [5, 5], { min: 2.4, max: 7.6, bins: 26, source: 'sample' }],
    ['negative', [-3, -1.5], { min: -3.8, max: -0.7, bins: 31, source: 'sample' }],
  ])('layoutFromSample: %s', (_name, sample, layout) => {
    expect(layoutFromSample(sample)).toEqual(layout);
  });

  test('a layout from a sample holds the sample inside its bins, in 20 to 60 bins', () => {
    const r = prng(3);
    for (let k = 0; k < 200; k++) {
      const scale = 10 ** Math.floor(r() * 12 - 4);
      const sample = Array.from({ length: 50 }, () => (r() - 0.2) * scale + 3 * scale);
      const l = layoutFromSample(sample);
      expect(l.bins).toBeGreaterThanOrEqual(20);
      expect(l.bins).toBeLessThanOrEqual(60);
      for (const v of sample) {
        const b = binIndex(l, v);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(l.bins);
      }
    }
  });
});

describe('meanAndStd', () => {
  test.each([
    [[1, 2, 3, 4], 2.5, Math.sqrt(5 / 3)],
    [[1e8 + 1, 1e8 + 2, 1e8 + 3], 1e8 + 2, 1],
    [[-1, 1], 0, Math.SQRT2],
  ])('%j: mean %d, std %d', (values, mean, std) => {
    const s = statsOf(values, { min: -10, max: 10, bins: 2, source: 'sample' });
    expect(s.mean).toBe(mean);
    expect(s.std).toBeCloseTo(std, 12);
    expect(meanAndStd(values.length, s.sum, s.sumSquares)).toEqual({ mean: s.mean, std: s.std });
  });
});

describe('drift (PSI)', () => {
  const r = prng(9);
  const base = statsOf(Array.from({ length: 10000 }, () => r()));
  const same = statsOf(Array.from({ length: 10000 }, () => r()));
  const shifted = statsOf(Array.from({ length: 10000 }, () => Math.min(1, r() * 0.8 + 0.2)));
  test('identical histograms: 0; the same distribution: small; a shifted one: large', () => {
    expect(psi(base, base)).toBe(0);
    expect(psi(base, same)!).toBeLessThan(0.01);
    expect(psi(base, shifted)!).toBeGreaterThan(0.25);
  });

  test('PSI by hand: two bins, 50/50 against 25/75', () => {
    const l: BinLayout = { min: 0, max: 2, bins: 2, source: 'sample' };
    const p = psi(statsOf([0.5, 1.5], l), statsOf([0.5, 1.5, 1.5, 1.5], l))!;
    expect(p).toBeCloseTo((0.25 - 0.5) * Math.log(0.25 / 0.5) + (0.75 - 0.5) * Math.log(0.75 / 0.5), 15);
  });

  test('an empty bin on one side counts as a share of 1e-4; no values or other bins give null', () => {
    const l: BinLayout = { min: 0, max: 2, bins: 2, source: 'sample' };
    expect(psi(statsOf([0.5], l), statsOf([1.5], l))).toBeCloseTo(2 * (1 - 1e-4) * Math.log(1 / 1e-4), 12);
    expect(psi(statsOf([], l), statsOf([1.5], l))).toBeNull();
    expect(psi(statsOf([0.5]), statsOf([0.5], l))).toBeNull();
  });

  test('driftOf: per column the baseline has, with the mean shift; worstColumn names the highest', () => {
    const d = driftOf({ a: base, b: base }, { a: same, b: shifted, c: same });
    expect(Object.keys(d).sort()).toEqual(['a', 'b']);
    expect(d.b.meanShift).toBeCloseTo(shifted.mean! - base.mean!, 15);
    expect(d.b.values).toBe(10000);
    expect(worstColumn(d)).toEqual({ column: 'b', psi: d.b.psi });
    expect(worstColumn({})).toBeUndefined();
  });
});
