/**
 * The dashboard and the alerting rules against real series: `bij up`'s cluster (the real control
 * plane, the process kubelet with two fake GPUs, the unmodified operator as its ServiceAccount) runs a
 * GPU job whose first attempt of shard 0 crashes (so it retries), while a real Prometheus server
 * scrapes the operator's /metrics every second and evaluates helm/bij-operator/rules/bij-alerts.yaml.
 * Then every dashboard panel's query, its variables replaced as Grafana would, returns series over the
 * run through Prometheus' HTTP API (query_range, as Grafana's panels ask), with values that say what
 * the run did; and the variables' label_values queries list the job.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { up, type UpCluster } from '../../cluster/src/up/up.js';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { BIJ_REF, makeClients } from '../../operator/src/kube/clients.js';
import { silentLogger } from '../../operator/src/log.js';
import { until } from '../../core/testing/until.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { FAST_OPERATOR_ARGS } from '../support/operator-process.js';
import { buildPrometheusTools } from './binaries.js';
import { labelValuesQuery, loadDashboard, queryPanels, substitute } from './dashboard.js';
import { startPrometheus, type PrometheusServer } from './server.js';
import { faultEnv } from '../support/fault-env.js';

const NS = 'ml-scoring';
const NAME = 'churn-gpu';
const PRICE = 3; // spec.worker.gpuHourlyCost
/** What Grafana's $__rate_interval would be for a 1 s scrape interval (4 x the interval), rounded up. */
const RATE_INTERVAL = '5s';

interface Series { metric: Record<string, string>; values: [number, string][] }

let root: string;
let cluster: UpCluster | undefined;
let prom: PrometheusServer | undefined;
let run: { start: number; end: number };

beforeAll(async () => {
  const { prometheus } = await buildPrometheusTools();
  root = mkdtempSync(path.join(tmpdir(), 'bij-prom-e2e-'));
  // 8 row groups of 256 rows per file (a worker's batch never spans one): progress in steps.
  const model = writeModel(path.join(root, 'models'));
  await writeDataset(path.join(root, 'in'), { files: 4, rowsPerFile: 2_048, rowGroupRows: 256 });
  // Pods inherit the kubelet's environment: the worker's test hook slows each batch and crashes the
  // first attempt of shard 0 at its first batch (exit code 1), so the run has a retry to show.
  const saved = { ...process.env };
  Object.assign(process.env, faultEnv({ BIJ_FAULT: 'slow-rows:400,exit-at-batch:1:0:0' }));
  try {
    cluster = await up({ cwd: root, gpus: 2, log: silentLogger(), operatorArgs: FAST_OPERATOR_ARGS });
  } finally {
    for (const k of ['BIJ_FAULT', 'BIJ_FAULT_HOOKS_PRELOAD', 'NODE_OPTIONS']) {
      if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  }
  const logFile = cluster.operator().logFile;
  const port = await until(`the operator's metrics port in ${logFile}`, () => {
    const line = readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('"serving metrics"'));
    return line ? (JSON.parse(line) as { port: number }).port : undefined;
  }, 30_000, 100);

  // honor_labels, as the chart's ServiceMonitor must: the job's `namespace` label wins over a target's.
  prom = await startPrometheus(prometheus, [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'rule_files: [bij-alerts.yaml]',
    'scrape_configs:',
    '  - job_name: bij-operator',
    '    honor_labels: true',
    `    static_configs: [{ targets: ["127.0.0.1:${port}"] }]`,
    '',
  ].join('\n'), { 'bij-alerts.yaml': readFileSync(path.join(repoRoot(), 'helm', 'bij-operator', 'rules', 'bij-alerts.yaml'), 'utf8') });

  // Prometheus reads its targets a few seconds after it starts: the run starts once it scrapes.
  await until('Prometheus to scrape the operator', async () => {
    const r = await prom!.api<{ result: unknown[] }>('query', { query: 'up{job="bij-operator"} == 1' });
    return r.result.length > 0;
  }, 30_000, 250);

  const clients = makeClients(cluster.controlPlane.kubeConfig());
  await clients.core.createNamespace({ body: { metadata: { name: NS } } });
  const start = Date.now();
  await clients.custom.createNamespacedCustomObject({
    ...BIJ_REF, namespace: NS,
    body: {
      apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name: NAME, namespace: NS },
      spec: {
        model: { uri: model, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
        input: { uri: path.join(root, 'in') + '/', idColumn: 'id' },
        output: { uri: path.join(root, 'out', NAME) + '/' },
        shards: 4, parallelism: 2, batchSize: 128, maxRetries: 3,
        worker: { executionProvider: 'cpu', gpus: 1, gpuHourlyCost: PRICE },
      },
    },
  });
  const phase = await until(`${NS}/${NAME} to finish`, async () => {
    const obj = await clients.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: NAME }) as { status?: { phase?: string; message?: string } };
    const p = obj.status?.phase;
    return p === 'Succeeded' || p === 'Failed' ? `${p}: ${obj.status?.message}` : undefined;
  }, 75_000, 250);
  expect(phase).toMatch(/^Succeeded/);
  // Two more scrapes, so the finished state is in the TSDB too.
  await new Promise((r) => setTimeout(r, 2_500));
  run = { start: Math.floor(start / 1000) - 2, end: Math.ceil(Date.now() / 1000) };
}, 170_000);

afterAll(async () => {
  await prom?.stop();
  await cluster?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

const range = (expr: string): Promise<Series[]> =>
  prom!.api<{ resultType: string; result: Series[] }>('query_range', { query: expr, start: String(run.start), end: String(run.end), step: '1s' })
    .then((d) => d.result);
const numbers = (s: Series[]): number[] => s.flatMap((x) => x.values.map(([, v]) => Number(v)));
const last = (s: Series[]): number => Number(s[0].values[s[0].values.length - 1][1]);

test('Prometheus scraped the operator: target up, job series labelled namespace and name, none renamed exported_*', async () => {
  const targets = await prom!.api<{ activeTargets: { health: string; lastError: string; labels: Record<string, string> }[] }>('targets');
  expect(targets.activeTargets.map((t) => [t.labels.job, t.health, t.lastError])).toEqual([['bij-operator', 'up', '']]);
  const series = await prom!.api<Record<string, string>[]>('series', { 'match[]': '{__name__=~"bij_.+", name!=""}', start: String(run.start), end: String(run.end) });
  expect(series.length).toBeGreaterThan(10);
  for (const s of series) {
    expect(Object.keys(s).filter((k) => k.startsWith('exported_'))).toEqual([]);
    expect([s.namespace, s.name]).toEqual([NS, NAME]);
  }
});

test('the namespace and job variables list the job', async () => {
  const [, ns, name] = loadDashboard().templating.list;
  const values = async (v: typeof ns, vars: Record<string, string>): Promise<string[]> => {
    const { match, label } = labelValuesQuery(v);
    return prom!.api<string[]>(`label/${label}/values`, { 'match[]': substitute(match, vars, RATE_INTERVAL), start: String(run.start), end: String(run.end) });
  };
  expect(await values(ns, {})).toEqual([NS]);
  expect(await values(name, { namespace: NS })).toEqual([NAME]);
  expect(await values(name, { namespace: 'elsewhere' })).toEqual([]);
});

test('every dashboard panel\'s query returns series over the run', async () => {
  const empty: string[] = [];
  const results = new Map<string, Series[][]>();
  for (const panel of queryPanels(loadDashboard())) {
    const perTarget: Series[][] = [];
    for (const t of panel.targets ?? []) {
      // With "All" selected Grafana puts in the variables' allValue (.*); here the job itself.
      const expr = substitute(t.expr, { namespace: NS, name: NAME }, RATE_INTERVAL);
      const result = await range(expr);
      if (result.length === 0) empty.push(`${panel.title} (${t.refId}): ${expr}`);
      perTarget.push(result);
    }
    results.set(panel.title, perTarget);
  }
  expect(empty).toEqual([]);

  // And the values tell the run's story.
  const [phases] = results.get('Jobs by phase')!;
  expect(phases.map((s) => s.metric.phase).sort()).toEqual(['Failed', 'Merging', 'Pending', 'Running', 'Succeeded', 'Suspended', 'Waiting']);
  expect(last(phases.filter((s) => s.metric.phase === 'Succeeded'))).toBe(1);
  expect(numbers(phases.filter((s) => s.metric.phase === 'Running'))).toContain(1);
  expect(Math.max(...numbers(results.get('Progress')![0]))).toBe(1);
  const [rate, average] = results.get('Rows per second')!;
  expect(Math.max(...numbers(rate))).toBeGreaterThan(0);
  expect(Math.max(...numbers(average))).toBeGreaterThan(0);
  expect(numbers(results.get('ETA')![0]).some((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  const [busy, inputWait] = results.get('Model busy vs input wait')!;
  for (const v of [...numbers(busy), ...numbers(inputWait)]) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  expect(Math.max(...numbers(busy))).toBeGreaterThan(0);
  // Predictions: the churn score's mean and standard deviation, probabilities both.
  const [means, stds] = results.get('Prediction mean and standard deviation')!;
  expect(means.map((s) => s.metric.column)).toEqual(['churn_score']);
  for (const v of [...numbers(means), ...numbers(stds)]) {
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(1);
  }
  expect(last(results.get('Shard retries')![0])).toBeGreaterThanOrEqual(1);
  const gpuSeconds = last(results.get('GPU-seconds')![0]);
  expect(gpuSeconds).toBeGreaterThan(0);
  expect(last(results.get('Estimated cost')![0])).toBeCloseTo((gpuSeconds / 3600) * PRICE, 9);
  const [shardsByState] = results.get('Shards by state')!;
  expect(shardsByState.map((s) => s.metric.state).sort()).toEqual(['failed', 'pending', 'queued', 'running', 'succeeded']);
  expect(last(shardsByState.filter((s) => s.metric.state === 'succeeded'))).toBe(4);
});

test('Prometheus evaluates the alerting rules on the real series without errors, and a succeeded job fires none', async () => {
  const { groups } = await prom!.api<{ groups: { rules: { name: string; type: string; health: string; lastError?: string }[] }[] }>('rules');
  const rules = groups.flatMap((g) => g.rules);
  expect(rules.map((r) => [r.name, r.type, r.health, r.lastError ?? ''])).toEqual([
    ['BatchInferenceJobFailed', 'alerting', 'ok', ''],
    ['BatchInferenceJobNoProgress', 'alerting', 'ok', ''],
    ['BatchInferenceJobGPUStarving', 'alerting', 'ok', ''],
    ['BatchInferenceJobRetriesClimbing', 'alerting', 'ok', ''],
    ['BatchInferenceJobDrifted', 'alerting', 'ok', ''],
  ]);
  const { alerts } = await prom!.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts');
  expect(alerts.map((a) => `${a.labels.alertname} ${a.state}`)).toEqual([]);
});
