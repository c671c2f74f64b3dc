/** OperatorMetrics: a job's status becomes labelled series on the operator's own registry, and a
 * deleted job's series go away without touching other jobs'. */
import type { BatchInferenceJobStatus } from './api/status.js';
import { OperatorMetrics } from './metrics.js';

const running: BatchInferenceJobStatus = {
  phase: 'Running',
  shards: { total: 8, pending: 3, running: 2, succeeded: 2, failed: 1, retries: 4 },
  rows: { total: 8000, processed: 2500, failed: 7 },
  rowsPerSecond: 125.5,
  gpuSeconds: 42,
};

const series = (text: string, job: string) => text.split('\n').filter((l) => !l.startsWith('#') && l.includes(`job="${job}"`));

test('observeJob writes every gauge of a job, labelled by namespace and job', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'scores', running);
  const text = await m.registry.metrics();
  for (const line of [
    'bij_shards{namespace="prod",job="scores",state="pending"} 3',
    'bij_shards{namespace="prod",job="scores",state="running"} 2',
    'bij_shards{namespace="prod",job="scores",state="succeeded"} 2',
    'bij_shards{namespace="prod",job="scores",state="failed"} 1',
    'bij_shards{namespace="prod",job="scores",state="retries"} 4',
    'bij_rows{namespace="prod",job="scores",kind="total"} 8000',
    'bij_rows{namespace="prod",job="scores",kind="processed"} 2500',
    'bij_rows{namespace="prod",job="scores",kind="failed"} 7',
    'bij_rows_per_second{namespace="prod",job="scores"} 125.5',
    'bij_gpu_seconds{namespace="prod",job="scores"} 42',
    'bij_phase{namespace="prod",job="scores",phase="Running"} 1',
    'bij_phase{namespace="prod",job="scores",phase="Pending"} 0',
    'bij_phase{namespace="prod",job="scores",phase="Failed"} 0',
  ]) expect(text).toContain(line);
  expect(series(text, 'scores')).toHaveLength(5 + 3 + 1 + 1 + 6);

  // A phase change moves the 1; a status without counts leaves the previous counts alone.
  m.observeJob('prod', 'scores', { phase: 'Succeeded' });
  const after = await m.registry.metrics();
  expect(after).toContain('bij_phase{namespace="prod",job="scores",phase="Succeeded"} 1');
  expect(after).toContain('bij_phase{namespace="prod",job="scores",phase="Running"} 0');
  expect(after).toContain('bij_rows{namespace="prod",job="scores",kind="processed"} 2500');
});

test('forgetJob removes exactly that job\'s series', async () => {
  const m = new OperatorMetrics();
  m.observeJob('prod', 'gone', running);
  m.observeJob('prod', 'kept', running);
  m.observeJob('dev', 'gone', running);
  expect(series(await m.registry.metrics(), 'gone')).toHaveLength(2 * 16);

  m.forgetJob('prod', 'gone');
  const text = await m.registry.metrics();
  expect(text).not.toContain('namespace="prod",job="gone"');
  expect(series(text, 'kept')).toHaveLength(16);
  expect(series(text, 'gone')).toHaveLength(16);
  expect(text).toContain('bij_phase{namespace="dev",job="gone",phase="Running"} 1');
  // Forgetting a job that was never observed is harmless.
  m.forgetJob('prod', 'never');
  expect(await m.registry.metrics()).toBe(text);
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
