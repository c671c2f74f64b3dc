/**
 * The Helm chart checked with the real helm (v4, built from tools/helm): lint, template with the
 * default values and with every optional part on, release-scoped names, the RBAC rules `bij up` uses,
 * the monitoring objects read from the chart's files, and values.schema.json refusing wrong values
 * by name. (e2e/helm/apiserver.test.ts sends the rendered objects to a real API server;
 * install.test.ts installs the chart and runs a job under its operator.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { chartRbac } from '../../cluster/src/up/chart-rbac.js';
import { helmBinaryPath } from '../../cluster/src/tools/helm.js';
import { ALL_ON, CHART, helm, helmOk, kinds, one, render, setJson, type Obj } from './helm.js';

type Container = { args: string[]; env: { name: string }[]; resources: unknown; image: string; envFrom?: unknown[] };
const podSpec = (objs: Obj[]) => (one(objs, 'Deployment').spec as { template: { spec: Record<string, unknown> & { containers: Container[] } } }).template.spec;
const args = (objs: Obj[]) => podSpec(objs).containers[0].args;

test('helm is the pinned v4.3.2', async () => {
  expect(helmBinaryPath()).toMatchObject({ module: 'helm.sh/helm/v4', version: 'v4.3.2' });
  expect(await helmOk(['version', '--short'])).toMatch(/^v4\.3\.2/);
});

test('helm lint --strict passes with the default values and with every optional part on', async () => {
  const lint = await helmOk(['lint', '--strict', CHART]);
  expect(lint).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  expect(lint).not.toMatch(/\[(WARNING|ERROR)\]/);
  const allOn = await helmOk(['lint', '--strict', CHART, ...setJson(ALL_ON), '--set-json', 'watchNamespaces=["team-a"]']);
  expect(allOn).toMatch(/0 chart\(s\) failed/);
  expect(allOn).not.toMatch(/\[(WARNING|ERROR)\]/);
});

test('default values: the operator with a ClusterRole, leader election and a PodDisruptionBudget, names scoped to the release', async () => {
  const objs = await render('bij', 'bij-system');
  expect(kinds(objs)).toEqual([
    'ClusterRole/bij-system-bij-bij-operator',
    'ClusterRoleBinding/bij-system-bij-bij-operator',
    'Deployment/bij-system/bij-bij-operator',
    'PodDisruptionBudget/bij-system/bij-bij-operator',
    'Role/bij-system/bij-bij-operator-leader',
    'RoleBinding/bij-system/bij-bij-operator-leader',
    'Service/bij-system/bij-bij-operator-metrics',
    'ServiceAccount/bij-system/bij-bij-operator',
  ]);
  // A release named like the chart keeps the plain name.
  expect(kinds(await render('bij-operator', 'ops'))).toContain('Deployment/ops/bij-operator');
  const crb = one(objs, 'ClusterRoleBinding') as unknown as { subjects: unknown[]; roleRef: { name: string } };
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'bij-bij-operator', namespace: 'bij-system' }]);
  expect(crb.roleRef.name).toBe('bij-system-bij-bij-operator');
  expect(args(objs)).toEqual(['--metrics-port=8080', '--lease-namespace=bij-system', '--lease-name=bij-bij-operator', '--workers=4']);
  const spec = podSpec(objs);
  expect(spec.serviceAccountName).toBe('bij-bij-operator');
  expect(spec.containers[0].image).toBe('ghcr.io/batchinference/bij-operator:0.1.0');
  expect((one(objs, 'Deployment').spec as { replicas: number }).replicas).toBe(2);
  expect(one(objs, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
  // Nothing that needs prometheus-operator's CRDs unless asked for.
  expect(objs.filter((o) => ['ServiceMonitor', 'PrometheusRule', 'ConfigMap'].includes(o.kind!))).toEqual([]);
});

test('the roles carry exactly the rules `bij up` and the tests grant (cluster/src/up/chart-rbac.ts)', async () => {
  const { operatorRules, leaderRules } = chartRbac();
  const objs = await render('bij', 'bij-system');
  expect(one(objs, 'ClusterRole').rules).toEqual(operatorRules);
  expect(one(objs, 'Role').rules).toEqual(leaderRules);
  const scoped = await render('bij', 'bij-system', { watchNamespaces: ['team-a'] });
  expect(one(scoped, 'Role', 'bij-bij-operator').rules).toEqual(operatorRules);
  // what the operator needs, as the reconciler uses it
  expect(operatorRules).toContainEqual({ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'delete'] });
  expect(leaderRules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
});

test('every optional part on: ServiceMonitor, PrometheusRule from rules/bij-alerts.yaml, dashboard ConfigMap, IRSA, placement, policy', async () => {
  const objs = await render('bij', 'bij-system', ALL_ON);
  const service = one(objs, 'Service');
  const sm = one(objs, 'ServiceMonitor') as Obj & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: unknown; endpoints: Record<string, unknown>[] } };
  expect(sm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
  // it selects the metrics Service, by labels the Service has, on a port the Service names
  expect(service.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
  expect((service.spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toContain(sm.spec.endpoints[0].port);
  expect(sm.spec.namespaceSelector).toEqual({ matchNames: ['bij-system'] });
  expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics', honorLabels: true, interval: '15s', scrapeTimeout: '10s', relabelings: ALL_ON.metrics.serviceMonitor.relabelings });

  const rules = one(objs, 'PrometheusRule') as Obj & { spec: { groups: unknown[] } };
  const file = parse(readFileSync(path.join(CHART, 'rules', 'bij-alerts.yaml'), 'utf8')) as { groups: unknown[] };
  expect(file.groups.length).toBeGreaterThan(0);
  expect(rules.spec.groups).toEqual(file.groups);
  expect(rules.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });

  const dashboard = one(objs, 'ConfigMap');
  expect(dashboard.metadata).toMatchObject({ name: 'bij-bij-operator-dashboard', namespace: 'bij-system', labels: { grafana_dashboard: '1', team: 'ml' }, annotations: { grafana_folder: 'Batch inference' } });
  const json = (dashboard.data as Record<string, string>)['batch-inference.json'];
  expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(path.join(CHART, 'dashboards', 'batch-inference.json'), 'utf8')));

  expect(one(objs, 'ServiceAccount').metadata).toMatchObject({ name: 'bij-sa', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/bij-operator' } });
  const spec = podSpec(objs);
  expect(spec).toMatchObject({
    serviceAccountName: 'bij-sa', nodeSelector: ALL_ON.nodeSelector, tolerations: ALL_ON.tolerations, affinity: ALL_ON.affinity,
    imagePullSecrets: ALL_ON.imagePullSecrets, priorityClassName: 'system-cluster-critical',
  });
  expect(spec.containers[0].resources).toEqual(ALL_ON.resources);
  expect(spec.containers[0].envFrom).toEqual(ALL_ON.envFrom);
  expect(spec.containers[0].env.map((e) => e.name)).toEqual(['BIJ_LOG_LEVEL', 'POD_NAME', 'POD_NAMESPACE', 'AWS_REGION']);
  expect(args(objs)).toEqual([
    '--metrics-port=8080', '--lease-namespace=bij-system', '--lease-name=bij-lease', '--workers=8',
    '--allowed-image-prefixes=ghcr.io/batchinference/', '--allowed-service-accounts=bij-worker', '--no-secret-env', '--resync-ms=30000',
  ]);
  expect(one(objs, 'RoleBinding').subjects).toEqual([{ kind: 'ServiceAccount', name: 'bij-sa', namespace: 'bij-system' }]);
  const tpl = (one(objs, 'Deployment').spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } }).template.metadata;
  expect(tpl.labels).toMatchObject({ team: 'ml', 'app.kubernetes.io/instance': 'bij' });
  expect(tpl.annotations).toMatchObject({ 'example.com/a': 'b', 'prometheus.io/port': '8080' });
});

test('watchNamespaces: a Role and RoleBinding in the watched namespace, nothing cluster-wide, --namespace', async () => {
  const objs = await render('bij', 'bij-system', { watchNamespaces: ['team-a'] });
  expect(objs.filter((o) => o.kind!.startsWith('Cluster'))).toEqual([]);
  const role = one(objs, 'Role', 'bij-bij-operator');
  expect(role.metadata.namespace).toBe('team-a');
  expect(one(objs, 'RoleBinding', 'bij-bij-operator')).toMatchObject({
    metadata: { namespace: 'team-a' }, roleRef: { kind: 'Role', name: 'bij-bij-operator' },
    subjects: [{ kind: 'ServiceAccount', name: 'bij-bij-operator', namespace: 'bij-system' }],
  });
  // the Lease stays in the release namespace
  expect(one(objs, 'Role', 'bij-bij-operator-leader').metadata.namespace).toBe('bij-system');
  expect(args(objs)).toContain('--namespace=team-a');
});

test('leaderElection off with one replica, rbac.create=false, an existing ServiceAccount, one replica without a PodDisruptionBudget', async () => {
  const objs = await render('bij', 'bij-system', { replicas: 1, leaderElection: { enabled: false }, rbac: { create: false }, serviceAccount: { create: false, name: 'platform-sa' } });
  expect(kinds(objs)).toEqual(['Deployment/bij-system/bij-bij-operator', 'Service/bij-system/bij-bij-operator-metrics']);
  expect(args(objs)).toEqual(['--metrics-port=8080', '--no-leader-elect', '--workers=4']);
  expect(podSpec(objs).serviceAccountName).toBe('platform-sa');
  const lease = await render('bij', 'bij-system', { replicas: 1, leaderElection: { leaseNamespace: 'kube-system', leaseName: 'bij' } });
  expect(one(lease, 'Role').metadata.namespace).toBe('kube-system');
  expect(args(lease)).toEqual(expect.arrayContaining(['--lease-namespace=kube-system', '--lease-name=bij']));
  expect(lease.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
});

test('two releases in two namespaces render no object with the same name and scope', async () => {
  const a = await render('bij', 'team-a', ALL_ON);
  const b = await render('bij', 'team-b', ALL_ON);
  const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  expect(ids(a).filter((id) => ids(b).includes(id))).toEqual([]);
  expect(one(a, 'ClusterRole').metadata.name).toBe('team-a-bij-bij-operator');
  expect(one(b, 'ClusterRole').metadata.name).toBe('team-b-bij-bij-operator');
});

describe('values.schema.json refuses a wrong value, naming it', () => {
  test.each<[string, string[], RegExp]>([
    ['a string for replicas', ['--set', 'replicas=two'], /at '\/replicas': got string, want integer/],
    ['zero replicas', ['--set', 'replicas=0'], /at '\/replicas': minimum: got 0, want 1/],
    ['the old watchNamespace value', ['--set', 'watchNamespace=team-a'], /additional properties 'watchNamespace' not allowed/],
    ['the old metrics.serviceMonitor: false', ['--set', 'metrics.serviceMonitor=false'], /at '\/metrics\/serviceMonitor': got boolean, want object/],
    ['two watched namespaces', ['--set-json', 'watchNamespaces=["a","b"]'], /at '\/watchNamespaces': maxItems: got 2, want 1/],
    ['a namespace that is no DNS label', ['--set-json', 'watchNamespaces=["Team_A"]'], /at '\/watchNamespaces\/0'/],
    ['an unknown pull policy', ['--set', 'image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy'/],
    ['a port out of range', ['--set', 'metrics.port=70000'], /at '\/metrics\/port': maximum/],
    ['a misspelt key under metrics.rules', ['--set', 'metrics.rules.enable=true'], /at '\/metrics\/rules': additional properties 'enable' not allowed/],
    ['a non-string annotation (IRSA)', ['--set-json', 'serviceAccount.annotations={"eks.amazonaws.com/role-arn":1}'], /at '\/serviceAccount\/annotations\/eks.amazonaws.com~1role-arn': got number, want string/],
    ['a scrape interval that is no duration', ['--set', 'metrics.serviceMonitor.interval=often'], /at '\/metrics\/serviceMonitor\/interval'/],
  ])('%s', async (_, set, want) => {
    const r = await helm(['template', 'bij', CHART, ...set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(want);
  });

  test('and from a values file too, as `helm install -f` reads it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bij-helm-values-'));
    const file = path.join(dir, 'values.yaml');
    writeFileSync(file, stringify({ replicas: '2', leaderElection: { enabled: 'true' } }));
    expect(readFileSync(file, 'utf8')).toMatch(/replicas: "2"/);
    const r = await helm(['template', 'bij', CHART, '-f', file]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/at '\/replicas': got string, want integer/);
    expect(r.stderr).toMatch(/at '\/leaderElection\/enabled': got string, want boolean/);
  });
});

describe('combinations the schema cannot express fail the render, saying what to change', () => {
  test.each<[string, string[], RegExp]>([
    ['two replicas without leader election', ['--set', 'leaderElection.enabled=false'], /replicas: 2 replicas need leaderElection.enabled=true/],
    ['an existing ServiceAccount without its name', ['--set', 'serviceAccount.create=false'], /serviceAccount.name: with serviceAccount.create=false, name the existing ServiceAccount/],
  ])('%s', async (_, set, want) => {
    const r = await helm(['template', 'bij', CHART, ...set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(want);
  });
});
