/** Watches and informers from client-node: resume from a resourceVersion, selectors, bookmarks, drops, 410. */
import * as k8s from '@kubernetes/client-node';
import { startHarness, sleep, until, type Harness } from './testkit.js';
import type { WatchEvent } from './types.js';

let h: Harness;
let watch: k8s.Watch;
beforeAll(async () => { h = await startHarness({ bookmarkIntervalMs: 100 }); watch = new k8s.Watch(h.kc); });
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

test('the legacy /watch/ path prefix and a watch on a single name work too', async () => {
  const ns = 'w2b';
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('one') });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('two') });
  const w = await collect(`/api/v1/watch/namespaces/${ns}/configmaps/two`, {});
  await until(() => w.events.length >= 1);
  await sleep(20);
  w.ctl.abort();
  expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED two']);
  expect(h.server.requests({ verb: 'watch', namespace: ns, name: 'two' })).toHaveLength(1);
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

test('bookmarks carry the current resourceVersion; timeoutSeconds ends the watch cleanly', async () => {
  const w = await collect('/apis/batch/v1/namespaces/w4/jobs', { allowWatchBookmarks: true, timeoutSeconds: 1, resourceVersion: h.server.store.resourceVersion });
  await h.core.createNamespacedConfigMap({ namespace: 'w4', body: cm('bump') });
  const b = await until(() => w.events.find((e) => e.type === 'BOOKMARK'), 10_000, 'a bookmark');
  expect(b.obj).toEqual({ apiVersion: 'batch/v1', kind: 'Job', metadata: { resourceVersion: h.server.store.resourceVersion } });
  await until(() => w.done() !== 'open', 10_000, 'the timeout');
  expect(w.done()).toBeNull();
  expect(w.events.every((e) => e.type === 'BOOKMARK')).toBe(true);
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

function informer(ns: string) {
  const inf = k8s.makeInformer(h.kc, `/api/v1/namespaces/${ns}/configmaps`, () => h.core.listNamespacedConfigMap({ namespace: ns }));
  const log: string[] = [];
  const errors: unknown[] = [];
  inf.on(k8s.ADD, (o) => log.push(`add ${o.metadata?.name}`));
  inf.on(k8s.UPDATE, (o) => log.push(`update ${o.metadata?.name}`));
  inf.on(k8s.DELETE, (o) => log.push(`delete ${o.metadata?.name}`));
  inf.on(k8s.ERROR, (e) => errors.push(e));
  return { inf, log, errors };
}

const lists = (ns: string) => h.server.requests({ verb: 'list', resource: 'configmaps', namespace: ns }).length;
const watches = (ns: string) => h.server.requests({ verb: 'watch', resource: 'configmaps', namespace: ns });

test('after a dropped watch the informer resumes from its resourceVersion without missing events', async () => {
  const ns = 'inf1';
  const { inf, log, errors } = informer(ns);
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('a') });
  await inf.start();
  await until(() => log.includes('add a') && h.server.store.hub.count('configmaps') > 0, 10_000, 'the informer to sync');
  // Hold the reconnect for a while, so writes happen while no watch is open.
  h.server.faults.latency(150, { verb: 'watch', resource: 'configmaps', namespace: ns }, 1);
  expect(h.server.faults.dropWatches()).toBeGreaterThan(0);
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('b') });
  await h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'a' });
  await until(() => log.includes('delete a') && log.includes('add b'), 10_000, 'the missed events');
  expect(errors).toEqual([]);
  await inf.stop(); // client-node then reports the aborted request as an error, which is not ours
  expect(log).toEqual(['add a', 'add b', 'delete a']);
  expect(lists(ns)).toBe(1);
  const ws = watches(ns);
  expect(ws.length).toBe(2);
  expect(Number(ws[1].query.resourceVersion)).toBeGreaterThanOrEqual(Number(ws[0].query.resourceVersion));
});

test('a 410 on resume makes the informer re-list, and the re-list reconciles adds and deletes', async () => {
  const ns = 'inf2';
  const { inf, log, errors } = informer(ns);
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('keep') });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('gone') });
  await inf.start();
  await until(() => log.length === 2 && h.server.store.hub.count('configmaps') > 0, 10_000, 'the informer to sync');
  h.server.faults.latency(150, { verb: 'watch', resource: 'configmaps', namespace: ns }, 1);
  h.server.faults.dropWatches();
  await h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'gone' });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('new') });
  h.server.faults.compactHistory();
  const compactedAt = Number(h.server.store.resourceVersion);
  // initial watch, the resumed one answered with 410, and the one after the re-list
  await until(() => lists(ns) === 2 && log.includes('add new') && log.includes('delete gone') && watches(ns).length >= 3, 10_000, 'the re-list');
  expect(errors).toEqual([]);
  await inf.stop();
  expect(log.slice(2).sort()).toEqual(['add new', 'delete gone']);
  const ws = watches(ns);
  expect(Number(ws[1].query.resourceVersion)).toBeLessThan(compactedAt);
  expect(Number(ws[2].query.resourceVersion)).toBeGreaterThanOrEqual(compactedAt);
  expect(inf.list().map((o) => o.metadata?.name).sort()).toEqual(['keep', 'new']);
});

test('an abrupt drop surfaces as an informer error; restarting resumes without a re-list', async () => {
  const ns = 'inf3';
  const { inf, log, errors } = informer(ns);
  await inf.start();
  await until(() => h.server.store.hub.count('configmaps') > 0, 10_000, 'the watch');
  h.server.faults.dropWatches({ mode: 'abrupt' });
  await until(() => errors.length > 0, 10_000, 'the error');
  await h.core.createNamespacedConfigMap({ namespace: ns, body: cm('later') });
  await inf.start();
  await until(() => log.includes('add later'), 10_000, 'the event after restart');
  await inf.stop();
  expect(lists(ns)).toBe(1);
});

test('in-process watches use the same machinery', async () => {
  const got: WatchEvent[] = [];
  let closed = '';
  const w = h.server.store.watch('configmaps', { namespace: 'inproc', resourceVersion: h.server.store.resourceVersion },
    { send: (ev) => got.push(structuredClone(ev)), close: (mode) => { closed = mode; } });
  h.server.store.create('configmaps', { metadata: { name: 'p' } }, { namespace: 'inproc' });
  h.server.store.delete('configmaps', 'inproc', 'p');
  w.stop();
  expect(got.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED p', 'DELETED p']);
  expect(closed).toBe('graceful');
});
