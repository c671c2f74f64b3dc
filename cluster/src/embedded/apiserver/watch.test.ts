/** Watches from client-node: resume from a resourceVersion, selectors, 410. (Informers over drops and 410s: kube/informer.test.ts, on the real apiserver.) */
import * as k8s from '@kubernetes/client-node';
import { startHarness, sleep, until, type Harness } from './testkit.js';

let h: Harness;
let watch: k8s.Watch;
beforeAll(async () => { h = await startHarness(); watch = new k8s.Watch(h.kc); });
afterAll(async () => { await h.server.close(); });
afterEach(() => { h.server.faults.clear(); });

interface Seen { type: string; name?: string; rv?: string; obj: Record<string, any> }

/** Starts a client-node watch and collects its events until stopped. */
async function collect(path: string, query: Record<string, string | number | boolean | undefined>) {
  const events: Seen[] = [];
  let done: unknown = 'open';
  const ctl = await watch.watch(path, query, (type, obj) => events.push({ type, name: obj?.metadata?.name, rv: obj?.metadata?.resourceVersion, obj }), (err) => { done = err; });
  return { events, ctl, done: () => done };
}

const cm = (name: string, labels?: Record<string, string>) => ({ metadata: { name, labels } });

test('a watch from a list resourceVersion replays exactly the later events, in order', async () => {
  const ns = 'w1';
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('a') });
  const list = await h.core.listNamespacedConfigMap({ namespace: ns });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('b') });
  await h.core.replaceNamespacedConfigMap({ namespace: ns, name: 'a', body: { ...list.items[0], data: { x: '1' } } });
  await h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'b' });
  const w = await collect(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: list.metadata!.resourceVersion });
  await until(() => w.events.length >= 3, 10_000, 'replayed events');
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('c') });
  await until(() => w.events.length >= 4, 10_000, 'live event');
  w.ctl.abort();
  expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b', 'ADDED c']);
  const rvs = w.events.map((e) => Number(e.rv));
  expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
  expect(w.events[0].obj).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
});

test('without a resourceVersion a watch starts with ADDED for every current object', async () => {
  const ns = 'w2';
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('x') });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('y') });
  const w = await collect(`/api/v1/namespaces/${ns}/configmaps`, {});
  await until(() => w.events.length >= 2);
  w.ctl.abort();
  expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED x', 'ADDED y']);
});

test('label-selected watches see objects entering as ADDED and leaving as DELETED', async () => {
  const ns = 'w3';
  const w = await collect(`/api/v1/namespaces/${ns}/configmaps`, { labelSelector: 'app=x', resourceVersion: h.server.store.resourceVersion });
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('m', { app: 'x' }) });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('other', { app: 'y' }) });
  await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'm', body: { data: { k: 'v' } } }, merge);
  await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'm', body: { metadata: { labels: { app: 'y' } } } }, merge);
  await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'm', body: { data: { k: 'w' } } }, merge);
  await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'other', body: { metadata: { labels: { app: 'x' } } } }, merge);
  await h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'other' });
  await until(() => w.events.length >= 5);
  await sleep(50);
  w.ctl.abort();
  expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED m', 'MODIFIED m', 'DELETED m', 'ADDED other', 'DELETED other']);
  expect(w.events[2].obj.metadata.labels).toEqual({ app: 'y' });
});

test('resuming from a compacted resourceVersion yields an ERROR event with a 410 Expired Status', async () => {
  const old = h.server.store.resourceVersion;
  await h.core.createNamespacedConfigMap({ namespace: 'w5', body: cm('n') });
  h.server.faults.compactHistory();
  const w = await collect('/api/v1/namespaces/w5/configmaps', { resourceVersion: old });
  await until(() => w.done() !== 'open', 10_000, 'the watch to end');
  expect(w.events).toHaveLength(1);
  expect(w.events[0].type).toBe('ERROR');
  expect(w.events[0].obj).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: expect.stringMatching(/^too old resource version: \d+ \(\d+\)$/) });
});
