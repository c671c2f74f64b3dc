/**
 * Operator metrics on its own prom-client Registry (not the global one), so tests can read them and
 * two operators in one process never collide. Served at /metrics by serve.ts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchInferenceJobStatus } from './api/status.js';

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
  readonly shards = new Gauge({
    name: 'bij_shards', help: 'Shards of a job by state.', labelNames: ['namespace', 'job', 'state'] as const, registers: [this.registry],
  });
  readonly rows = new Gauge({
    name: 'bij_rows', help: 'Rows of a job: total, processed, failed.', labelNames: ['namespace', 'job', 'kind'] as const, registers: [this.registry],
  });
  readonly rowsPerSecond = new Gauge({
    name: 'bij_rows_per_second', help: 'Average scoring throughput of a job since it started.', labelNames: ['namespace', 'job'] as const, registers: [this.registry],
  });
  readonly gpuSeconds = new Gauge({
    name: 'bij_gpu_seconds', help: 'GPU-seconds used by a job\'s shard attempts.', labelNames: ['namespace', 'job'] as const, registers: [this.registry],
  });
  readonly modelBusy = new Gauge({
    name: 'bij_model_busy_ratio', help: 'Share of the done shards\' wall time in which the model was running a batch (status.efficiency).',
    labelNames: ['namespace', 'job'] as const, registers: [this.registry],
  });
  readonly phase = new Gauge({
    name: 'bij_phase', help: '1 for the current phase of a job.', labelNames: ['namespace', 'job', 'phase'] as const, registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Mirrors one job's status into the gauges. */
  observeJob(namespace: string, job: string, status: BatchInferenceJobStatus): void {
    const s = status.shards;
    if (s) {
      for (const state of ['pending', 'running', 'succeeded', 'failed'] as const) this.shards.set({ namespace, job, state }, s[state]);
      this.shards.set({ namespace, job, state: 'retries' }, s.retries);
    }
    const r = status.rows;
    if (r) for (const kind of ['total', 'processed', 'failed'] as const) this.rows.set({ namespace, job, kind }, r[kind]);
    if (status.rowsPerSecond !== undefined) this.rowsPerSecond.set({ namespace, job }, status.rowsPerSecond);
    if (status.gpuSeconds !== undefined) this.gpuSeconds.set({ namespace, job }, status.gpuSeconds);
    if (status.efficiency) this.modelBusy.set({ namespace, job }, status.efficiency.modelBusyPercent / 100);
    for (const p of ['Pending', 'Running', 'Merging', 'Succeeded', 'Failed', 'Suspended']) {
      this.phase.set({ namespace, job, phase: p }, status.phase === p ? 1 : 0);
    }
  }

  /** Drops a deleted job's series. */
  forgetJob(namespace: string, job: string): void {
    this.rowsPerSecond.remove({ namespace, job });
    this.gpuSeconds.remove({ namespace, job });
    this.modelBusy.remove({ namespace, job });
    for (const state of ['pending', 'running', 'succeeded', 'failed', 'retries']) this.shards.remove({ namespace, job, state });
    for (const kind of ['total', 'processed', 'failed']) this.rows.remove({ namespace, job, kind });
    for (const p of ['Pending', 'Running', 'Merging', 'Succeeded', 'Failed', 'Suspended']) this.phase.remove({ namespace, job, phase: p });
  }
}
