/**
 * SelfHealingInformer on the real kube-apiserver, through the unmodified client-node and the fault
 * proxy: the first list, resuming after dropped watches without losing events, re-listing after 410 Gone
 * (reporting what was deleted meanwhile), and retrying a failing list with growing backoff.
 *
 * It watches ConfigMaps (generic machinery, so through a proxy that forwards as the admin; the operator's
 * own RBAC is the controller's test). No controller manager runs, so a fresh namespace holds no ConfigMap
 * (no kube-root-ca.crt) until a test makes one.
 */
import type * as k8s from '@kubernetes/client-node';
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { silentLogger } from '../log.js';
import { InformerEvent, SelfHealingInformer } from './informer.js';
import { until as poll } from '../../../core/testing/until.js';

type Seen = { kind: 'add' | 'update' | 'delete'; name: string; data?: Record<string, string> };

const env = useKubeTestEnv({ proxy: 'admin', prefix: 'inf', controlPlane: { controllers: false } });
let informer: SelfHealingInformer<k8s.V1ConfigMap> | undefined;
/** The resourceVersion of the informer's last list. */
let listRv: string | undefined;

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
});

const NS = () => env().namespace;
/** The test's own writes: straight to the API server, never faulted or logged. */
const core = () => env().admin.core;

function makeInformer(seen: Seen[], lifecycle: InformerEvent[] = [], backoff = { minBackoffMs: 50, maxBackoffMs: 2_000 }) {
  const viaProxy = env().viaProxy.core;
  informer = new SelfHealingInformer<k8s.V1ConfigMap>({
    kc: env().proxy.kubeConfig(), path: `/api/v1/namespaces/${NS()}/configmaps`, log: silentLogger(), name: 'cm',
    list: async () => {
      const l = await viaProxy.listNamespacedConfigMap({ namespace: NS() });
      listRv = l.metadata?.resourceVersion;
      return l;
    },
    onObject: (kind, obj) => seen.push({ kind, name: obj.metadata!.name!, data: obj.data }),
    onLifecycle: (e) => lifecycle.push(e),
    ...backoff,
  });
  return informer;
}

const cm = (name: string, v = '1') => ({ metadata: { name }, data: { v } });
const create = (name: string, v = '1') => core().createNamespacedConfigMap({ namespace: NS(), body: cm(name, v) });
async function update(name: string, v: string): Promise<void> {
  const cur = await core().readNamespacedConfigMap({ namespace: NS(), name });
  await core().replaceNamespacedConfigMap({ namespace: NS(), name, body: { ...cur, data: { v } } });
}
const remove = (name: string) => core().deleteNamespacedConfigMap({ namespace: NS(), name });

const until = (what: string, fn: () => boolean, timeoutMs = 5_000) => poll(what, fn, timeoutMs, 10);

const listsOf = () => env().requests({ verb: 'list', resource: 'configmaps', namespace: NS() });
const watchesOf = () => env().requests({ verb: 'watch', resource: 'configmaps', namespace: NS() });

test('start lists, then watches from the list\'s resourceVersion; objects and changes are delivered', async () => {
  await create('a');
  await create('b');
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
  expect(listRv).toMatch(/^\d+$/);
  expect(watch.query.resourceVersion).toBe(listRv);

  await update('a', '2');
  await remove('b');
  await until('the update and the delete', () => seen.length === 4);
  expect(seen.slice(2)).toEqual([{ kind: 'update', name: 'a', data: { v: '2' } }, { kind: 'delete', name: 'b', data: { v: '1' } }]);
  expect(inf.get('a', NS())?.data).toEqual({ v: '2' });
  expect(inf.get('b', NS())).toBeUndefined();
});

test.each(['graceful', 'abrupt'] as const)('after dropped watches (%s) it resumes from its resourceVersion and loses no event', async (mode) => {
  await create('keep');
  await create('gone');
  const seen: Seen[] = [];
  const lifecycle: InformerEvent[] = [];
  const inf = makeInformer(seen, lifecycle);
  await inf.start();
  await until('the first watch', () => watchesOf().length === 1);

  // The reconnection is held back a while, so the writes below happen while no watch is open: they come
  // back from the API server's history when the informer resumes from its resourceVersion.
  env().proxy.faults.latency(500, { verb: 'watch', resource: 'configmaps', namespace: NS() }, 1);
  expect(env().proxy.faults.dropWatches({ mode })).toBeGreaterThanOrEqual(1);
  await create('new');
  await update('keep', '2');
  await update('keep', '3');
  await remove('gone');

  await until('the events that happened while disconnected', () => seen.length >= 2 + 4);
  expect(seen.slice(2)).toEqual([
    { kind: 'add', name: 'new', data: { v: '1' } },
    { kind: 'update', name: 'keep', data: { v: '2' } },
    { kind: 'update', name: 'keep', data: { v: '3' } },
    { kind: 'delete', name: 'gone', data: { v: '1' } },
  ]);
  expect(inf.list().map((o) => o.metadata!.name).sort()).toEqual(['keep', 'new']);
  // Resumed, not re-listed: one list, and the second watch starts from the resourceVersion it had seen.
  expect(listsOf()).toHaveLength(1);
  await until('a second watch', () => watchesOf().length >= 2);
  expect(watchesOf()[1].query.resourceVersion).toMatch(/^\d+$/);
  expect(watchesOf()[1].query.resourceVersion).toBe(watchesOf()[0].query.resourceVersion);
  if (mode === 'abrupt') expect(lifecycle).toEqual(expect.arrayContaining([InformerEvent.Error, InformerEvent.Restarting]));

  // And it keeps watching.
  await create('after');
  await until('an event after the reconnect', () => seen.some((s) => s.name === 'after'));
});

test('after compaction the old resourceVersion gets 410: it re-lists and reports deletions made meanwhile', async () => {
  await create('stays');
  await create('deleted-meanwhile');
  const seen: Seen[] = [];
  const inf = makeInformer(seen);
  await inf.start();
  await until('the first watch', () => watchesOf().length === 1);
  expect(listsOf()).toHaveLength(1);

  // Disconnected for a while (every watch fails) while things change and the history is compacted.
  const down = env().proxy.faults.failNext({ verb: 'watch', resource: 'configmaps', namespace: NS() }, 500, Infinity);
  env().proxy.faults.dropWatches();
  await remove('deleted-meanwhile');
  await create('created-meanwhile');
  await update('stays', '2');
  env().proxy.faults.compactHistory();
  down.cancel();

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
  // The resumed watch was answered with 410 (after the failed ones, it still asked for its old
  // resourceVersion: no list in between); the re-list came after it, then a fresh watch.
  const expired = watchesOf().filter((w) => w.reason === 'Expired');
  expect(expired).toHaveLength(1);
  expect(expired[0].query.resourceVersion).toBe(watchesOf()[0].query.resourceVersion);
  expect(listsOf()[1].seq).toBeGreaterThan(expired[0].seq);
  await until('a watch after the re-list', () => watchesOf().some((w) => w.seq > listsOf()[1].seq && w.status === 200));

  await create('later');
  await until('events after the re-list', () => seen.some((s) => s.name === 'later'));
});

test('a failing list is retried with growing backoff; start resolves once a list succeeds', async () => {
  await create('x');
  const fault = env().proxy.faults.failNext({ verb: 'list', resource: 'configmaps', namespace: NS() }, 500, 4);
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

  await create('y');
  await until('events after recovering', () => seen.some((s) => s.name === 'y'));
  // Recovered: the backoff starts again from the minimum after the next failure.
  env().proxy.faults.failNext({ verb: 'watch', resource: 'configmaps', namespace: NS() }, 500, 1);
  const before = watchesOf().length;
  env().proxy.faults.dropWatches({ mode: 'abrupt' });
  await until('a new watch after one failed watch', () => watchesOf().length >= before + 2 && watchesOf().at(-1)!.status === 200);
  const w = watchesOf().slice(before);
  // 25-50 ms again, not the 800-1600 ms that five failures in a row would give (slack for a loaded machine).
  expect(w[1].time - w[0].time).toBeLessThan(700);
  await create('z');
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
  await create('late');
  env().proxy.faults.dropWatches({ mode: 'abrupt' });
  await new Promise((r) => setTimeout(r, 300));
  expect(seen).toEqual([]);
  expect(watchesOf()).toHaveLength(1);
  expect(lifecycle).not.toContain(InformerEvent.Restarting);
  expect(lifecycle.at(-1)).toBe(InformerEvent.Stopped);
});
