/** CRUD, optimistic concurrency, generation and the status subresource, through the real client-node. */
import * as k8s from '@kubernetes/client-node';
import { startHarness, statusOf, widget, TEST_GROUP, type Harness } from './testkit.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.server.close(); });

const ns = 'crud';
const W = { group: TEST_GROUP, version: 'v1', namespace: ns, plural: 'widgets' };

describe('core/v1', () => {
  test('configmaps: create, get, list, replace, delete, with Status errors shaped like the apiserver', async () => {
    const created = await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm1', labels: { app: 'a' } }, data: { k: 'v' } } });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBeUndefined();

    const dup = await statusOf(h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm1' } } }));
    expect(dup.code).toBe(409);
    expect(dup.body).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'AlreadyExists', code: 409,
      message: 'configmaps "cm1" already exists', details: { name: 'cm1', kind: 'configmaps' },
    });

    const missing = await statusOf(h.core.readNamespacedConfigMap({ namespace: ns, name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ reason: 'NotFound', message: 'configmaps "nope" not found', details: { name: 'nope', kind: 'configmaps' } });

    const got = await h.core.readNamespacedConfigMap({ namespace: ns, name: 'cm1' });
    got.data = { k: 'v2' };
    const replaced = await h.core.replaceNamespacedConfigMap({ namespace: ns, name: 'cm1', body: got });
    expect(replaced.data).toEqual({ k: 'v2' });
    expect(Number(replaced.metadata!.resourceVersion)).toBeGreaterThan(Number(got.metadata!.resourceVersion));

    const list = await h.core.listNamespacedConfigMap({ namespace: ns });
    expect(list.items.map((c) => c.metadata?.name)).toEqual(['cm1']);
    expect(list.metadata?.resourceVersion).toBe(h.server.store.resourceVersion);

    const del = await h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'cm1' });
    expect(del).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'cm1', kind: 'configmaps', uid: created.metadata!.uid } });
    expect((await statusOf(h.core.readNamespacedConfigMap({ namespace: ns, name: 'cm1' }))).code).toBe(404);
  });

  test('a stale resourceVersion on update is a 409 Conflict with the apiserver message; none is unconditional', async () => {
    const a = await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cc' }, data: { n: '1' } } });
    await h.core.replaceNamespacedConfigMap({ namespace: ns, name: 'cc', body: { ...a, data: { n: '2' } } });
    const stale = await statusOf(h.core.replaceNamespacedConfigMap({ namespace: ns, name: 'cc', body: { ...a, data: { n: '3' } } }));
    expect(stale.code).toBe(409);
    expect(stale.body).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on configmaps "cc": the object has been modified; please apply your changes to the latest version and try again',
    });
    const { resourceVersion: _drop, ...meta } = a.metadata!;
    const unconditional = await h.core.replaceNamespacedConfigMap({ namespace: ns, name: 'cc', body: { metadata: meta, data: { n: '4' } } });
    expect(unconditional.data).toEqual({ n: '4' });
  });

  test('generateName, a no-op update keeps the resourceVersion, secrets fold stringData into data', async () => {
    const g = await h.core.createNamespacedSecret({ namespace: ns, body: { metadata: { generateName: 'tok-' }, stringData: { user: 'bob' } } });
    expect(g.metadata!.name).toMatch(/^tok-[a-z0-9]{5}$/);
    expect(g.data).toEqual({ user: Buffer.from('bob').toString('base64') });
    expect(g.type).toBe('Opaque');
    expect((g as Record<string, unknown>).stringData).toBeUndefined();
    const same = await h.core.replaceNamespacedSecret({ namespace: ns, name: g.metadata!.name!, body: g });
    expect(same.metadata!.resourceVersion).toBe(g.metadata!.resourceVersion);
  });

  test('pods: status is reset on create and written only through /status; spec is mostly immutable', async () => {
    const pod = await h.core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: 'p1' }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] }, status: { phase: 'Running' },
    } });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.restartPolicy).toBe('Always');
    expect(pod.spec?.containers[0].terminationMessagePath).toBe('/dev/termination-log');
    expect(pod.metadata?.generation).toBe(1);
    const withStatus = await h.core.replaceNamespacedPodStatus({ namespace: ns, name: 'p1', body: { ...pod, status: { phase: 'Running' } } });
    expect(withStatus.status?.phase).toBe('Running');
    expect(withStatus.metadata?.generation).toBe(1);
    const bad = await statusOf(h.core.replaceNamespacedPod({ namespace: ns, name: 'p1', body: { ...withStatus, spec: { ...withStatus.spec!, restartPolicy: 'Never' } } }));
    expect(bad.code).toBe(422);
    expect(bad.body.message).toContain('Pod "p1" is invalid: spec: Forbidden: pod updates may not change fields other than');
    const invalid = await statusOf(h.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p2' }, spec: { containers: [{ name: 'c' }] } as k8s.V1PodSpec } }));
    expect(invalid.body).toMatchObject({ code: 422, reason: 'Invalid', message: 'Pod "p2" is invalid: spec.containers[0].image: Required value',
      details: { name: 'p2', kind: 'Pod', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }] } });
  });

  test('namespaces are cluster-scoped and optional; events and field selectors', async () => {
    const nsObj = await h.core.createNamespace({ body: { metadata: { name: 'team-a' } } });
    expect(nsObj.status?.phase).toBe('Active');
    expect((await h.core.listNamespace()).items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'kube-system', 'team-a']));
    await h.core.createNamespacedEvent({ namespace: 'team-a', body: {
      metadata: { name: 'e1' }, involvedObject: { kind: 'Widget', name: 'w', namespace: 'team-a' }, reason: 'Started', type: 'Normal', message: 'hi',
    } });
    await h.core.createNamespacedEvent({ namespace: 'team-a', body: { metadata: { name: 'e2' }, involvedObject: { kind: 'Pod', name: 'p' }, reason: 'Other' } });
    const sel = await h.core.listNamespacedEvent({ namespace: 'team-a', fieldSelector: 'involvedObject.kind=Widget,reason=Started' });
    expect(sel.items.map((e) => e.metadata?.name)).toEqual(['e1']);
    expect((await statusOf(h.core.listNamespacedEvent({ namespace: 'team-a', fieldSelector: 'spec.nope=x' }))).body)
      .toMatchObject({ code: 400, reason: 'BadRequest', message: 'field label not supported: spec.nope' });
  });

  test('list paging with limit and continue is a consistent snapshot', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) await h.core.createNamespacedConfigMap({ namespace: 'paging', body: { metadata: { name: n } } });
    const p1 = await h.core.listNamespacedConfigMap({ namespace: 'paging', limit: 2 });
    expect(p1.items.map((i) => i.metadata?.name)).toEqual(['a', 'b']);
    expect(p1.metadata?.remainingItemCount).toBe(3);
    await h.core.deleteNamespacedConfigMap({ namespace: 'paging', name: 'd' });
    const p2 = await h.core.listNamespacedConfigMap({ namespace: 'paging', limit: 2, _continue: p1.metadata!._continue });
    const p3 = await h.core.listNamespacedConfigMap({ namespace: 'paging', limit: 2, _continue: p2.metadata!._continue });
    expect([...p2.items, ...p3.items].map((i) => i.metadata?.name)).toEqual(['c', 'd', 'e']);
    expect(p3.metadata?._continue).toBeUndefined();
    expect(p3.metadata?.resourceVersion).toBe(p1.metadata?.resourceVersion);
    const exact = await h.core.listNamespacedConfigMap({ namespace: 'paging', resourceVersion: p1.metadata!.resourceVersion, resourceVersionMatch: 'Exact' });
    expect(exact.items.map((i) => i.metadata?.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await h.core.listNamespacedConfigMap({ namespace: 'paging' })).items).toHaveLength(4);
  });

  test('dryRun=All validates and answers without storing', async () => {
    const dry = await h.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'dry' } } });
    expect(dry.metadata?.name).toBe('dry');
    expect((await statusOf(h.core.readNamespacedConfigMap({ namespace: ns, name: 'dry' }))).code).toBe(404);
  });
});

describe('label selectors', () => {
  test('=, ==, !=, in, notin, exists and !exists', async () => {
    const mk = (name: string, labels: Record<string, string>) => h.core.createNamespacedConfigMap({ namespace: 'sel', body: { metadata: { name, labels } } });
    await mk('x1', { env: 'prod', tier: 'web' });
    await mk('x2', { env: 'dev', tier: 'db' });
    await mk('x3', { env: 'prod' });
    const names = async (labelSelector: string) => (await h.core.listNamespacedConfigMap({ namespace: 'sel', labelSelector })).items.map((i) => i.metadata!.name);
    expect(await names('env=prod')).toEqual(['x1', 'x3']);
    expect(await names('env==prod,tier=web')).toEqual(['x1']);
    expect(await names('tier!=web')).toEqual(['x2', 'x3']);
    expect(await names('env in (dev, qa)')).toEqual(['x2']);
    expect(await names('tier notin (web)')).toEqual(['x2', 'x3']);
    expect(await names('tier')).toEqual(['x1', 'x2']);
    expect(await names('!tier')).toEqual(['x3']);
    expect((await statusOf(h.core.listNamespacedConfigMap({ namespace: 'sel', labelSelector: 'a in b' }))).code).toBe(400);
  });
});

describe('batch/v1 and coordination.k8s.io/v1', () => {
  test('jobs: defaults and generated selector, status only through /status, generation on spec changes', async () => {
    const job = await h.batch.createNamespacedJob({ namespace: ns, body: {
      metadata: { name: 'j1' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'worker:1' }] } } },
      status: { succeeded: 5 },
    } });
    expect(job.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false });
    expect(job.spec!.selector!.matchLabels).toEqual({ 'batch.kubernetes.io/controller-uid': job.metadata!.uid });
    expect(job.spec!.template.metadata!.labels).toMatchObject({ 'batch.kubernetes.io/job-name': 'j1', 'job-name': 'j1' });
    expect(job.status).toEqual({});
    expect(job.metadata!.generation).toBe(1);

    const st = await h.batch.replaceNamespacedJobStatus({ namespace: ns, name: 'j1', body: { ...job, spec: { ...job.spec!, parallelism: 9 }, status: { active: 1 } } });
    expect(st.status).toEqual({ active: 1 });
    expect(st.spec!.parallelism).toBe(1);
    expect(st.metadata!.generation).toBe(1);

    const staleStatus = await statusOf(h.batch.replaceNamespacedJobStatus({ namespace: ns, name: 'j1', body: { ...job, status: { failed: 1 } } }));
    expect(staleStatus.body).toMatchObject({ code: 409, reason: 'Conflict', message: expect.stringContaining('Operation cannot be fulfilled on jobs.batch "j1"'), details: { group: 'batch', kind: 'jobs' } });

    const up = await h.batch.replaceNamespacedJob({ namespace: ns, name: 'j1', body: { ...st, spec: { ...st.spec!, parallelism: 3 }, status: { succeeded: 99 } } });
    expect(up.spec!.parallelism).toBe(3);
    expect(up.status).toEqual({ active: 1 });
    expect(up.metadata!.generation).toBe(2);
    const labelsOnly = await h.batch.replaceNamespacedJob({ namespace: ns, name: 'j1', body: { ...up, metadata: { ...up.metadata, labels: { x: 'y' } } } });
    expect(labelsOnly.metadata!.generation).toBe(2);

    const bad = await statusOf(h.batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'j2' }, spec: { template: { spec: { containers: [{ name: 'w', image: 'i' }] } } } } }));
    expect(bad.body.message).toBe('Job.batch "j2" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"');
    const long = 'j'.repeat(64);
    const tooLong = await statusOf(h.batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: long }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'i' }] } } } } }));
    expect(tooLong.body.message).toContain(`spec.template.labels: Invalid value: "${long}": must be no more than 63 characters`);
  });

  test('leases: create, renew with optimistic concurrency, create-on-update', async () => {
    const lease = await h.coord.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    const renewed = await h.coord.replaceNamespacedLease({ namespace: ns, name: 'leader', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
    expect(renewed.spec?.holderIdentity).toBe('b');
    expect((await statusOf(h.coord.replaceNamespacedLease({ namespace: ns, name: 'leader', body: lease }))).code).toBe(409);
    const made = await h.coord.replaceNamespacedLease({ namespace: ns, name: 'other', body: { metadata: { name: 'other' }, spec: { holderIdentity: 'c' } } });
    expect(made.metadata?.uid).toBeDefined();
  });
});

describe('custom resources', () => {
  test('CRUD, status subresource isolation, generation bump only on spec changes', async () => {
    const created = await h.custom.createNamespacedCustomObject({ ...W, body: { ...widget('w1'), status: { phase: 'Done' } } });
    expect(created.metadata.generation).toBe(1);
    expect(created.status).toBeUndefined();
    expect(created.apiVersion).toBe(`${TEST_GROUP}/v1`);

    const st = await h.custom.replaceNamespacedCustomObjectStatus({ ...W, name: 'w1', body: { ...created, spec: { ...created.spec, replicas: 7 }, status: { phase: 'Running', observedGeneration: 1 } } });
    expect(st.status).toEqual({ phase: 'Running', observedGeneration: 1 });
    expect(st.spec.replicas).toBe(1);
    expect(st.metadata.generation).toBe(1);

    const staleStatus = await statusOf(h.custom.replaceNamespacedCustomObjectStatus({ ...W, name: 'w1', body: { ...created, status: { phase: 'X' } } }));
    expect(staleStatus.body.message).toBe(`Operation cannot be fulfilled on widgets.${TEST_GROUP} "w1": the object has been modified; please apply your changes to the latest version and try again`);

    const spec = await h.custom.replaceNamespacedCustomObject({ ...W, name: 'w1', body: { ...st, spec: { ...st.spec, replicas: 2 }, status: { phase: 'Ignored' } } });
    expect(spec.metadata.generation).toBe(2);
    expect(spec.status.phase).toBe('Running');
    const meta = await h.custom.replaceNamespacedCustomObject({ ...W, name: 'w1', body: { ...spec, metadata: { ...spec.metadata, annotations: { a: 'b' } } } });
    expect(meta.metadata.generation).toBe(2);
    expect(meta.metadata.resourceVersion).not.toBe(spec.metadata.resourceVersion);

    const { resourceVersion: _rv, ...noRv } = meta.metadata;
    const unconditional = await statusOf(h.custom.replaceNamespacedCustomObject({ ...W, name: 'w1', body: { ...meta, metadata: noRv } }));
    expect(unconditional.body).toMatchObject({ code: 422, message: `widgets.${TEST_GROUP} "w1" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update` });

    const list = await h.custom.listNamespacedCustomObject({ ...W });
    expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['w1']);
    expect(list.items[0].kind).toBe('Widget');
    const del = await h.custom.deleteNamespacedCustomObject({ ...W, name: 'w1' });
    expect(del).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'w1', group: TEST_GROUP, kind: 'widgets' } });
  });

  // client-node's V1JSONSchemaProps spells the x-kubernetes-* fields with underscores and renames them on the wire.
  test('CRDs can be POSTed at run time and are then served', async () => {
    const ext = h.kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: {
      metadata: { name: 'gadgets.test.bij.dev' },
      spec: { group: TEST_GROUP, scope: 'Cluster', names: { plural: 'gadgets', kind: 'Gadget' },
        versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }] },
    } });
    const g = await h.custom.createClusterCustomObject({ group: TEST_GROUP, version: 'v1alpha1', plural: 'gadgets', body: { apiVersion: `${TEST_GROUP}/v1alpha1`, kind: 'Gadget', metadata: { name: 'g' }, x: 1 } });
    expect(g.x).toBe(1);
    const crd = await ext.readCustomResourceDefinition({ name: 'gadgets.test.bij.dev' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
  });
});

describe('discovery and kubeconfig', () => {
  test('KubernetesObjectApi discovers resources and works on any served kind', async () => {
    const objs = k8s.KubernetesObjectApi.makeApiClient(h.kc);
    const created = await objs.create({ apiVersion: `${TEST_GROUP}/v1`, kind: 'Widget', metadata: { name: 'via-object-api', namespace: 'disc' }, spec: { input: { uri: 'u', idColumn: 'id' } } } as k8s.KubernetesObject);
    expect(created.metadata?.uid).toBeDefined();
    const job = await objs.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    expect(job.metadata?.name).toBe('default');
    const groups = await h.kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).toEqual(expect.arrayContaining(['batch', 'coordination.k8s.io', TEST_GROUP, 'apiextensions.k8s.io']));
    const version = await h.kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.major).toBe('1');
  });

  test('the YAML kubeconfig loads into a KubeConfig and a wrong token is refused', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(h.server.kubeConfigYaml());
    expect(kc.getCurrentCluster()?.server).toBe(h.server.url);
    expect((await kc.makeApiClient(k8s.CoreV1Api).listNamespace()).items.length).toBeGreaterThan(0);
    const bad = new k8s.KubeConfig();
    bad.loadFromString(h.server.kubeConfigYaml().replace(h.server.token, 'wrong'));
    expect((await statusOf(bad.makeApiClient(k8s.CoreV1Api).listNamespace())).code).toBe(401);
  });
});
