/** Finalizers, deletionTimestamp, graceful pod deletion, and garbage collection through ownerReferences. */
import * as k8s from '@kubernetes/client-node';
import { startHarness, sleep, statusOf, until, widget, TEST_GROUP, type Harness } from './testkit.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ gc: { delayMs: 1 } }); });
afterAll(async () => { await h.server.close(); });

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const W = (namespace: string) => ({ group: TEST_GROUP, version: 'v1', namespace, plural: 'widgets' });
const ownerRef = (o: { metadata: { name: string; uid: string } }, extra: Partial<k8s.V1OwnerReference> = {}): k8s.V1OwnerReference =>
  ({ apiVersion: `${TEST_GROUP}/v1`, kind: 'Widget', name: o.metadata.name, uid: o.metadata.uid, ...extra });
const exists = async (p: Promise<unknown>) => p.then(() => true, (e) => { if (e.code === 404) return false; throw e; });
const cmExists = (ns: string, name: string) => exists(h.core.readNamespacedConfigMap({ namespace: ns, name }));

test('finalizers hold a deleted object with a deletionTimestamp until the last one is removed', async () => {
  const ns = 'fin';
  const events: string[] = [];
  const ctl = await new k8s.Watch(h.kc).watch(`/apis/${TEST_GROUP}/v1/namespaces/${ns}/widgets`, { resourceVersion: h.server.store.resourceVersion },
    (type, obj) => events.push(`${type} ${obj.metadata.deletionTimestamp ? 'deleting' : 'live'}`), () => undefined);
  const w = await h.custom.createNamespacedCustomObject({ ...W(ns), body: { ...widget('f'), metadata: { name: 'f', finalizers: ['test.bij.dev/cleanup'] } } });
  const deleting = await h.custom.deleteNamespacedCustomObject({ ...W(ns), name: 'f' });
  expect(deleting.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(deleting.metadata.deletionGracePeriodSeconds).toBe(0);
  expect(deleting.metadata.generation).toBe(w.metadata.generation + 1);
  const cur = await h.custom.getNamespacedCustomObject({ ...W(ns), name: 'f' });
  expect(cur.metadata.finalizers).toEqual(['test.bij.dev/cleanup']);

  const added = await statusOf(h.custom.patchNamespacedCustomObject({ ...W(ns), name: 'f', body: { metadata: { finalizers: ['test.bij.dev/cleanup', 'other'] } } }, merge));
  expect(added.body).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers' }] } });
  expect(added.body.message).toContain('no new finalizers can be added if the object is being deleted');

  const again = await h.custom.deleteNamespacedCustomObject({ ...W(ns), name: 'f' });
  expect(again.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);

  await h.custom.patchNamespacedCustomObject({ ...W(ns), name: 'f', body: [{ op: 'remove', path: '/metadata/finalizers' }] });
  expect(await exists(h.custom.getNamespacedCustomObject({ ...W(ns), name: 'f' }))).toBe(false);
  await until(() => events.length >= 3, 10_000, 'the watch events');
  ctl.abort();
  expect(events).toEqual(['ADDED live', 'MODIFIED deleting', 'DELETED deleting']);
});

test('background propagation (the default for custom resources): dependents are collected after the owner goes', async () => {
  const ns = 'bg';
  const owner = await h.custom.createNamespacedCustomObject({ ...W(ns), body: widget('owner') });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dep', ownerReferences: [ownerRef(owner, { controller: true })] } } });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'grandchild', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'dep', uid: (await h.core.readNamespacedConfigMap({ namespace: ns, name: 'dep' })).metadata!.uid! }] } } });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unrelated' } } });
  await h.custom.deleteNamespacedCustomObject({ ...W(ns), name: 'owner' });
  expect(await exists(h.custom.getNamespacedCustomObject({ ...W(ns), name: 'owner' }))).toBe(false);
  for (let i = 0; i < 100 && (await cmExists(ns, 'dep') || await cmExists(ns, 'grandchild')); i++) await sleep(10);
  expect(await cmExists(ns, 'dep')).toBe(false);
  expect(await cmExists(ns, 'grandchild')).toBe(false);
  expect(await cmExists(ns, 'unrelated')).toBe(true);
});

test('foreground propagation: the owner waits, with foregroundDeletion, for dependents that block it', async () => {
  const ns = 'fg';
  const owner = await h.custom.createNamespacedCustomObject({ ...W(ns), body: widget('owner') });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'blocker', finalizers: ['test/hold'], ownerReferences: [ownerRef(owner, { blockOwnerDeletion: true })] } } });
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'plain', ownerReferences: [ownerRef(owner)] } } });
  const res = await h.custom.deleteNamespacedCustomObject({ ...W(ns), name: 'owner', propagationPolicy: 'Foreground' });
  expect(res.metadata.finalizers).toEqual(['foregroundDeletion']);
  expect(res.metadata.deletionTimestamp).toBeDefined();
  for (let i = 0; i < 100 && await cmExists(ns, 'plain'); i++) await sleep(10);
  expect(await cmExists(ns, 'plain')).toBe(false);
  const blocker = await h.core.readNamespacedConfigMap({ namespace: ns, name: 'blocker' });
  expect(blocker.metadata?.deletionTimestamp).toBeDefined();
  await sleep(30);
  expect(await exists(h.custom.getNamespacedCustomObject({ ...W(ns), name: 'owner' }))).toBe(true);
  await h.core.patchNamespacedConfigMap({ namespace: ns, name: 'blocker', body: { metadata: { finalizers: null } } }, merge);
  for (let i = 0; i < 100 && await exists(h.custom.getNamespacedCustomObject({ ...W(ns), name: 'owner' })); i++) await sleep(10);
  expect(await exists(h.custom.getNamespacedCustomObject({ ...W(ns), name: 'owner' }))).toBe(false);
});

test('a Job deleted in the foreground waits, with foregroundDeletion, until the collector has removed its pods', async () => {
  const ns = 'jobs';
  const job = await h.batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'shard' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'w:1' }] } } } } });
  await h.core.createNamespacedPod({ namespace: ns, body: {
    metadata: { name: 'shard-pod', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'shard', uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true }] },
    spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'w:1' }] },
  } });
  const seen: string[] = [];
  const w = h.server.store.watch('jobs.batch', { namespace: ns, resourceVersion: h.server.store.resourceVersion },
    { send: (ev) => seen.push(`${ev.type} ${(ev.object.metadata?.finalizers ?? []).join(',')}`), close: () => undefined });
  await h.batch.deleteNamespacedJob({ namespace: ns, name: 'shard', propagationPolicy: 'Foreground' });
  for (let i = 0; i < 100 && await exists(h.batch.readNamespacedJob({ namespace: ns, name: 'shard' })); i++) await sleep(10);
  w.stop();
  // As from etcd, the DELETED event carries the last stored state (here still with the finalizer).
  expect(seen).toEqual(['MODIFIED foregroundDeletion', 'DELETED foregroundDeletion']);
  expect(await exists(h.core.readNamespacedPod({ namespace: ns, name: 'shard-pod' }))).toBe(false);
});

test('pods bound to a node are deleted gracefully; gracePeriodSeconds=0 finishes the deletion', async () => {
  const ns = 'grace';
  await h.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'bound' }, spec: { nodeName: 'local', containers: [{ name: 'c', image: 'i:1' }] } } });
  const d = await h.core.deleteNamespacedPod({ namespace: ns, name: 'bound' });
  expect(d.metadata?.deletionGracePeriodSeconds).toBe(30);
  expect(d.metadata!.deletionTimestamp!.getTime()).toBeGreaterThan(Date.now() + 20_000);
  expect(await exists(h.core.readNamespacedPod({ namespace: ns, name: 'bound' }))).toBe(true);
  const gone = await h.core.deleteNamespacedPod({ namespace: ns, name: 'bound', gracePeriodSeconds: 0 });
  expect(gone.metadata?.name).toBe('bound'); // pods answer DELETE with the object, not a Status
  expect(await exists(h.core.readNamespacedPod({ namespace: ns, name: 'bound' }))).toBe(false);
  await h.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'unbound' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } });
  await h.core.deleteNamespacedPod({ namespace: ns, name: 'unbound' });
  expect(await exists(h.core.readNamespacedPod({ namespace: ns, name: 'unbound' }))).toBe(false);
});

test('Orphan propagation, orphanDependents and preconditions are refused: the real control plane serves them', async () => {
  const ns = 'refused';
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' } } });
  const orphan = await statusOf(h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'c', propagationPolicy: 'Orphan' }));
  expect(orphan.body).toMatchObject({ code: 422, message: expect.stringContaining('supports "Foreground", "Background"') });
  const pre = await statusOf(h.core.deleteNamespacedConfigMap({ namespace: ns, name: 'c', body: { preconditions: { uid: 'x' } } }));
  expect(pre.body).toMatchObject({ code: 400, message: expect.stringContaining('embedded API server of bij run') });
  expect(await cmExists(ns, 'c')).toBe(true);
});
