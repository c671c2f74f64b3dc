/**
 * Status writes and events on the real kube-apiserver, as the operator's ServiceAccount through the
 * fault proxy: act() writes the status through the status subresource guarded by the resourceVersion it
 * observed (a stale object gets 409 and writes nothing, emits nothing); events follow the successful
 * write and name the object; an invalid spec is marked Failed without a finalizer; in the controller an
 * injected 409 is retried as a conflict (bij_reconcile_total{result="conflict"}), not an error; every
 * write carries the operator's field manager.
 */
import type * as k8s from '@kubernetes/client-node';
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { PLURAL, type S3Settings } from '../../../core/src/contract/job-spec.js';
import { silentLogger } from '../log.js';
import { OperatorMetrics } from '../metrics.js';
import { RunState } from '../commit/run-state.js';
import { openStorage } from '../../../core/src/storage/index.js';
import { act } from './apply.js';
import { BIJ_REF, FIELD_MANAGER, type KubeClients } from './clients.js';
import { Controller } from './controller.js';
import { apiReason, isConflict } from './api-errors.js';
import { COMPONENT } from './events.js';
import { FINALIZER } from '../reconciler/names.js';
import { observe, type BijObject, type ReconcileContext } from './gather.js';
import { until } from '../../../core/testing/until.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';
import { runId as computeRunId } from '../reconciler/runid.js';

const env = useKubeTestEnv({ proxy: 'operator', prefix: 'st' });
let NS: string;
/** The operator's clients (through the proxy) and the admin's (the test's own writes and reads). */
let clients: KubeClients;
let admin: KubeClients;
const controllers: Controller[] = [];

beforeEach(() => {
  ({ namespace: NS, viaProxy: clients, admin } = env());
});
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
});
const requests = (f: Parameters<ReturnType<typeof env>['requests']>[0]) => env().requests({ namespace: NS, ...f });

type KObject = k8s.KubernetesObject & { spec?: unknown };

/** Invalid (a duplicate passthrough column: the operator's check, not the CRD's), so a reconcile needs
 * no storage: it writes a Failed status. */
function invalidJob(name: string, finalizers?: string[]): KObject {
  return {
    apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name, namespace: NS, finalizers },
    spec: {
      model: { uri: '/m/model.onnx', inputs: { X: { columns: ['f0'] } }, outputs: { probs: { column: 'score' } } },
      input: { uri: '/data/in/', idColumn: 'id', passthroughColumns: ['region', 'region'] },
      output: { uri: '/data/out/' },
    },
  };
}

/** Valid; without our finalizer a reconcile reads no storage (it only adds the finalizer). */
function validJob(name: string): KObject {
  const o = invalidJob(name);
  return { ...o, spec: { ...(o.spec as Record<string, unknown>), input: { uri: '/data/in/', idColumn: 'id' } } };
}

const create = (body: KObject) => admin.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace: NS, body });
const read = (name: string) => admin.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name }) as Promise<BijObject>;
const eventsOf = async (name: string): Promise<k8s.CoreV1Event[]> =>
  (await admin.core.listNamespacedEvent({ namespace: NS })).items.filter((e) => e.involvedObject.name === name);
const managers = (o: { metadata?: k8s.V1ObjectMeta }) => (o.metadata?.managedFields ?? []).map((m) => `${m.manager}:${m.operation}${m.subresource ? `/${m.subresource}` : ''}`);
const ctx = (): ReconcileContext => ({
  clients, openStorage: (s3: S3Settings) => openStorage({ s3 }), runState: new RunState(), log: silentLogger(), now: new Date(),
});
async function reconcileOnce(obj: BijObject) {
  const c = ctx();
  return act(c, obj, await observe(c, obj, [], []), { identity: 'test-host' });
}

test('act writes the status through /status with the observed resourceVersion; a stale object gets 409, writes and emits nothing', async () => {
  await create(invalidJob('j', [FINALIZER]));
  const stale = await read('j');
  // Someone else changes the object after we read it.
  await admin.custom.patchNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'j', body: [{ op: 'add', path: '/metadata/labels', value: { team: 'a' } }] });

  let err: unknown;
  try { await reconcileOnce(stale); } catch (e) { err = e; }
  expect(err).toBeDefined();
  expect(isConflict(err)).toBe(true);
  expect(apiReason(err)).toBe('Conflict');
  const conflict = requests({ verb: 'update', resource: PLURAL, subresource: 'status', name: 'j' });
  expect(conflict.map((r) => [r.method, r.status])).toEqual([['PUT', 409]]);
  expect((await read('j')).status).toBeUndefined();
  expect(await eventsOf('j')).toHaveLength(0);

  // Re-read: the write succeeds, keeps the other writer's change, and the events follow it.
  const fresh = await read('j');
  const result = await reconcileOnce(fresh);
  expect(result.status?.phase).toBe('Failed');
  const now = await read('j');
  expect(now.metadata!.labels).toEqual({ team: 'a' });
  expect(now.status).toMatchObject({ phase: 'Failed', observedGeneration: 1 });
  expect(now.status!.conditions!.find((c) => c.type === 'Failed')!.message).toContain('spec.input.passthroughColumns[1]');
  expect(now.metadata!.resourceVersion).not.toBe(fresh.metadata!.resourceVersion);
  // The status is the operator's, written through the subresource.
  expect(managers(now)).toContain(`${FIELD_MANAGER}:Update/status`);

  const writes = requests({ verb: 'update', resource: PLURAL, subresource: 'status', name: 'j' });
  expect(writes.map((r) => r.status)).toEqual([409, 200]);
  const events = await eventsOf('j');
  expect(events).toHaveLength(1);
  const creates = requests({ verb: 'create', resource: 'events' });
  expect(creates).toHaveLength(1);
  expect(creates[0].seq).toBeGreaterThan(writes[1].seq);
  expect(events[0]).toMatchObject({
    type: 'Warning', reason: 'InvalidSpec', count: 1,
    involvedObject: {
      apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'j', namespace: NS,
      uid: fresh.metadata!.uid, resourceVersion: fresh.metadata!.resourceVersion,
    },
    source: { component: COMPONENT, host: 'test-host' },
    reportingComponent: COMPONENT,
  });
  expect(events[0].message).toContain('spec.input.passthroughColumns[1]');

  // The same observation again: the status is equal, so nothing is written and no event repeats.
  await reconcileOnce(now);
  expect(requests({ verb: 'update', resource: PLURAL, subresource: 'status', name: 'j' })).toHaveLength(2);
  expect(await eventsOf('j')).toHaveLength(1);
});

test('without our finalizer act only adds it (guarded), writing no status', async () => {
  await create(validJob('nofin'));
  const obj = await read('nofin');
  const r = await reconcileOnce(obj);
  expect(r).toEqual({ requeueAfterMs: 0 });
  const after = await read('nofin');
  expect(after.metadata!.finalizers).toEqual([FINALIZER]);
  expect(after.status).toBeUndefined();
  expect(requests({ verb: 'update', subresource: 'status' })).toHaveLength(0);
  expect(managers(after)).toContain(`${FIELD_MANAGER}:Update`);
  // The same stale observation again: the guard fails as a conflict, and the finalizer is not added twice.
  let err: unknown;
  try { await reconcileOnce(obj); } catch (e) { err = e; }
  expect(isConflict(err)).toBe(true);
  expect((await read('nofin')).metadata!.finalizers).toEqual([FINALIZER]);
});

test('an invalid spec without our finalizer is marked Failed through /status at once, and gets no finalizer', async () => {
  await create(invalidJob('invalid'));
  const r = await reconcileOnce(await read('invalid'));
  expect(r.status?.phase).toBe('Failed');
  const after = await read('invalid');
  expect(after.metadata!.finalizers).toBeUndefined();
  expect(after.status!.conditions!.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
  expect(requests({ verb: 'patch' })).toHaveLength(0);
  expect(requests({ verb: 'update', subresource: 'status', name: 'invalid' }).map((q) => q.status)).toEqual([200]);
  expect((await eventsOf('invalid')).map((e) => e.reason)).toEqual(['InvalidSpec']);
  // Nothing holds it: a delete removes it at once.
  await admin.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'invalid' });
  await expect(read('invalid')).rejects.toMatchObject({ code: 404 });
});

test('the controller retries an injected 409 on the status write as a conflict and ends with the right status', async () => {
  const metrics = new OperatorMetrics();
  const c = new Controller({
    clients, namespace: NS, log: silentLogger(), metrics, workers: 2, resyncMs: 400,
    openStorage: (s3: S3Settings) => openStorage({ s3 }),
  });
  controllers.push(c);
  await c.start();
  const fault = env().proxy.faults.failNext({ verb: 'update', resource: PLURAL, subresource: 'status', namespace: NS }, 409);
  await create(invalidJob('retried'));

  const status = await until('the Failed status', async () => {
    const s = (await read('retried')).status;
    return s?.phase === 'Failed' ? s : undefined;
  });
  expect(fault.hits).toBe(1);
  expect(status.conditions!.find((x) => x.type === 'Failed')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
  // The injected 409 first, then one successful write (a reconcile on a cache that has not seen that
  // write yet may still get a 409 of its own, but the status is written once).
  const writes = requests({ verb: 'update', subresource: 'status', name: 'retried' }).map((r) => r.status);
  expect(writes[0]).toBe(409);
  expect(writes.filter((x) => x === 200)).toHaveLength(1);

  const counts = async () => Object.fromEntries((await metrics.reconciles.get()).values.map((v) => [v.labels.result, v.value]));
  await until('the conflict to be counted', async () => ((await counts()).conflict ?? 0) >= 1);
  await new Promise((r) => setTimeout(r, 500));
  const n = await counts();
  expect(n.conflict).toBeGreaterThanOrEqual(1);
  expect(n.error ?? 0).toBe(0);
  expect(n.success).toBeGreaterThanOrEqual(2);
  expect(await metrics.registry.metrics()).toMatch(/bij_reconcile_total\{result="conflict"\} [1-9]/);
  // The rejected write emitted nothing: exactly one InvalidSpec event, after the successful write.
  const events = await eventsOf('retried');
  expect(events.map((e) => e.reason)).toEqual(['InvalidSpec']);
  const ok = requests({ verb: 'update', subresource: 'status', name: 'retried', status: 200 })[0];
  expect(requests({ verb: 'create', resource: 'events' })[0].seq).toBeGreaterThan(ok.seq);
  expect(events[0].involvedObject.uid).toBe((await read('retried')).metadata!.uid);
});

test('a deletion whose cache shows no Jobs still waits for Jobs the API server has (stale cache)', async () => {
  const name = 'stale';
  await create(invalidJob(name, [FINALIZER]));
  // A shard Job the operator created last pass, not yet seen by its cache.
  await admin.batch.createNamespacedJob({ namespace: NS, body: {
    metadata: { name: `${name}-r1-s0-a0`, labels: { 'batchinference.dev/job': name } },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'w' }] } } },
  } });
  await admin.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name });
  const deleting = await read(name);
  const r = await reconcileOnce(deleting); // observed with no Jobs (the stale cache)
  expect(r.requeueAfterMs).toBeGreaterThan(0);
  expect((await read(name)).metadata?.finalizers).toEqual([FINALIZER]); // not let go
  const deletes = requests({ verb: 'delete', resource: 'jobs' });
  expect(deletes.map((q) => [q.name, q.query.propagationPolicy])).toEqual([[`${name}-r1-s0-a0`, 'Foreground']]);
  // Once the garbage collector has removed the Job's pod and then the Job, the next pass lets the object go.
  await until('the Job to be gone', async () => (await admin.batch.listNamespacedJob({ namespace: NS })).items.length === 0);
  await reconcileOnce(await read(name));
  await expect(read(name)).rejects.toMatchObject({ code: 404 });
});

test('a committed run with no pods left is swept once: late attempts\' files go, the plan and the output stay', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-sweep-'));
  const spec = { ...invalidJob('done').spec as Record<string, unknown>, input: { uri: join(root, 'in') + '/', idColumn: 'id' }, output: { uri: join(root, 'out') + '/' } };
  await create({ ...invalidJob('done', [FINALIZER]), spec });
  const created = await read('done');
  const runId = computeRunId(created.metadata!.uid!, BatchInferenceJobSpecSchema.parse(spec));
  await admin.custom.replaceNamespacedCustomObjectStatus({
    ...BIJ_REF, namespace: NS, name: 'done',
    body: { ...created, status: { phase: 'Succeeded', observedGeneration: 1, runId, outputUri: join(root, 'out') + '/', message: 'committed' } },
  });
  // What the commit left, plus what a redundant attempt killed after it wrote.
  const out = join(root, 'out');
  const keep = [join(out, '_SUCCESS'), join(out, 'part-s00000-00000.parquet'), join(out, '_bij', runId, 'plan.json')];
  const late = join(out, '_bij', runId, 'shards', '00001', 'a2', 'part-00000-beef.parquet');
  for (const f of [...keep, late]) {
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, 'x');
  }
  const c = ctx();
  await act(c, await read('done'), await observe(c, await read('done'), [], []), { identity: 'test-host' });
  expect(existsSync(late)).toBe(false);
  for (const f of keep) expect(existsSync(f)).toBe(true);
  expect((await read('done')).status?.phase).toBe('Succeeded');

  // Once per run: a file that turns up later (no pod could write it) is not looked for again.
  mkdirSync(dirname(late), { recursive: true });
  writeFileSync(late, 'x');
  await act(c, await read('done'), await observe(c, await read('done'), [], []), { identity: 'test-host' });
  expect(existsSync(late)).toBe(true);
  rmSync(root, { recursive: true, force: true });
});

test('the API server judges specs by the whole CRD, its CEL rules included', async () => {
  // Both shards and targetRowsPerShard: valid field by field, refused by the spec's CEL rule.
  const body = { ...validJob('cel'), spec: { ...(validJob('cel').spec as Record<string, unknown>), shards: 2, targetRowsPerShard: 100 } };
  const err = await create(body).then(() => undefined, (e: unknown) => e);
  expect((err as { code?: number }).code).toBe(422);
  expect(String((err as { body?: unknown }).body)).toContain('set at most one of shards or targetRowsPerShard');
});
