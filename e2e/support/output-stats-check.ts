/** The prediction statistics of a committed run (its _manifest.json) checked against DuckDB over its
 * data files: count, nulls, min, max, mean, standard deviation and every histogram bin (of the
 * churn_score column the test fixtures' model writes). */
import { join } from 'node:path';
import { mergeOutputStats, type ColumnStats, type RunManifest } from '../../core/src/contract/index.js';
import { Duck, sqlString } from '../../core/testing/fixtures.js';

/** The statistics DuckDB computes over the data files in `dir` (flat), in the manifest's bins. */
async function duckStats(dir: string, s: ColumnStats) {
  const { min, max, bins } = s.histogram.layout;
  const duck = await Duck.open();
  try {
    const src = `(SELECT churn_score::DOUBLE AS v FROM read_parquet(${sqlString(join(dir, '*.parquet'))}))`;
    const [agg] = await duck.all(`SELECT count(*) AS n, count(v) AS nn, min(v) AS lo, max(v) AS hi, avg(v) AS mean, stddev_samp(v) AS sd FROM ${src}`);
    const hist = await duck.all(`SELECT CASE WHEN v < ${min}::DOUBLE THEN -1 WHEN v > ${max}::DOUBLE THEN ${bins}
        ELSE least(floor((v - ${min}::DOUBLE) / (${max}::DOUBLE - ${min}::DOUBLE) * ${bins}), ${bins - 1}) END::INTEGER AS b, count(*) AS c
      FROM ${src} WHERE NOT isnan(v) GROUP BY b ORDER BY b`);
    const counts = new Array<number>(bins).fill(0);
    let underflow = 0;
    let overflow = 0;
    for (const r of hist) {
      const b = Number(r.b);
      if (b < 0) underflow += Number(r.c);
      else if (b >= bins) overflow += Number(r.c);
      else counts[b] = Number(r.c);
    }
    return { n: Number(agg.n), nulls: Number(agg.n) - Number(agg.nn), min: Number(agg.lo), max: Number(agg.hi), mean: Number(agg.mean), sd: Number(agg.sd), counts, underflow, overflow };
  } finally {
    duck.close();
  }
}

export async function expectStatsMatchDuckDB(dir: string, m: RunManifest): Promise<ColumnStats> {
  const s = m.outputs?.churn_score;
  expect(s).toBeDefined();
  const d = await duckStats(dir, s!);
  expect(s!.count).toBe(m.rowCount);
  expect({ count: s!.count, nulls: s!.nulls, nan: s!.nan, min: s!.min, max: s!.max }).toEqual({ count: d.n, nulls: d.nulls, nan: 0, min: d.min, max: d.max });
  expect(Math.abs(s!.mean! - d.mean)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(d.mean)));
  expect(Math.abs(s!.std! - d.sd) / d.sd).toBeLessThan(1e-9);
  expect(s!.histogram.counts).toEqual(d.counts);
  expect([s!.histogram.underflow, s!.histogram.overflow]).toEqual([d.underflow, d.overflow]);
  // The run's figures are the shards' merged; each shard counted what it scored.
  expect(m.shards.every((sh) => sh.outputs?.churn_score.count === sh.rows.scored)).toBe(true);
  expect(mergeOutputStats(m.shards.map((sh) => sh.outputs!))).toEqual(m.outputs);
  return s!;
}

