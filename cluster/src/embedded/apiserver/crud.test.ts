/** What bij run relies on: CRUD, optimistic concurrency, generation and the status subresource, through the real client-node; and clear refusals of what only the real control plane serves. */
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

  test('a no-op update keeps the resourceVersion, secrets fold stringData into data', async () => {
    const g = await h.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'tok' }, stringData: { user: 'bob' } } });
    expect(g.data).toEqual({ user: Buffer.from('bob').toString('base64') });
    expect(g.type).toBe('Opaque');
    expect((g as Record<string, unknown>).stringData).toBeUndefined();
    const same = await h.core.replaceNamespacedSecret({ namespace: ns, name: g.metadata!.name!, body: g });
    expect(same.metadata!.resourceVersion).toBe(g.metadata!.resourceVersion);
  });

  test('pods: status is reset on create and written only through /status', async () => {
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
    const main = await h.core.replaceNamespacedPod({ namespace: ns, name: 'p1', body: { ...withStatus, status: { phase: 'Failed' } } });
    expect(main.status?.phase).toBe('Running');
  });

  test('what only the real control plane serves is refused with a 400 that says so', async () => {
    for (const call of [
      h.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'dry' } } }),
      h.core.listNamespacedConfigMap({ namespace: ns, limit: 2 }),
      h.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'env in (a,b)' }),
      h.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.kind=Pod' }),
    ]) {
      const r = await statusOf(call);
      expect(r.code).toBe(400);
      expect(r.body.message).toMatch(/embedded API server of bij run/);
    }
    expect((await statusOf(h.core.readNamespacedConfigMap({ namespace: ns, name: 'dry' }))).code).toBe(404);
    const unnamed = await statusOf(h.core.createNamespacedSecret({ namespace: ns, body: { metadata: { generateName: 'tok-' } } }));
    expect(unnamed.body).toMatchObject({ code: 422, message: expect.stringContaining('metadata.name: Required value') });
    const ssa = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'cc', body: { data: { n: '5' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)));
    expect(ssa.code).toBe(415);
  });
});

describe('label selectors', () => {
  test('=, ==, !=, exists and !exists', async () => {
    const mk = (name: string, labels: Record<string, string>) => h.core.createNamespacedConfigMap({ namespace: 'sel', body: { metadata: { name, labels } } });
    await mk('x1', { env: 'prod', tier: 'web' });
    await mk('x2', { env: 'dev', tier: 'db' });
    await mk('x3', { env: 'prod' });
    const names = async (labelSelector: string) => (await h.core.listNamespacedConfigMap({ namespace: 'sel', labelSelector })).items.map((i) => i.metadata!.name);
    expect(await names('env=prod')).toEqual(['x1', 'x3']);
    expect(await names('env==prod,tier=web')).toEqual(['x1']);
    expect(await names('tier!=web')).toEqual(['x2', 'x3']);
    expect(await names('tier')).toEqual(['x1', 'x2']);
    expect(await names('!tier')).toEqual(['x3']);
  });
});

describe('batch/v1', () => {
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
  });

});

describe('custom resources', () => {
  test('CRUD, status subresource isolation, generation bump only on spec changes', async () => {
    const created = await h.custom.createNamespacedCustomObject({ ...W, body: { ...widget('w1', { replicas: 1 }), status: { phase: 'Done' } } });
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

});

describe('kubeconfig', () => {
  test('the YAML kubeconfig loads into a KubeConfig and a wrong token is refused', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(h.server.kubeConfigYaml());
    expect(kc.getCurrentCluster()?.server).toBe(h.server.url);
    expect((await kc.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: ns })).items.length).toBeGreaterThan(0);
    const bad = new k8s.KubeConfig();
    bad.loadFromString(h.server.kubeConfigYaml().replace(h.server.token, 'wrong'));
    expect((await statusOf(bad.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: ns }))).code).toBe(401);
  });
});
