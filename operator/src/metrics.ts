/**
 * Operator metrics on its own prom-client Registry (not the global one), so tests can read them and
 * two operators in one process never collide. Served at /metrics by serve.ts.
 *
 * Named after Prometheus' conventions: base units (seconds, ratios 0..1), `_total` only on counters,
 * and a job is labelled `namespace` and `name`, never `job` or `instance` (Prometheus' own target
 * labels: a `job` label on a series is renamed `exported_job` at scrape time). Scrape with
 * `honor_labels: true` (ServiceMonitor `honorLabels: true`), as for kube-state-metrics, so a target
 * label `namespace` (the operator's) does not rename the job's `namespace` to `exported_namespace`.
 *
 * The job series mirror the job's status. The four counters are status counts of the current run, kept
 * monotonic: within a run a count the status lowers (a failed attempt's progress no longer counts) is
 * not lowered here, the counter holds its highest value until the status passes it again; a new run
 * (a new status.runId) starts them from 0, which Prometheus reads as a counter reset. An operator that
 * restarts resumes them from the status, so rate() and increase() see no reset there.
 * The README's "Observe" section is the reference.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchInferenceJobStatus } from './api/status.js';
import { PHASES } from './api/status.js';

/** The states `bij_shards` reports; every shard is in exactly one, so they sum to the shard count. */
export const SHARD_STATES = ['pending', 'queued', 'running', 'succeeded', 'failed'] as const;

const JOB_LABELS = ['namespace', 'name'] as const;
type JobLabels = { namespace: string; name: string };

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'bij_reconcile_total', help: 'Reconciles by result (success, error, conflict).',
    labelNames: ['result'] as const, registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'bij_reconcile_duration_seconds', help: 'Time spent in one reconcile.',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'bij_workqueue_depth', help: 'Keys waiting in the work queue.', registers: [this.registry] });
  readonly leader = new Gauge({ name: 'bij_leader', help: '1 while this replica holds the leader lease.', registers: [this.registry] });

  readonly phase = new Gauge({
    name: 'bij_phase', help: '1 for the current phase of a job (status.phase), 0 for the others.',
    labelNames: [...JOB_LABELS, 'phase'] as const, registers: [this.registry],
  });
  readonly shards = new Gauge({
    name: 'bij_shards', help: 'Shards of a job\'s run by state (pending, queued, running, succeeded, failed); they sum to the shard count.',
    labelNames: [...JOB_LABELS, 'state'] as const, registers: [this.registry],
  });
  readonly speculative = new Gauge({
    name: 'bij_speculative_attempts', help: 'Speculative attempts of a job\'s stragglers running now (status.shards.speculative, spec.speculation).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly inputRows = new Gauge({
    name: 'bij_input_rows', help: 'Rows in the input of a job\'s run (status.rows.total).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly rowsPerSecond = new Gauge({
    name: 'bij_rows_per_second', help: 'Average scoring throughput of a job\'s run since it started (status.rowsPerSecond).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly modelBusy = new Gauge({
    name: 'bij_model_busy_ratio', help: 'Share (0..1) of the shards\' wall time in which the model was running a batch (status.efficiency).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly inputWait = new Gauge({
    name: 'bij_input_wait_ratio', help: 'Share (0..1) of the shards\' wall time spent waiting for input: reads and decoding (status.efficiency).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly outputWait = new Gauge({
    name: 'bij_output_wait_ratio', help: 'Share (0..1) of the shards\' wall time spent waiting on the writer (status.efficiency).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly gpuHourlyCost = new Gauge({
    name: 'bij_gpu_hourly_cost', help: 'Price of one GPU-hour from the job\'s spec.worker.gpuHourlyCost (in its currency); only for jobs that set it.',
    labelNames: JOB_LABELS, registers: [this.registry],
  });

  readonly rowsProcessed = new Counter({
    name: 'bij_rows_processed_total', help: 'Rows of a job\'s run processed so far (status.rows.processed; never lowered within a run).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly rowsFailed = new Counter({
    name: 'bij_rows_failed_total', help: 'Rows of a job\'s run that could not be scored (status.rows.failed).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly shardRetries = new Counter({
    name: 'bij_shard_retries_total', help: 'Failed shard attempts of a job\'s run, each retried unless it ends the run (status.shards.retries).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });
  readonly gpuSeconds = new Counter({
    name: 'bij_gpu_seconds_total', help: 'GPU-seconds used by a job\'s shard attempts in its run (status.gpuSeconds).',
    labelNames: JOB_LABELS, registers: [this.registry],
  });

  readonly outputValues = new Gauge({
    name: 'bij_output_values', help: 'Values of an output column in a job\'s run so far, nulls and NaN included (status.outputs[].count).',
    labelNames: [...JOB_LABELS, 'column'] as const, registers: [this.registry],
  });
  readonly outputMean = new Gauge({
    name: 'bij_output_mean', help: 'Mean of an output column\'s predictions in a job\'s run so far (status.outputs[].mean).',
    labelNames: [...JOB_LABELS, 'column'] as const, registers: [this.registry],
  });
  readonly outputStddev = new Gauge({
    name: 'bij_output_stddev', help: 'Sample standard deviation of an output column\'s predictions so far (status.outputs[].std).',
    labelNames: [...JOB_LABELS, 'column'] as const, registers: [this.registry],
  });
  readonly outputPsi = new Gauge({
    name: 'bij_output_psi', help: 'Population stability index of an output column against spec.monitoring.baseline (status.outputs[].psi).',
    labelNames: [...JOB_LABELS, 'column'] as const, registers: [this.registry],
  });
  private get outputGauges() {
    return [this.outputValues, this.outputMean, this.outputStddev, this.outputPsi];
  }
  /** Per job: the output columns its series have. */
  private readonly outputColumns = new Map<string, Set<string>>();
  /** Per job (namespace/name): the run its counters count, and the value each counter shows. */
  private readonly counted = new Map<string, { runId: string; values: Map<Counter<'namespace' | 'name'>, number> }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Mirrors one job's status (and the price from its spec, if any) into the series. A status without
   * counts leaves the previous counts alone. */
  observeJob(namespace: string, name: string, status: BatchInferenceJobStatus, spec?: unknown): void {
    const job: JobLabels = { namespace, name };
    if (status.phase) for (const p of PHASES) this.phase.set({ ...job, phase: p }, status.phase === p ? 1 : 0);
    const s = status.shards;
    if (s) for (const state of SHARD_STATES) this.shards.set({ ...job, state }, s[state] ?? 0);
    if (s?.speculative !== undefined) this.speculative.set(job, s.speculative);
    if (status.rows) this.inputRows.set(job, status.rows.total);
    if (status.rowsPerSecond !== undefined) this.rowsPerSecond.set(job, status.rowsPerSecond);
    const e = status.efficiency;
    if (e) {
      this.modelBusy.set(job, e.modelBusyPercent / 100);
      this.inputWait.set(job, e.inputWaitPercent / 100);
      this.outputWait.set(job, e.outputWaitPercent / 100);
    }
    if (status.outputs) {
      const seen = new Set<string>();
      for (const o of status.outputs) {
        const labels = { ...job, column: o.column };
        seen.add(o.column);
        this.outputValues.set(labels, o.count);
        const set = (g: Gauge<'namespace' | 'name' | 'column'>, v: number | undefined) => (v === undefined ? g.remove(labels) : g.set(labels, v));
        set(this.outputMean, o.mean);
        set(this.outputStddev, o.std);
        set(this.outputPsi, o.psi);
      }
      for (const c of this.outputColumns.get(`${namespace}/${name}`) ?? []) {
        if (!seen.has(c)) for (const g of this.outputGauges) g.remove({ ...job, column: c });
      }
      this.outputColumns.set(`${namespace}/${name}`, seen);
    }
    const price = hourlyCostOf(spec);
    if (price !== undefined) this.gpuHourlyCost.set(job, price);
    else if (spec !== undefined) this.gpuHourlyCost.remove(job);

    const runId = status.runId ?? '';
    const key = `${namespace}/${name}`;
    let counted = this.counted.get(key);
    if (counted && counted.runId !== runId && (status.rows || s || status.gpuSeconds !== undefined)) {
      // A new run: its counts start again from 0 (a counter reset to Prometheus).
      for (const c of counted.values.keys()) c.remove(job);
      counted = undefined;
    }
    if (!counted) {
      counted = { runId, values: new Map() };
      this.counted.set(key, counted);
    }
    const mirror = (c: Counter<'namespace' | 'name'>, value: number | undefined): void => {
      if (value === undefined) return;
      const shown = counted.values.get(c);
      if (shown === undefined) {
        c.inc(job, Math.max(0, value));
        counted.values.set(c, Math.max(0, value));
      } else if (value > shown) {
        c.inc(job, value - shown);
        counted.values.set(c, value);
      }
    };
    mirror(this.rowsProcessed, status.rows?.processed);
    mirror(this.rowsFailed, status.rows?.failed);
    mirror(this.shardRetries, s?.retries);
    mirror(this.gpuSeconds, status.gpuSeconds);
  }

  /** Drops a deleted job's series. */
  forgetJob(namespace: string, name: string): void {
    const job: JobLabels = { namespace, name };
    for (const p of PHASES) this.phase.remove({ ...job, phase: p });
    for (const state of SHARD_STATES) this.shards.remove({ ...job, state });
    for (const g of [this.speculative, this.inputRows, this.rowsPerSecond, this.modelBusy, this.inputWait, this.outputWait, this.gpuHourlyCost]) g.remove(job);
    for (const c of [this.rowsProcessed, this.rowsFailed, this.shardRetries, this.gpuSeconds]) c.remove(job);
    this.counted.delete(`${namespace}/${name}`);
    for (const c of this.outputColumns.get(`${namespace}/${name}`) ?? []) for (const g of this.outputGauges) g.remove({ ...job, column: c });
    this.outputColumns.delete(`${namespace}/${name}`);
  }
}

/** spec.worker.gpuHourlyCost of an unchecked spec (the informer's object), if it is a number. */
function hourlyCostOf(spec: unknown): number | undefined {
  const worker = (spec as { worker?: unknown } | undefined)?.worker;
  const cost = (worker as { gpuHourlyCost?: unknown } | undefined)?.gpuHourlyCost;
  return typeof cost === 'number' && Number.isFinite(cost) ? cost : undefined;
}
