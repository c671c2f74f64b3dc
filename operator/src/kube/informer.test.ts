/**
 * SelfHealingInformer against the embedded API server, through the unmodified client-node: the first
 * list, resuming after dropped watches without losing events, re-listing after 410 Gone (reporting what
 * was deleted meanwhile), and retrying a failing list with growing backoff.
 */
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from '../local/apiserver/index.js';
import { silentLogger } from '../log.js';
import { InformerEvent, SelfHealingInformer } from './informer.js';
import { until as poll } from '../testing/until.js';

const NS = 'inf';
type Seen = { kind: 'add' | 'update' | 'delete'; name: string; data?: Record<string, string> };

let server: ApiServer;
let core: k8s.CoreV1Api;
let informer: SelfHealingInformer<k8s.V1ConfigMap> | undefined;

beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 60_000 });
  core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
});
afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  await server.close();
});

function makeInformer(seen: Seen[], lifecycle: InformerEvent[] = [], backoff = { minBackoffMs: 50, maxBackoffMs: 2_000 }) {
  informer = new SelfHealingInformer<k8s.V1ConfigMap>({
    kc: server.kubeConfig(), path: `/api/v1/namespaces/${NS}/configmaps`, log: silentLogger(), name: 'cm',
    list: () => core.listNamespacedConfigMap({ namespace: NS }),
    onObject: (kind, obj) => seen.push({ kind, name: obj.metadata!.name!, data: obj.data }),
    onLifecycle: (e) => lifecycle.push(e),
    ...backoff,
  });
  return informer;
}

const cm = (name: string, v = '1') => ({ metadata: { name, namespace: NS }, data: { v } });
const storeCreate = (name: string, v = '1') => server.store.create('configmaps', cm(name, v), { namespace: NS });
const storeUpdate = (name: string, v: string) => {
  const cur = server.store.get('configmaps', NS, name);
  server.store.update('configmaps', { ...cur, data: { v } }, { namespace: NS, name });
};

const until = (what: string, fn: () => boolean, timeoutMs = 5_000) => poll(what, fn, timeoutMs, 10);

const listsOf = () => server.requests({ verb: 'list', resource: 'configmaps', namespace: NS });
const watchesOf = () => server.requests({ verb: 'watch', resource: 'configmaps', namespace: NS });

test('start lists, then watches from the list\'s resourceVersion; objects and changes are delivered', async () => {
  storeCreate('a');
  storeCreate('b');
  const seen: Seen[] = [];
  const inf = makeInformer(seen);
  await inf.start();
  expect(inf.list().map((o) => o.metadata!.name).sort()).toEqual(['a', 'b']);
  expect(seen.map((s) => `${s.kind}:${s.name}`).sort()).toEqual(['add:a', 'add:b']);

  const lists = listsOf();
  await until('a watch request', () => watchesOf().length === 1);
  const watch = watchesOf()[0];
  expect(lists).toHaveLength(1);
  expect(watch.seq).toBeGreaterThan(lists[0].seq);
  const listRv = (await core.listNamespacedConfigMap({ namespace: NS })).metadata!.resourceVersion!;
  expect(watch.query.resourceVersion).toBe(listRv);

  storeUpdate('a', '2');
  server.store.delete('configmaps', NS, 'b');
  await until('the update and the delete', () => seen.length === 4);
  expect(seen.slice(2)).toEqual([{ kind: 'update', name: 'a', data: { v: '2' } }, { kind: 'delete', name: 'b', data: { v: '1' } }]);
  expect(inf.get('a', NS)?.data).toEqual({ v: '2' });
  expect(inf.get('b', NS)).toBeUndefined();
});

test.each(['graceful', 'abrupt'] as const)('after dropped watches (%s) it resumes from its resourceVersion and loses no event', async (mode) => {
  storeCreate('keep');
  storeCreate('gone');
  const seen: Seen[] = [];
  const lifecycle: InformerEvent[] = [];
  const inf = makeInformer(seen, lifecycle);
  await inf.start();
  await until('the first watch', () => watchesOf().length === 1);

  expect(server.faults.dropWatches({ mode })).toBeGreaterThanOrEqual(1);
  // In-process writes are synchronous: they all happen before the client can reconnect.
  storeCreate('new');
  storeUpdate('keep', '2');
  storeUpdate('keep', '3');
  server.store.delete('configmaps', NS, 'gone');

  await until('the events that happened while disconnected', () => seen.length >= 2 + 4);
  expect(seen.slice(2)).toEqual([
    { kind: 'add', name: 'new', data: { v: '1' } },
    { kind: 'update', name: 'keep', data: { v: '2' } },
    { kind: 'update', name: 'keep', data: { v: '3' } },
    { kind: 'delete', name: 'gone', data: { v: '1' } },
  ]);
  expect(inf.list().map((o) => o.metadata!.name).sort()).toEqual(['keep', 'new']);
  // Resumed, not re-listed: one list, and the second watch starts from a resourceVersion.
  expect(listsOf()).toHaveLength(1);
  await until('a second watch', () => watchesOf().length >= 2);
  expect(watchesOf()[1].query.resourceVersion).toMatch(/^\d+$/);
  if (mode === 'abrupt') expect(lifecycle).toEqual(expect.arrayContaining([InformerEvent.Error, InformerEvent.Restarting]));

  // And it keeps watching.
  storeCreate('after');
  await until('an event after the reconnect', () => seen.some((s) => s.name === 'after'));
});

test('after compaction the old resourceVersion gets 410: it re-lists and reports deletions made meanwhile', async () => {
  storeCreate('stays');
  storeCreate('deleted-meanwhile');
  const seen: Seen[] = [];
  const inf = makeInformer(seen);
  await inf.start();
  await until('the first watch', () => watchesOf().length === 1);
  expect(listsOf()).toHaveLength(1);

  server.faults.dropWatches();
  server.store.delete('configmaps', NS, 'deleted-meanwhile');
  storeCreate('created-meanwhile');
  storeUpdate('stays', '2');
  server.faults.compactHistory();

  await until('the re-list', () => listsOf().length === 2);
  await until('the deletion to be reported', () => seen.some((s) => s.kind === 'delete'));
  await until('the creation to be reported', () => seen.some((s) => s.name === 'created-meanwhile'));
  const after = seen.slice(2);
  expect(after).toEqual(expect.arrayContaining([
    { kind: 'delete', name: 'deleted-meanwhile', data: { v: '1' } },
    { kind: 'add', name: 'created-meanwhile', data: { v: '1' } },
    { kind: 'update', name: 'stays', data: { v: '2' } },
  ]));
  expect(after).toHaveLength(3);
  expect(inf.list().map((o) => o.metadata!.name).sort()).toEqual(['created-meanwhile', 'stays']);
  // The resumed watch was the one answered with 410; the re-list came after it, then a fresh watch.
  const watches = watchesOf();
  expect(watches.length).toBeGreaterThanOrEqual(2);
  expect(listsOf()[1].seq).toBeGreaterThan(watches[1].seq);
  await until('a watch after the re-list', () => watchesOf().some((w) => w.seq > listsOf()[1].seq));

  storeCreate('later');
  await until('events after the re-list', () => seen.some((s) => s.name === 'later'));
});

test('a failing list is retried with growing backoff; start resolves once a list succeeds', async () => {
  storeCreate('x');
  const fault = server.faults.failNext({ verb: 'list', resource: 'configmaps' }, 500, 4);
  const seen: Seen[] = [];
  const lifecycle: InformerEvent[] = [];
  const inf = makeInformer(seen, lifecycle, { minBackoffMs: 50, maxBackoffMs: 5_000 });
  let synced = false;
  void inf.waitForSync().then(() => { synced = true; });
  const started = inf.start();
  await new Promise((r) => setTimeout(r, 20));
  expect(synced).toBe(false);
  await started;
  expect(fault.hits).toBe(4);
  // The cache is filled when start resolves.
  expect(inf.list().map((o) => o.metadata!.name)).toEqual(['x']);
  expect(synced).toBe(true);

  const lists = listsOf();
  expect(lists.map((l) => l.status)).toEqual([500, 500, 500, 500, 200]);
  const gaps = lists.slice(1).map((l, i) => l.time - lists[i].time);
  // Delays are min * 2^n, jittered to [50%, 100%]: 25-50, 50-100, 100-200, 200-400 ms.
  // (Without backoff every gap would be about 25-50 ms.)
  expect(gaps[3]).toBeGreaterThanOrEqual(190);
  expect(lifecycle.filter((e) => e === InformerEvent.Error)).toHaveLength(4);

  storeCreate('y');
  await until('events after recovering', () => seen.some((s) => s.name === 'y'));
  // Recovered: the backoff starts again from the minimum after the next failure.
  server.faults.failNext({ verb: 'watch', resource: 'configmaps' }, 500, 1);
  const before = watchesOf().length;
  server.faults.dropWatches({ mode: 'abrupt' });
  await until('a new watch after one failed watch', () => watchesOf().length >= before + 2 && watchesOf().at(-1)!.status === 200);
  const w = watchesOf().slice(before);
  // 25-50 ms again, not the 800-1600 ms that five failures in a row would give (slack for a loaded machine).
  expect(w[1].time - w[0].time).toBeLessThan(700);
  storeCreate('z');
  await until('events after the second recovery', () => seen.some((s) => s.name === 'z'));
});

test('stop ends the watch: no callbacks and no restarts afterwards', async () => {
  const seen: Seen[] = [];
  const lifecycle: InformerEvent[] = [];
  const inf = makeInformer(seen, lifecycle);
  await inf.start();
  await until('the first watch', () => watchesOf().length === 1);
  await inf.stop();
  informer = undefined;
  storeCreate('late');
  server.faults.dropWatches({ mode: 'abrupt' });
  await new Promise((r) => setTimeout(r, 300));
  expect(seen).toEqual([]);
  expect(watchesOf()).toHaveLength(1);
  expect(lifecycle).not.toContain(InformerEvent.Restarting);
  expect(lifecycle.at(-1)).toBe(InformerEvent.Stopped);
});
