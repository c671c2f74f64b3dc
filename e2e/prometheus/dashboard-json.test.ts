/**
 * The Grafana dashboard's JSON, checked without Grafana (AGPL, not used here): the data source is a
 * variable, every panel queries through it, the namespace and job variables filter every job series,
 * every metric a query reads is one the operator exposes, no query matches Prometheus' target labels
 * (job, instance), panels do not overlap, and the topics the dashboard promises each have a panel.
 * e2e/prometheus/dashboard.test.ts runs every query against a real Prometheus.
 */
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { allPanels, labelValuesQuery, loadDashboard, queryPanels, substitute } from './dashboard.js';

const d = loadDashboard();
const DS_UID = '${datasource}';
/** Series that carry a job's namespace and name. */
const JOB_METRICS = ['bij_phase', 'bij_shards', 'bij_input_rows', 'bij_rows_per_second', 'bij_model_busy_ratio', 'bij_input_wait_ratio',
  'bij_output_wait_ratio', 'bij_gpu_hourly_cost', 'bij_rows_processed_total', 'bij_rows_failed_total', 'bij_shard_retries_total', 'bij_gpu_seconds_total',
  'bij_output_mean', 'bij_output_stddev'];

const exprs = (): { panel: string; expr: string }[] => queryPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

test('the data source, namespace and job are variables', () => {
  expect(d.uid).toBe('bij-batch-inference');
  expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
  const [ds, ns, name, ...rest] = d.templating.list;
  expect(rest).toEqual([]);
  expect(ds).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
  for (const v of [ns, name]) {
    expect(v).toMatchObject({ type: 'query', datasource: { type: 'prometheus', uid: DS_UID }, includeAll: true, multi: true, allValue: '.*' });
  }
  expect(ns.name).toBe('namespace');
  expect(labelValuesQuery(ns)).toEqual({ match: 'bij_phase', label: 'namespace' });
  expect(name.name).toBe('name');
  expect(labelValuesQuery(name)).toEqual({ match: 'bij_phase{namespace=~"$namespace"}', label: 'name' });
});

test('every panel queries through the data source variable, with unique ref ids', () => {
  const panels = queryPanels(d);
  expect(panels.length).toBeGreaterThanOrEqual(12);
  for (const p of panels) {
    expect({ panel: p.title, ds: p.datasource }).toEqual({ panel: p.title, ds: { type: 'prometheus', uid: DS_UID } });
    expect({ panel: p.title, targets: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, targets: true });
    const refIds = p.targets!.map((t) => t.refId);
    expect(new Set(refIds).size).toBe(refIds.length);
    for (const t of p.targets!) {
      expect({ panel: p.title, ds: t.datasource }).toEqual({ panel: p.title, ds: { type: 'prometheus', uid: DS_UID } });
      expect(t.expr.trim()).not.toBe('');
    }
  }
  const ids = allPanels(d).map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
});

test('queries read only exposed metrics, filter every job series by $namespace and $name, and never match job or instance', async () => {
  const exposed = new Set((await new OperatorMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const read = new Set<string>();
  for (const { panel, expr } of exprs()) {
    for (const m of expr.matchAll(/\b(bij_[a-z_]+?)(_bucket|_sum|_count)?\b(\{[^}]*\})?/g)) {
      const [, name, suffix, matchers] = m;
      read.add(name);
      expect({ panel, name, exposed: exposed.has(name) }).toEqual({ panel, name, exposed: true });
      if (suffix) expect({ panel, name, histogram: name === 'bij_reconcile_duration_seconds' }).toEqual({ panel, name, histogram: true });
      if (JOB_METRICS.includes(name)) {
        expect({ panel, selector: m[0], filtered: matchers?.includes('namespace=~"$namespace"') && matchers.includes('name=~"$name"') })
          .toEqual({ panel, selector: m[0], filtered: true });
      }
    }
    expect({ panel, expr, targetLabels: /\b(job|instance)\s*(=|!=|=~|!~)|\b(by|on|without|ignoring)\s*\([^)]*\b(job|instance)\b/.test(expr) })
      .toEqual({ panel, expr, targetLabels: false });
    // Substitution leaves no variable behind.
    expect(substitute(expr, { namespace: 'ns', name: 'n' }, '1m')).not.toContain('$');
  }
  // Every job metric the operator exposes shows up somewhere.
  for (const name of JOB_METRICS) expect({ name, read: read.has(name) }).toEqual({ name, read: true });
});

test('the promised panels are there', () => {
  const byTitle = new Map(queryPanels(d).map((p) => [p.title, p.targets!.map((t) => t.expr).join('\n')]));
  const has = (title: string, ...needles: (string | RegExp)[]) => {
    const expr = byTitle.get(title);
    expect({ title, found: expr !== undefined }).toEqual({ title, found: true });
    for (const n of needles) expect(expr).toMatch(n);
  };
  has('Jobs by phase', /sum by \(phase\)/, 'bij_phase');
  has('Rows per second', /rate\(bij_rows_processed_total/);
  has('Prediction mean and standard deviation', /by \(namespace, name, column\) \(bij_output_mean/, /bij_output_stddev/);
  has('Progress', /bij_rows_processed_total.*\/.*bij_input_rows/);
  has('ETA', /bij_input_rows.*-.*bij_rows_processed_total/s, /\/ .*rate\(bij_rows_processed_total/, 'phase="Running"');
  has('Model busy vs input wait', 'bij_model_busy_ratio', 'bij_input_wait_ratio');
  has('Shard retries', 'bij_shard_retries_total');
  has('Failures', 'state="failed"', 'bij_rows_failed_total', 'phase="Failed"');
  has('GPU-seconds', 'bij_gpu_seconds_total');
  has('Estimated cost', /bij_gpu_seconds_total.*\/ 3600\s*\*\s*on \(namespace, name\).*bij_gpu_hourly_cost/s);
  expect(queryPanels(d).find((p) => p.title === 'Progress')!.fieldConfig?.defaults?.unit).toBe('percentunit');
  expect(queryPanels(d).find((p) => p.title === 'ETA')!.fieldConfig?.defaults?.unit).toBe('s');
});

test('panels sit on Grafana\'s 24-column grid without overlapping', () => {
  const boxes = allPanels(d).map((p) => ({ title: p.title, ...p.gridPos }));
  for (const b of boxes) {
    expect(b.x).toBeGreaterThanOrEqual(0);
    expect(b.x + b.w).toBeLessThanOrEqual(24);
    expect(b.h).toBeGreaterThan(0);
  }
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      expect({ a: a.title, b: b.title, overlap }).toEqual({ a: a.title, b: b.title, overlap: false });
    }
  }
});
