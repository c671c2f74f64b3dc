/**
 * Prediction statistics and drift (spec.monitoring), decided from what is observed. Pure.
 *
 * The run's statistics so far are the done shards' (their chosen manifests) merged with the running
 * ones' (their progress files: one attempt per shard, the furthest along). With a baseline, each output
 * column's PSI against it gives the Drifted condition (True above warnPSI, with a Warning event once
 * per run and column); once every shard is done, a PSI above failPSI fails the run before its commit.
 */
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { OutputSummary } from '../api/status.js';
import {
  StatsMergeError, driftOf, mergeOutputStats, worstColumn, type Drift, type OutputStats, type ShardPlan,
} from '../../../core/src/contract/index.js';
import type { RunFailure } from './failure-policy.js';
import type { ShardState } from './shards.js';
import type { KubeEvent } from './types.js';

export const DRIFTED = 'Drifted';

export interface MonitoringFacts {
  /** status.outputs: one entry per output column (spec order), when any shard reported statistics. */
  outputs?: OutputSummary[];
  /** The Drifted condition (with spec.monitoring only). */
  condition?: { status: 'True' | 'False'; reason: string; message: string };
  events: KubeEvent[];
  /** Every shard is done and a column's PSI is above failPSI: the run fails (reason Drifted). */
  failure?: RunFailure;
}

/** Six significant digits: a short summary that does not spell out every bit. */
const short = (x: number | null | undefined): number | null => (x === null || x === undefined ? null : Number(x.toPrecision(6)));
const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : String(Number(x.toPrecision(4))));

/** The statistics of the run so far: per shard its chosen manifest's, else a running attempt's progress. */
export function runStats(shards: readonly ShardState[], progressOutputs: ReadonlyMap<string, OutputStats> | undefined):
  { stats?: OutputStats; shards: number; complete: boolean; problem?: string } {
  const parts: OutputStats[] = [];
  const labels: string[] = [];
  let complete = shards.length > 0;
  for (const s of shards) {
    if (s.chosen) {
      if (s.chosen.outputs) {
        parts.push(s.chosen.outputs);
        labels.push(`shard ${s.index} attempt ${s.chosen.attempt}`);
      } else complete = false;
      continue;
    }
    complete = false;
    let best: { o: OutputStats; n: number; attempt: number } | undefined;
    for (const a of s.active) {
      const o = progressOutputs?.get(`${s.index}/${a.attempt}`);
      if (!o) continue;
      const n = Math.max(0, ...Object.values(o).map((c) => c.count));
      if (!best || n > best.n) best = { o, n, attempt: a.attempt };
    }
    if (best) {
      parts.push(best.o);
      labels.push(`shard ${s.index} attempt ${best.attempt} (running)`);
    }
  }
  if (parts.length === 0) return { shards: 0, complete: false };
  try {
    return { stats: mergeOutputStats(parts, labels), shards: parts.length, complete };
  } catch (e) {
    if (e instanceof StatsMergeError) return { shards: 0, complete: false, problem: e.message };
    throw e;
  }
}

export function monitor(
  spec: BatchInferenceJobSpec,
  monitoring: ShardPlan['monitoring'],
  observed: ReturnType<typeof runStats>,
  runId: string,
): MonitoringFacts {
  const columns = Object.values(spec.model.outputs).map((m) => m.column);
  const { stats } = observed;
  const baseline = monitoring?.baseline;
  const drift: Drift = stats && baseline ? driftOf(baseline.outputs, stats) : {};
  const facts: MonitoringFacts = { events: [] };
  if (stats) {
    facts.outputs = columns.filter((c) => stats[c]).map((column) => {
      const s = stats[column];
      const d = drift[column];
      const o: OutputSummary = { column, count: s.count, nulls: s.nulls, nan: s.nan };
      const put = (k: 'min' | 'max' | 'mean' | 'std' | 'psi' | 'meanShift', v: number | null | undefined) => {
        const x = short(v);
        if (x !== null) o[k] = x;
      };
      put('min', s.min);
      put('max', s.max);
      put('mean', s.mean);
      put('std', s.std);
      put('psi', d?.psi);
      put('meanShift', d?.meanShift);
      return o;
    });
  }
  const m = spec.monitoring;
  if (!m) return facts;
  const scope = observed.complete ? `all ${observed.shards} shards` : `${observed.shards} shards so far`;
  if (observed.problem) {
    facts.condition = { status: 'False', reason: 'NoStatistics', message: observed.problem };
    return facts;
  }
  if (!m.baseline || !baseline) {
    facts.condition = { status: 'False', reason: 'NoBaseline', message: monitoring?.note ?? 'spec.monitoring.baseline is not set' };
    return facts;
  }
  const worst = worstColumn(drift);
  if (!stats || !worst) {
    facts.condition = { status: 'False', reason: 'NoData', message: `no predictions to compare with baseline run ${baseline.runId} yet` };
    return facts;
  }
  const about = (column: string) => {
    const d = drift[column];
    return `output column ${column}: PSI ${fmt(d.psi)} against baseline run ${baseline.runId}, mean ${fmt(stats[column].mean)} (baseline ${fmt(d.baselineMean)}), over ${d.values} values of ${scope}`;
  };
  const above = Object.keys(drift).sort().filter((c) => (drift[c].psi ?? -1) > m.warnPSI);
  if (above.length === 0) {
    facts.condition = { status: 'False', reason: 'WithinThreshold', message: `highest: ${about(worst.column)}; spec.monitoring.warnPSI is ${m.warnPSI}` };
  } else {
    facts.condition = { status: 'True', reason: 'PSIAboveWarning', message: `${above.map(about).join('; ')}; spec.monitoring.warnPSI is ${m.warnPSI}` };
    for (const c of above) {
      facts.events.push({ type: 'Warning', reason: DRIFTED, message: `${about(c)}, above spec.monitoring.warnPSI ${m.warnPSI}`, key: `${runId}/${DRIFTED}/${c}` });
    }
  }
  if (observed.complete && m.failPSI !== undefined && worst.psi > m.failPSI) {
    facts.failure = {
      reason: 'Drifted',
      message: `${about(worst.column)}: above spec.monitoring.failPSI ${m.failPSI}; run ${runId} is not committed`,
    };
  }
  return facts;
}
