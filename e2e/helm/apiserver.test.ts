/**
 * The chart's rendered objects against the real kube-apiserver (v1.34, useControlPlane): a
 * server-side dry run (dryRun=All: validated, admitted, RBAC-escalation checked, not stored) with the
 * default values and with every optional part on, the ServiceMonitor and PrometheusRule CRDs from the
 * prometheus-operator module installed first; then two real `helm install`s of the same release name
 * in two namespaces, which must not collide, and the RBAC they grant as the API server judges it.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useControlPlane } from '../support/control-plane.js';
import { ALL_ON, CHART, dryRunCreate, helmOk, installCrds, one, prometheusOperatorCrds, render, setJson, type Obj } from './helm.js';

const cp = useControlPlane();
const dir = mkdtempSync(path.join(tmpdir(), 'bij-helm-api-'));
let kubeconfig: string;
let kc: k8s.KubeConfig;

beforeAll(async () => {
  kc = cp().kubeConfig();
  kubeconfig = path.join(dir, 'admin.kubeconfig');
  writeFileSync(kubeconfig, cp().kubeconfigFor('helm-test-admin', cp().pki.admin, 'default'), { mode: 0o600 });
  await installCrds(kc, await prometheusOperatorCrds());
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const name of ['bij-system', 'team-a', 'team-b', 'jobs-a']) await core.createNamespace({ body: { metadata: { name } } });
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const summary = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`);

test('the CRDs come from the pinned prometheus-operator module, and the API server serves them', async () => {
  const crds = await prometheusOperatorCrds();
  expect(crds.map((c) => c.metadata?.name)).toEqual(['servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']);
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const c of crds) expect((await api.readCustomResourceDefinition({ name: c.metadata!.name! })).spec.versions.map((v) => v.name)).toContain('v1');
});

test('default values, CRDs included: the API server accepts every object in a server-side dry run', async () => {
  const objs = await render('bij', 'bij-system', {}, ['--include-crds']);
  expect(summary(objs)).toEqual(expect.arrayContaining(['CustomResourceDefinition/batchinferencejobs.batchinference.dev', 'CustomResourceDefinition/batchinferenceschedules.batchinference.dev']));
  expect(await dryRunCreate(kc, objs)).toEqual([]);
  // a dry run stores nothing
  await expect(kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ namespace: 'bij-system', name: 'bij-bij-operator' })).rejects.toMatchObject({ code: 404 });
});

test('every optional part on (ServiceMonitor, PrometheusRule, dashboard, IRSA, placement): accepted in a dry run', async () => {
  const objs = await render('bij', 'bij-system', ALL_ON);
  expect(summary(objs)).toEqual(expect.arrayContaining(['ServiceMonitor/bij-bij-operator', 'PrometheusRule/bij-bij-operator', 'ConfigMap/bij-bij-operator-dashboard', 'PodDisruptionBudget/bij-bij-operator']));
  expect(await dryRunCreate(kc, objs)).toEqual([]);
  const scoped = await render('bij', 'bij-system', { ...ALL_ON, watchNamespaces: ['jobs-a'] });
  expect(summary(scoped)).toContain('Role/bij-bij-operator');
  expect(await dryRunCreate(kc, scoped)).toEqual([]);
});

test('the dry run is a real check: the API server refuses what the CRD schemas refuse', async () => {
  const objs = await render('bij', 'bij-system', ALL_ON);
  const sm = structuredClone(one(objs, 'ServiceMonitor')) as Obj & { spec: { endpoints: Record<string, unknown>[] } };
  sm.spec.endpoints[0].scheme = 'gopher';
  const rule = structuredClone(one(objs, 'PrometheusRule')) as Obj & { spec: { groups: Record<string, unknown>[] } };
  rule.spec.groups[0].rules = [{ alert: 'X' }]; // no expr
  const failures = await dryRunCreate(kc, [sm, rule]);
  expect(failures).toHaveLength(2);
  expect(failures[0]).toMatch(/ServiceMonitor\/bij-bij-operator: .*spec.endpoints\[0\].scheme/);
  expect(failures[1]).toMatch(/PrometheusRule\/bij-bij-operator: .*expr/);
});

async function can(user: string, verb: string, resource: { group: string; resource: string; namespace?: string }): Promise<boolean> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const r = await authz.createSubjectAccessReview({
    body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${user.split(':')[2]}`], resourceAttributes: { verb, ...resource } } },
  });
  return r.status!.allowed;
}

test('two releases of the same name in two namespaces install side by side, each granting only its own ServiceAccount', async () => {
  const install = (ns: string, values: Record<string, unknown> = {}) =>
    helmOk(['install', 'bij', CHART, '--namespace', ns, ...setJson({ ...ALL_ON, serviceAccount: { create: true }, leaderElection: { enabled: true }, ...values })], { kubeconfig });
  await install('team-a');
  // Any object of the same name and scope would fail this install (helm refuses to adopt another
  // release's object): that is the collision two releases must not have.
  await install('team-b', { watchNamespaces: ['jobs-a'] });
  const list = await helmOk(['list', '--all-namespaces', '--output', 'json'], { kubeconfig });
  expect((JSON.parse(list) as { name: string; namespace: string; status: string }[]).map((r) => `${r.namespace}/${r.name}:${r.status}`).sort())
    .toEqual(['team-a/bij:deployed', 'team-b/bij:deployed']);

  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const crb = await rbac.readClusterRoleBinding({ name: 'team-a-bij-bij-operator' });
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'bij-bij-operator', namespace: 'team-a' }]);
  // team-b watches jobs-a only: no cluster-wide role of its own
  await expect(rbac.readClusterRole({ name: 'team-b-bij-bij-operator' })).rejects.toMatchObject({ code: 404 });

  const a = 'system:serviceaccount:team-a:bij-bij-operator';
  const b = 'system:serviceaccount:team-b:bij-bij-operator';
  const bij = { group: 'batchinference.dev', resource: 'batchinferencejobs' };
  const jobs = { group: 'batch', resource: 'jobs' };
  const leases = { group: 'coordination.k8s.io', resource: 'leases' };
  expect(await can(a, 'watch', bij)).toBe(true); // all namespaces
  expect(await can(a, 'create', { ...jobs, namespace: 'anywhere' })).toBe(true);
  expect(await can(a, 'update', { ...leases, namespace: 'team-a' })).toBe(true);
  expect(await can(a, 'update', { ...leases, namespace: 'team-b' })).toBe(false);
  expect(await can(b, 'watch', { ...bij, namespace: 'jobs-a' })).toBe(true);
  expect(await can(b, 'create', { ...jobs, namespace: 'jobs-a' })).toBe(true);
  expect(await can(b, 'watch', bij)).toBe(false); // not cluster-wide
  expect(await can(b, 'create', { ...jobs, namespace: 'team-a' })).toBe(false);
  expect(await can(b, 'update', { ...leases, namespace: 'team-b' })).toBe(true);
  // the monitoring objects of both
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  for (const ns of ['team-a', 'team-b']) {
    for (const plural of ['servicemonitors', 'prometheusrules']) {
      await expect(custom.getNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace: ns, plural, name: 'bij-bij-operator' })).resolves.toBeDefined();
    }
  }

  await helmOk(['uninstall', 'bij', '--namespace', 'team-a', '--wait'], { kubeconfig });
  // team-b's release is untouched by team-a's uninstall
  await expect(rbac.readClusterRoleBinding({ name: 'team-a-bij-bij-operator' })).rejects.toMatchObject({ code: 404 });
  expect((await rbac.readNamespacedRoleBinding({ namespace: 'jobs-a', name: 'bij-bij-operator' })).subjects?.[0]).toMatchObject({ namespace: 'team-b' });
  await helmOk(['uninstall', 'bij', '--namespace', 'team-b'], { kubeconfig });
}, 120_000);
