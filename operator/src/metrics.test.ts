/** OperatorMetrics: a job's status becomes series on the operator's own registry, named after
 * Prometheus' conventions and labelled `namespace` and `name`; the run's counts are counters that
 * never go down within a run and start again with a new run; a deleted job's series go away without
 * touching other jobs'. */
import type { BatchInferenceJobStatus } from './api/status.js';
import { OperatorMetrics } from './metrics.js';

const running: BatchInferenceJobStatus = {
  phase: 'Running',
  runId: 'run-1',
  shards: { total: 8, pending: 2, queued: 1, running: 2, succeeded: 2, failed: 1, retries: 4 },
  rows: { total: 8000, processed: 2500, failed: 7 },
  rowsPerSecond: 125.5,
  gpuSeconds: 42,
  efficiency: { modelBusyPercent: 61, inputWaitPercent: 30, outputWaitPercent: 9, shards: 4 },
};
const spec = { worker: { gpus: 1, gpuHourlyCost: 2.5 } };

/** The sample lines (not # HELP/# TYPE) of one job. */
const series = (text: string, name: string) => text.split('\n').filter((l) => !l.startsWith('#') && l.includes(`,name="${name}"`));
const value = (text: string, line: string): number | undefined => {
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
};

test('observeJob writes every series of a job, labelled by namespace and name', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'scores', running, spec);
  const text = await m.registry.metrics();
  for (const line of [
    'bij_phase{namespace="prod",name="scores",phase="Running"} 1',
    'bij_phase{namespace="prod",name="scores",phase="Pending"} 0',
    'bij_phase{namespace="prod",name="scores",phase="Failed"} 0',
    'bij_shards{namespace="prod",name="scores",state="pending"} 2',
    'bij_shards{namespace="prod",name="scores",state="queued"} 1',
    'bij_shards{namespace="prod",name="scores",state="running"} 2',
    'bij_shards{namespace="prod",name="scores",state="succeeded"} 2',
    'bij_shards{namespace="prod",name="scores",state="failed"} 1',
    'bij_input_rows{namespace="prod",name="scores"} 8000',
    'bij_rows_per_second{namespace="prod",name="scores"} 125.5',
    'bij_model_busy_ratio{namespace="prod",name="scores"} 0.61',
    'bij_input_wait_ratio{namespace="prod",name="scores"} 0.3',
    'bij_output_wait_ratio{namespace="prod",name="scores"} 0.09',
    'bij_gpu_hourly_cost{namespace="prod",name="scores"} 2.5',
    'bij_rows_processed_total{namespace="prod",name="scores"} 2500',
    'bij_rows_failed_total{namespace="prod",name="scores"} 7',
    'bij_shard_retries_total{namespace="prod",name="scores"} 4',
    'bij_gpu_seconds_total{namespace="prod",name="scores"} 42',
  ]) expect(text).toContain(line);
  expect(series(text, 'scores')).toHaveLength(7 + 5 + 6 + 4);
  // Counters are typed as counters, and no series carries Prometheus' own target labels.
  for (const c of ['bij_rows_processed_total', 'bij_rows_failed_total', 'bij_shard_retries_total', 'bij_gpu_seconds_total']) {
    expect(text).toContain(`# TYPE ${c} counter`);
  }
  expect(text).not.toMatch(/[{,](job|instance)="/);
  expect(text).not.toContain('state="retries"');

  // A phase change moves the 1; a status without counts leaves the previous counts alone.
  m.observeJob('prod', 'scores', { phase: 'Succeeded', runId: 'run-1' });
  const after = await m.registry.metrics();
  expect(after).toContain('bij_phase{namespace="prod",name="scores",phase="Succeeded"} 1');
  expect(after).toContain('bij_phase{namespace="prod",name="scores",phase="Running"} 0');
  expect(after).toContain('bij_rows_processed_total{namespace="prod",name="scores"} 2500');
  expect(after).toContain('bij_input_rows{namespace="prod",name="scores"} 8000');
});

test('the counters follow the status up, never down within a run, and start again with a new run', async () => {
  const m = new OperatorMetrics();
  const at = async (line: string) => value(await m.registry.metrics(), line);
  const rows = 'bij_rows_processed_total{namespace="prod",name="scores"}';
  const gpu = 'bij_gpu_seconds_total{namespace="prod",name="scores"}';
  const retries = 'bij_shard_retries_total{namespace="prod",name="scores"}';
  m.observeJob('prod', 'scores', running, spec);
  m.observeJob('prod', 'scores', { ...running, rows: { total: 8000, processed: 4000, failed: 7 }, gpuSeconds: 60 }, spec);
  expect(await at(rows)).toBe(4000);
  expect(await at(gpu)).toBe(60);
  // An attempt failed: its progress no longer counts in the status. The counter holds its value...
  m.observeJob('prod', 'scores', {
    ...running, shards: { ...running.shards!, retries: 5 }, rows: { total: 8000, processed: 3100, failed: 7 }, gpuSeconds: 55,
  }, spec);
  expect(await at(rows)).toBe(4000);
  expect(await at(gpu)).toBe(60);
  expect(await at(retries)).toBe(5);
  // ...until the status passes it again.
  m.observeJob('prod', 'scores', { ...running, rows: { total: 8000, processed: 4500, failed: 7 }, gpuSeconds: 70 }, spec);
  expect(await at(rows)).toBe(4500);
  expect(await at(gpu)).toBe(70);
  expect(await at(retries)).toBe(5); // the status said 4 again: still not lowered

  // A spec edit starts a new run: its counts start from zero (a counter reset to Prometheus).
  m.observeJob('prod', 'scores', {
    phase: 'Running', runId: 'run-2', shards: { total: 4, pending: 4, running: 0, succeeded: 0, failed: 0, retries: 0 },
    rows: { total: 4000, processed: 10, failed: 0 },
  }, { worker: {} });
  const text = await m.registry.metrics();
  expect(value(text, rows)).toBe(10);
  expect(value(text, retries)).toBe(0);
  expect(value(text, gpu)).toBeUndefined(); // the new run has no GPU-seconds yet
  expect(value(text, 'bij_input_rows{namespace="prod",name="scores"}')).toBe(4000);
  expect(value(text, 'bij_gpu_hourly_cost{namespace="prod",name="scores"}')).toBeUndefined(); // the price was removed from the spec
});

test('forgetJob removes exactly that job\'s series, and a job observed again starts afresh', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'gone', running, spec);
  m.observeJob('prod', 'kept', running, spec);
  m.observeJob('dev', 'gone', running, spec);
  expect(series(await m.registry.metrics(), 'gone')).toHaveLength(2 * 22);

  m.forgetJob('prod', 'gone');
  const text = await m.registry.metrics();
  expect(text).not.toContain('namespace="prod",name="gone"');
  expect(series(text, 'kept')).toHaveLength(22);
  expect(series(text, 'gone')).toHaveLength(22);
  expect(text).toContain('bij_phase{namespace="dev",name="gone",phase="Running"} 1');
  // Forgetting a job that was never observed is harmless.
  m.forgetJob('prod', 'never');
  expect(await m.registry.metrics()).toBe(text);
  // A new job of the same name (same run id, fewer rows) is counted from its own status.
  m.observeJob('prod', 'gone', { ...running, rows: { total: 10, processed: 1, failed: 0 } });
  expect(value(await m.registry.metrics(), 'bij_rows_processed_total{namespace="prod",name="gone"}')).toBe(1);
});

test('each operator has its own registry; reconcile results are counted by label', async () => {
  const a = new OperatorMetrics();
  const b = new OperatorMetrics();
  a.reconciles.inc({ result: 'conflict' });
  a.reconciles.inc({ result: 'conflict' });
  a.reconciles.inc({ result: 'success' });
  const text = await a.registry.metrics();
  expect(text).toContain('bij_reconcile_total{result="conflict"} 2');
  expect(text).toContain('bij_reconcile_total{result="success"} 1');
  expect(await b.registry.metrics()).not.toContain('bij_reconcile_total{');
  expect(await b.registry.metrics()).not.toContain('process_cpu');
  expect(await new OperatorMetrics({ defaultMetrics: true }).registry.metrics()).toContain('process_cpu');
});

test('speculative attempts (spec.speculation) get a gauge, removed with the job; none without the field', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'spec', { ...running, shards: { ...running.shards!, speculative: 1 } });
  m.observeJob('prod', 'plain', running);
  const text = await m.registry.metrics();
  expect(text).toContain('bij_speculative_attempts{namespace="prod",name="spec"} 1');
  expect(text).not.toContain('bij_speculative_attempts{namespace="prod",name="plain"}');
  m.forgetJob('prod', 'spec');
  expect(await m.registry.metrics()).not.toContain('bij_speculative_attempts{namespace="prod",name="spec"}');
});

test('output columns (status.outputs): values, mean, stddev and PSI per column; gone with the column or the job', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'drift', {
    ...running,
    outputs: [
      { column: 'score', count: 900, nulls: 0, nan: 0, min: 0.01, max: 0.99, mean: 0.42, std: 0.2, psi: 0.31, meanShift: 0.1 },
      { column: 'rank', count: 900, nulls: 0, nan: 0 },
    ],
  });
  const text = await m.registry.metrics();
  for (const line of [
    'bij_output_values{namespace="prod",name="drift",column="score"} 900',
    'bij_output_mean{namespace="prod",name="drift",column="score"} 0.42',
    'bij_output_stddev{namespace="prod",name="drift",column="score"} 0.2',
    'bij_output_psi{namespace="prod",name="drift",column="score"} 0.31',
    'bij_output_values{namespace="prod",name="drift",column="rank"} 900',
  ]) expect(text).toContain(line);
  // A column without a mean or a baseline has no such series.
  expect(text).not.toContain('bij_output_mean{namespace="prod",name="drift",column="rank"}');
  expect(text).not.toContain('bij_output_psi{namespace="prod",name="drift",column="rank"}');
  m.observeJob('prod', 'drift', { ...running, outputs: [{ column: 'score', count: 1000, nulls: 0, nan: 0, mean: 0.4 }] });
  const next = await m.registry.metrics();
  expect(next).toContain('bij_output_values{namespace="prod",name="drift",column="score"} 1000');
  expect(next).not.toContain('column="rank"');
  expect(next).not.toContain('bij_output_psi{namespace="prod",name="drift",column="score"}');
  m.forgetJob('prod', 'drift');
  expect(await m.registry.metrics()).not.toContain('name="drift",column=');
});
