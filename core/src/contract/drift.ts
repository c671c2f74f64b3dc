/**
 * Drift of the output columns against a baseline run (spec.monitoring): the population stability index
 * of each column's histogram, and the shift of its mean. Pure.
 *
 * PSI = Σ (a_i − e_i) · ln(a_i / e_i) over the bins, underflow and overflow included, where e_i and a_i
 * are the baseline's and this run's shares of the column's non-null, non-NaN values in bin i. A share of
 * 0 counts as PSI_EPSILON (an empty bin on one side would make the sum infinite); a bin empty on both
 * sides adds nothing. Rules of thumb: below 0.1 no shift, 0.1 to 0.25 a moderate one, above 0.25 a
 * large one.
 */
import { z } from 'zod';
import { sameBins, type ColumnStats, type OutputStats } from './output-stats.js';

export const PSI_EPSILON = 1e-4;

export const ColumnDriftSchema = z.object({
  psi: z.number().nullable().describe('Null when either side has no values, or their bins differ (then `note` says why).'),
  meanShift: z.number().nullable().describe('This run\'s mean minus the baseline\'s.'),
  baselineMean: z.number().nullable(),
  values: z.number().int().nonnegative().describe('Values (not null, not NaN) the figure is over, so far.'),
  note: z.string().optional(),
});
export type ColumnDrift = z.infer<typeof ColumnDriftSchema>;
export const DriftSchema = z.record(z.string(), ColumnDriftSchema);
export type Drift = z.infer<typeof DriftSchema>;

const binned = (s: ColumnStats): number[] => [s.histogram.underflow, ...s.histogram.counts, s.histogram.overflow];

/** PSI of `actual` against `expected`; null when either has no binned values or their bins differ. */
export function psi(expected: ColumnStats, actual: ColumnStats): number | null {
  if (!sameBins(expected.histogram.layout, actual.histogram.layout)) return null;
  const e = binned(expected);
  const a = binned(actual);
  const te = e.reduce((x, y) => x + y, 0);
  const ta = a.reduce((x, y) => x + y, 0);
  if (te === 0 || ta === 0 || e.length !== a.length) return null;
  let sum = 0;
  for (let i = 0; i < e.length; i++) {
    if (e[i] === 0 && a[i] === 0) continue;
    const pe = Math.max(e[i] / te, PSI_EPSILON);
    const pa = Math.max(a[i] / ta, PSI_EPSILON);
    sum += (pa - pe) * Math.log(pa / pe);
  }
  return sum;
}

/** Each output column of `current` that the baseline has, against it. */
export function driftOf(baseline: OutputStats, current: OutputStats): Drift {
  const out: Drift = {};
  for (const [column, s] of Object.entries(current)) {
    const b = baseline[column];
    if (!b) continue;
    const values = s.count - s.nulls - s.nan;
    const d: ColumnDrift = {
      psi: psi(b, s),
      meanShift: s.mean !== null && b.mean !== null ? s.mean - b.mean : null,
      baselineMean: b.mean,
      values,
    };
    if (!sameBins(b.histogram.layout, s.histogram.layout)) d.note = 'the bins differ from the baseline\'s';
    out[column] = d;
  }
  return out;
}

/** The column with the highest PSI (ties: the first by name), or undefined when none has one. */
export function worstColumn(drift: Drift): { column: string; psi: number } | undefined {
  let worst: { column: string; psi: number } | undefined;
  for (const column of Object.keys(drift).sort()) {
    const p = drift[column].psi;
    if (p !== null && (!worst || p > worst.psi)) worst = { column, psi: p };
  }
  return worst;
}
