/**
 * PATCH through client-node 1.4. Its generated patch methods pick the first media type they list, which is
 * application/json-patch+json; any other patch type needs a header middleware:
 *   api.patchX(params, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
 */
import * as k8s from '@kubernetes/client-node';
import { startHarness, statusOf, widget, TEST_GROUP, type Harness } from './testkit.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.server.close(); });

const ns = 'patch';
const W = { group: TEST_GROUP, version: 'v1', namespace: ns, plural: 'widgets' };
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

test('client-node sends application/json-patch+json unless a middleware sets the Content-Type', async () => {
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'ct' }, data: { a: '1' } } });
  const res = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'ct', body: { data: { b: '2' } } }));
  expect(res.code).toBe(400);
  expect(res.body.message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  expect(h.server.requests({ verb: 'patch', name: 'ct' }).map((r) => r.contentType)).toEqual(['application/json-patch+json']);

  const patched = await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'ct', body: { data: { b: '2', a: null } } }, merge);
  expect(patched.data).toEqual({ b: '2' });
  expect(h.server.requests({ verb: 'patch', name: 'ct' }).map((r) => r.contentType)).toEqual(['application/json-patch+json', 'application/merge-patch+json']);
});

test('JSON patch: ops apply in order; a failed test op is a 422 and changes nothing', async () => {
  const cm = await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'jp', labels: { v: '1' } }, data: { a: '1' } } });
  const out = await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'jp', body: [
    { op: 'test', path: '/metadata/labels/v', value: '1' },
    { op: 'replace', path: '/metadata/labels/v', value: '2' },
    { op: 'add', path: '/data/b', value: 'x' },
    { op: 'remove', path: '/data/a' },
  ] });
  expect(out.metadata?.labels).toEqual({ v: '2' });
  expect(out.data).toEqual({ b: 'x' });
  const failed = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'jp', body: [
    { op: 'test', path: '/metadata/labels/v', value: '1' }, { op: 'replace', path: '/data/b', value: 'y' },
  ] }));
  // As the kube-apiserver answers (NewGenericServerResponse): the generic message, and no cause, so
  // kubectl prints "The request is invalid: the server rejected ..." (a cause without a field made
  // it print "The request is invalid: : testing value ...").
  expect(failed.body).toEqual({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 422, reason: 'Invalid',
    message: 'the server rejected our request due to an error in our request', details: {},
  });
  expect((await h.core.readNamespacedConfigMap({ namespace: ns, name: 'jp' })).data).toEqual({ b: 'x' });
  // The optimistic-lock idiom: test the resourceVersion you read.
  const stale = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'jp', body: [
    { op: 'test', path: '/metadata/resourceVersion', value: cm.metadata!.resourceVersion }, { op: 'replace', path: '/data/b', value: 'z' },
  ] }));
  expect(stale.code).toBe(422);
});

test('a resourceVersion in a merge patch is a precondition', async () => {
  const cm = await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'rv' }, data: { a: '1' } } });
  const ok = await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'rv', body: { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { a: '2' } } }, merge);
  expect(ok.data).toEqual({ a: '2' });
  const stale = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'rv', body: { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { a: '3' } } }, merge));
  expect(stale.body).toMatchObject({ code: 409, reason: 'Conflict' });
  const missing = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'none', body: { data: {} } }, merge));
  expect(missing.code).toBe(404);
});

test('custom resources: merge patch on spec and on /status; strategic merge patch is 415', async () => {
  await h.custom.createNamespacedCustomObject({ ...W, body: widget('wp', { mode: 'slow' }) });
  const p = await h.custom.patchNamespacedCustomObject({ ...W, name: 'wp', body: { spec: { replicas: 4 }, status: { phase: 'ignored' } } }, merge);
  expect(p.spec.replicas).toBe(4);
  expect(p.spec.mode).toBe('slow');
  expect(p.status).toBeUndefined();
  expect(p.metadata.generation).toBe(2);
  const s = await h.custom.patchNamespacedCustomObjectStatus({ ...W, name: 'wp', body: { status: { phase: 'Running' }, spec: { replicas: 9 } } }, merge);
  expect(s.status).toEqual({ phase: 'Running' });
  expect(s.spec.replicas).toBe(4);
  expect(s.metadata.generation).toBe(2);
  const js = await h.custom.patchNamespacedCustomObjectStatus({ ...W, name: 'wp', body: [{ op: 'add', path: '/status/observedGeneration', value: 2 }] });
  expect(js.status).toEqual({ phase: 'Running', observedGeneration: 2 });
  const smp = await statusOf(h.custom.patchNamespacedCustomObject({ ...W, name: 'wp', body: { spec: { replicas: 1 } } }, strategic));
  expect(smp.code).toBe(415);
  expect(smp.body.reason).toBe('UnsupportedMediaType');
});

test('strategic merge patch and server-side apply are 415 on built-ins too, naming the accepted types', async () => {
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'smp', labels: { a: '1' } } } });
  const smp = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'smp', body: { metadata: { labels: { b: '2' } } } }, strategic));
  expect(smp.body).toMatchObject({ code: 415, reason: 'UnsupportedMediaType', message: expect.stringContaining('application/merge-patch+json') });
  const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  const res = await statusOf(h.core.patchNamespacedConfigMap({ namespace: ns, name: 'smp', fieldManager: 't', body: { metadata: { name: 'smp' } } }, apply));
  expect(res.code).toBe(415);
  expect((await h.core.readNamespacedConfigMap({ namespace: ns, name: 'smp' })).metadata?.labels).toEqual({ a: '1' });
});
