/**
 * The controller on the real control plane, as the operator's ServiceAccount under the chart's RBAC
 * (through the fault proxy), with the real Job controller and garbage collector but no node, so shard
 * pods never run: invalid specs fail with a condition naming the field; a valid job gets the
 * finalizer, a plan, and at most `parallelism` shard Jobs; deleting it removes the Jobs (Foreground,
 * finished by the garbage collector), then the finalizer; a malformed object (one the CRD's schema
 * refuses now) is marked Failed without blocking other jobs; a stale cache gives a 409 that is retried
 * as a conflict, not an error.
 */
import * as k8s from '@kubernetes/client-node';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { API_GROUP, API_VERSION, PLURAL, type S3Settings } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import { silentLogger } from '../log.js';
import { OperatorMetrics } from '../metrics.js';
import { writeDataset, writeModel } from '../../../core/testing/fixtures.js';
import { openStorage } from '../../../core/src/storage/index.js';
import { BIJ_REF, FIELD_MANAGER, type KubeClients } from './clients.js';
import { Controller } from './controller.js';
import { FINALIZER, LABEL_JOB } from '../reconciler/names.js';
import { until as poll } from '../../../core/testing/until.js';

type KObject = k8s.KubernetesObject & { spec?: unknown; status?: BatchInferenceJobStatus };
interface Change { res: string; type: string; name: string; finalizers: string[]; rv: number }

const env = useKubeTestEnv({ proxy: 'operator', prefix: 'ctl' });
let root: string;
let model: string;
let NS: string;
let admin: KubeClients;
let metrics: OperatorMetrics;
let controller: Controller;
let changes: Change[];
let stopRecording: () => void;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bij-kube-ctl-'));
  model = writeModel(join(root, 'models'));
  // 4 files of one row group each: 4 shards of 100 rows.
  await writeDataset(join(root, 'in'), { files: 4, rowsPerFile: 100, rowGroupRows: 100 });
}, 30_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every change to BatchInferenceJobs and Jobs in the namespace, as the admin's watches see them. */
async function record(kc: k8s.KubeConfig): Promise<() => void> {
  const watch = new k8s.Watch(kc);
  const open = await Promise.all([
    { res: PLURAL, path: `/apis/${API_GROUP}/${API_VERSION}/namespaces/${NS}/${PLURAL}` },
    { res: 'jobs', path: `/apis/batch/v1/namespaces/${NS}/jobs` },
  ].map(({ res, path }) => watch.watch(path, {}, (type: string, obj: k8s.KubernetesObject) => changes.push({
    res, type, name: obj.metadata?.name ?? '', finalizers: obj.metadata?.finalizers ?? [], rv: Number(obj.metadata?.resourceVersion),
  }), () => undefined)));
  return () => { for (const r of open) r.abort(); };
}

/** The changes in the order they happened. Two watches have no common order, but resourceVersions of
 * one etcd are its revisions, which only grow (a test may compare them; clients in general must not). */
const timeline = () => [...changes].sort((a, b) => a.rv - b.rv);

beforeEach(async () => {
  ({ namespace: NS, admin } = env());
  changes = [];
  stopRecording = await record(admin.kc);
  metrics = new OperatorMetrics();
  controller = new Controller({
    clients: env().viaProxy, namespace: NS, log: silentLogger(), metrics, workers: 2, resyncMs: 500,
    openStorage: (s3: S3Settings) => openStorage({ s3 }),
    reconcileOptions: { backoff: { baseMs: 100, maxMs: 500 }, progressPollMs: 500 },
  });
  await controller.start();
});
afterEach(async () => {
  await controller.stop();
  stopRecording();
});

function job(name: string, spec: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name, namespace: NS },
    spec: {
      model: { uri: model, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: join(root, 'in') + '/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: join(root, `out-${NS}-${name}`) + '/' },
      shards: 4, parallelism: 2, batchSize: 100, worker: { executionProvider: 'cpu' },
      ...spec,
    },
  };
}
const outDir = (name: string) => join(root, `out-${NS}-${name}`);

const apply = (obj: KObject) => admin.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace: NS, body: obj });
const requests = (f: Parameters<ReturnType<typeof env>['requests']>[0]) => env().requests({ namespace: NS, ...f });

async function stored(name: string): Promise<KObject | undefined> {
  try {
    return await admin.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name }) as KObject;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}
const jobsOf = async (name: string): Promise<k8s.V1Job[]> =>
  (await admin.batch.listNamespacedJob({ namespace: NS, labelSelector: `${LABEL_JOB}=${name}` })).items;

const until = <T>(what: string, fn: Parameters<typeof poll<T>>[1], timeoutMs = 15_000) => poll(what, fn, timeoutMs);
async function statusOf(name: string, pred: (s: BatchInferenceJobStatus) => boolean, what: string): Promise<BatchInferenceJobStatus> {
  let last: BatchInferenceJobStatus | undefined;
  try {
    return await until(what, async () => {
      last = (await stored(name))?.status;
      return last && pred(last) ? last : undefined;
    });
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message} (last status: ${JSON.stringify(last)})`);
  }
}

async function counter(result: string): Promise<number> {
  const m = (await metrics.reconciles.get()).values.find((v) => v.labels.result === result);
  return m?.value ?? 0;
}

test('an invalid spec (a duplicate output column) fails with a condition naming the field, and creates no Job', async () => {
  await apply(job('dup', {
    model: { uri: model, inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'score', select: 1 }, other: { column: 'score', select: 0 } } },
  }));
  const s = await statusOf('dup', (x) => x.phase === 'Failed', 'phase Failed');
  const failed = s.conditions?.find((c) => c.type === 'Failed');
  expect(failed).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
  // The API server hands objects back with their keys sorted (it does not keep the order they were
  // written in), so 'other' comes first and 'probs' is the one that repeats its column.
  expect(failed!.message).toContain('spec.model.outputs.probs.column: output column score is also written by output other');
  expect(s.observedGeneration).toBe(1);
  // Nothing is created for an invalid spec, so nothing needs guarding: no finalizer.
  expect((await stored('dup'))!.metadata!.finalizers).toBeUndefined();
  // Give it a few more reconciles (resync): still no Job, and the status is not rewritten.
  const ok = { verb: 'update', subresource: 'status', name: 'dup', status: 200 } as const;
  const writes = requests(ok).length;
  await new Promise((r) => setTimeout(r, 700));
  expect(await jobsOf('dup')).toHaveLength(0);
  expect(requests({ verb: 'create', resource: 'jobs' })).toHaveLength(0);
  expect(requests({ verb: 'patch' })).toHaveLength(0);
  expect(writes).toBe(1);
  expect(requests(ok)).toHaveLength(writes);
  expect(await counter('error')).toBe(0);
});

test('a valid job: finalizer first, a plan, at most `parallelism` shard Jobs; deleting it removes the Jobs, then the finalizer', async () => {
  await apply(job('ok'));
  const s = await statusOf('ok', (x) => x.phase === 'Running' && (x.shards?.running ?? 0) === 2, 'Running with 2 shards running');
  const bij = (await stored('ok'))!;
  expect(bij.metadata!.finalizers).toEqual([FINALIZER]);
  expect(s).toMatchObject({ shards: { total: 4, running: 2, pending: 2, succeeded: 0 }, rows: { total: 400 }, observedGeneration: 1 });
  expect(s.runId).toMatch(/^r[0-9a-f]{10}$/);
  expect(existsSync(join(outDir('ok'), '_bij', s.runId!, 'plan.json'))).toBe(true);

  // Let a few more reconciles happen (resync, Job and pod events): still exactly `parallelism` Jobs.
  await new Promise((r) => setTimeout(r, 700));
  const jobs = await jobsOf('ok');
  expect(jobs).toHaveLength(2);
  for (const j of jobs) {
    expect(j.metadata!.labels).toMatchObject({ [LABEL_JOB]: 'ok', 'batchinference.dev/run': s.runId, 'app.kubernetes.io/managed-by': 'batch-inference-operator' });
    expect(j.metadata!.ownerReferences).toEqual([{
      apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'ok', uid: bij.metadata!.uid, controller: true, blockOwnerDeletion: true,
    }]);
    // Created by the operator (its field manager), and run by the real Job controller (a pod each).
    expect(j.metadata!.managedFields?.find((m) => m.operation === 'Update' && !m.subresource)?.manager).toBe(FIELD_MANAGER);
  }
  expect(jobs.map((j) => j.metadata!.labels!['batchinference.dev/shard']).sort()).toEqual(['0', '1']);
  await until('a pod for each shard Job', async () => (await admin.core.listNamespacedPod({ namespace: NS, labelSelector: `${LABEL_JOB}=ok` })).items.length === 2);
  // The finalizer was on the object before the first Job existed, and never more than 2 Jobs lived at once.
  let t = timeline();
  const firstJob = t.findIndex((e) => e.res === 'jobs' && e.type === 'ADDED');
  const finalizerAt = t.findIndex((e) => e.res === PLURAL && e.finalizers.includes(FINALIZER));
  expect(finalizerAt).toBeGreaterThanOrEqual(0);
  expect(finalizerAt).toBeLessThan(firstJob);
  let live = 0;
  let most = 0;
  for (const e of t.filter((x) => x.res === 'jobs')) {
    live += e.type === 'ADDED' ? 1 : e.type === 'DELETED' ? -1 : 0;
    most = Math.max(most, live);
  }
  expect(most).toBe(2);
  expect(await metrics.registry.metrics()).toContain(`bij_phase{namespace="${NS}",name="ok",phase="Running"} 1`);

  // What a worker would leave under the run's shards/ prefix: the deletion must clean it up.
  const leftover = join(outDir('ok'), '_bij', s.runId!, 'shards', 'leftover.bin');
  mkdirSync(dirname(leftover), { recursive: true });
  writeFileSync(leftover, 'x');

  await admin.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'ok' });
  await until('the BatchInferenceJob to be gone', async () => (await stored('ok')) === undefined);
  expect(await jobsOf('ok')).toHaveLength(0);
  const deletes = requests({ verb: 'delete', resource: 'jobs' });
  // A reconcile that ran before the first delete's watch event may delete a Job again (harmless).
  expect([...new Set(deletes.map((d) => d.name))].sort()).toEqual(jobs.map((j) => j.metadata!.name).sort());
  for (const d of deletes) expect(d.query.propagationPolicy).toBe('Foreground');
  // Every Job was gone (the garbage collector removed its pod, then it) before the finalizer was
  // removed (which deleted the object).
  await until('the deletion to be seen by the test\'s watch', () => changes.some((e) => e.res === PLURAL && e.type === 'DELETED'));
  t = timeline();
  const jobGone = t.map((e, i) => (e.res === 'jobs' && e.type === 'DELETED' ? i : -1)).filter((i) => i >= 0);
  const bijGone = t.findIndex((e) => e.res === PLURAL && e.type === 'DELETED');
  expect(jobGone).toHaveLength(2);
  expect(Math.max(...jobGone)).toBeLessThan(bijGone);
  // The uncommitted run is discarded whole (plan included), and the job's metric series are dropped.
  expect(existsSync(leftover)).toBe(false);
  expect(existsSync(join(outDir('ok'), '_bij', s.runId!, 'plan.json'))).toBe(false);
  await until('the metric series to be dropped', async () => !(await metrics.registry.metrics()).includes('job="ok"'));
  expect(await counter('error')).toBe(0);
});

test('a malformed object (no spec) does not crash the operator: it is marked Failed without a finalizer and other jobs still reconcile', async () => {
  // The CRD requires a spec now, but an object stored before that is still served (and judged by the
  // current schema on every update of the object itself: adding a finalizer to it gets a 422).
  await env().createBeforeSchemaChange([{ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name: 'malformed', namespace: NS } }]);
  const s = await statusOf('malformed', (x) => x.phase === 'Failed', 'phase Failed');
  expect(s.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: expect.stringContaining('spec: is required') });
  const obj = (await stored('malformed'))!;
  expect(obj.spec).toBeUndefined();
  expect(obj.metadata!.finalizers).toBeUndefined();
  expect(requests({ verb: 'patch', name: 'malformed' })).toEqual([]);
  expect(requests({ verb: 'update', subresource: 'status', name: 'malformed' }).map((r) => r.status)).toContain(200);
  // Why no finalizer: the API server refuses any change to the object itself while it has no spec.
  const refused = await admin.custom.patchNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'malformed', body: [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }] })
    .then(() => undefined, (e: unknown) => e as { code?: number; body?: unknown });
  expect(refused?.code).toBe(422);
  expect(String(refused?.body)).toContain('spec: Required value');

  await apply(job('after-malformed', { suspend: true }));
  const other = await statusOf('after-malformed', (x) => x.phase === 'Suspended', 'phase Suspended');
  expect(other.message).toBe('suspended before planning');
  expect(await jobsOf('malformed')).toHaveLength(0);
  expect(await counter('error')).toBe(0);

  // And it can still be deleted: nothing holds it.
  await admin.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'malformed' });
  await until('the malformed object to be gone', async () => (await stored('malformed')) === undefined);
});

test('a stale cache (the object changed behind the controller\'s back) gives 409, counted as a conflict, then the right status', async () => {
  await apply(job('stale'));
  await statusOf('stale', (x) => x.phase === 'Running' && (x.shards?.running ?? 0) === 2, 'Running with 2 shards running');
  await new Promise((r) => setTimeout(r, 200));
  expect(await counter('error')).toBe(0);
  const conflictsBefore = await counter('conflict');

  // Freeze the controller's view of BatchInferenceJobs: its watch ends and cannot come back.
  const frozen = env().proxy.faults.failNext({ verb: ['list', 'watch'], resource: PLURAL }, 500, Infinity);
  env().proxy.faults.dropWatches({ resource: PLURAL });
  // Behind its back: the spec changes (parallelism 2 -> 3, a new generation)...
  await admin.custom.patchNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'stale', body: [{ op: 'replace', path: '/spec/parallelism', value: 3 }] });
  // ...and one shard Job disappears, which makes the controller (still on the old object) write a status.
  const victim = (await jobsOf('stale'))[0].metadata!.name!;
  await admin.batch.deleteNamespacedJob({ namespace: NS, name: victim, propagationPolicy: 'Background' });

  await until('a 409 on the status write', () => requests({ verb: 'update', subresource: 'status', name: 'stale', status: 409 }).length > 0);
  await until('the conflict to be counted', async () => (await counter('conflict')) > conflictsBefore);
  // The behind-the-back change is intact.
  expect(((await stored('stale'))!.spec as { parallelism: number }).parallelism).toBe(3);

  frozen.cancel();
  const s = await statusOf('stale', (x) => x.observedGeneration === 2 && (x.shards?.running ?? 0) === 3, 'generation 2 with 3 shards running');
  expect(s.phase).toBe('Running');
  await until('3 shard Jobs (the victim gone)', async () => (await jobsOf('stale')).filter((j) => !j.metadata?.deletionTimestamp).length === 3);
  // The right status was written after the conflicts began. (A reconcile that read the old object
  // before the cache caught up may still get one more 409 after it: harmless, so not asserted.)
  expect(requests({ verb: 'update', subresource: 'status', name: 'stale', status: 200 }).at(-1)!.seq)
    .toBeGreaterThan(requests({ verb: 'update', subresource: 'status', name: 'stale', status: 409 })[0].seq);
  expect(await counter('error')).toBe(0);
});
