/**
 * BatchInferenceJobs as objects of the real API server: server-side apply from two field managers
 * (a conflict naming the field and the other manager, then force taking the field over), and the real
 * garbage collector (in the real kube-controller-manager) deleting the shard Jobs the operator's own
 * constructor builds, with the ownerReferences it sets: foreground, background, and orphan.
 */
import * as k8s from '@kubernetes/client-node';
import { CRD_NAME } from '../../operator/src/api/crd.js';
import { parseBatchInferenceJob } from '../../operator/src/api/validate.js';
import { planUri } from '../../core/src/contract/index.js';
import { buildShardJob } from '../../operator/src/reconciler/job.js';
import { jobSelector } from '../../operator/src/reconciler/names.js';
import { until } from '../../core/testing/until.js';
import { installCrd } from '../../cluster/src/up/install.js';
import { useControlPlane } from '../support/control-plane.js';
import { api, bijPath, expectStatus, waitEstablished } from '../support/real-api-helpers.js';

// The CRD goes in before the controller manager starts, so its garbage collector watches
// BatchInferenceJobs from the start (else the first cascade waits for its 30 s discovery resync).
const cp = useControlPlane({ beforeControllers: (admin) => installCrd(admin) });
const ns = 'default';
const APPLY = 'application/apply-patch+yaml';

const spec = (name: string, more: Record<string, unknown> = {}) => ({
  model: { uri: 's3://models/churn.onnx', inputs: { X: { columns: ['f0'] } }, outputs: { probs: { column: 'score', select: 1 } } },
  input: { uri: 's3://lake/features/', idColumn: 'id' },
  output: { uri: `s3://lake/scores/${name}/` },
  ...more,
});
const doc = (name: string, specPart: Record<string, unknown>) =>
  ({ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name }, spec: specPart });

let batch: k8s.BatchV1Api;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  const kc = cp().kubeConfig();
  batch = kc.makeApiClient(k8s.BatchV1Api);
  core = kc.makeApiClient(k8s.CoreV1Api);
  await waitEstablished(cp(), CRD_NAME);
});

describe('server-side apply from two field managers', () => {
  const name = 'ssa';
  const apply = (manager: string, body: object, force = false) =>
    api(cp(), 'PATCH', `${bijPath(ns, name)}?fieldManager=${manager}&fieldValidation=Strict${force ? '&force=true' : ''}`, { body: JSON.stringify(body), contentType: APPLY });
  /** The spec fields a manager owns, from managedFields. */
  const owned = (obj: any, manager: string): string[] => {
    const entry = (obj.metadata.managedFields as { manager: string; operation: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[])
      .find((m) => m.manager === manager && m.operation === 'Apply');
    return Object.keys(entry?.fieldsV1?.['f:spec'] ?? {}).filter((k) => k !== '.').map((k) => k.replace(/^f:/, '')).sort();
  };

  test('alice creates the job; bob applying another parallelism conflicts, naming the field and alice', async () => {
    const created = expectStatus(await apply('alice', doc(name, spec(name, { parallelism: 2, maxRetries: 5 }))), 'alice applies', 201).json;
    expect(owned(created, 'alice')).toEqual(['input', 'maxRetries', 'model', 'output', 'parallelism']);
    expect(created.spec).toMatchObject({ parallelism: 2, maxRetries: 5, batchSize: 4096 }); // the CRD's default too

    const conflict = await apply('bob', doc(name, { parallelism: 4 }));
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({ reason: 'Conflict', details: { causes: [{ reason: 'FieldManagerConflict', field: '.spec.parallelism', message: 'conflict with "alice"' }] } });
    expect(conflict.json.message).toMatch(/conflict with "alice": \.spec\.parallelism/);
  });

  test('the same value is no conflict: both managers own it', async () => {
    const shared = expectStatus(await apply('bob', doc(name, { maxRetries: 5 })), 'bob applies alice\'s value', 200).json;
    expect(owned(shared, 'bob')).toEqual(['maxRetries']);
    expect(owned(shared, 'alice')).toContain('maxRetries');
  });

  test('bob forces: he takes parallelism over, and then alice\'s apply conflicts, naming bob', async () => {
    const forced = expectStatus(await apply('bob', doc(name, { maxRetries: 5, parallelism: 4 }), true), 'bob forces', 200).json;
    expect(forced.spec.parallelism).toBe(4);
    expect(owned(forced, 'bob')).toEqual(['maxRetries', 'parallelism']);
    expect(owned(forced, 'alice')).not.toContain('parallelism');

    const back = await apply('alice', doc(name, spec(name, { parallelism: 2, maxRetries: 5 })));
    expect(back.status).toBe(409);
    expect(back.json.details.causes).toEqual([expect.objectContaining({ field: '.spec.parallelism', message: 'conflict with "bob"' })]);
  });

  test('a field its only manager stops applying is removed, and the CRD default comes back', async () => {
    const r = expectStatus(await apply('bob', doc(name, {})), 'bob applies nothing', 200).json;
    expect(r.spec.parallelism).toBe(8); // bob owned it alone: removed, then defaulted
    expect(r.spec.maxRetries).toBe(5); // alice still owns it
  });
});

describe('the real garbage collector deletes the shard Jobs the operator builds', () => {
  /** A job with two shard Jobs built by buildShardJob, as the reconciler creates them; waits until the
   * Job controller made their pods (Pending: no node here). */
  async function jobWithShards(name: string): Promise<{ uid: string; jobs: string[] }> {
    const obj = expectStatus(await api(cp(), 'POST', bijPath(ns), { body: doc(name, spec(name, { shards: 2 })) }), `create ${name}`, 201).json;
    const parsed = parseBatchInferenceJob(obj);
    if (!parsed.ok) throw new Error(`the created job does not parse: ${JSON.stringify(parsed.errors)}`);
    const ref = { metadata: { name, namespace: ns, uid: obj.metadata.uid as string }, spec: parsed.bij.spec };
    const runId = 'r0123abcd';
    const jobs: string[] = [];
    for (const shard of [0, 1]) {
      const job = buildShardJob(ref, { runId, shard, attempt: 0, planUri: planUri(parsed.bij.spec.output.uri, runId) });
      expect(job.metadata?.ownerReferences).toEqual([{
        apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name, uid: obj.metadata.uid, controller: true, blockOwnerDeletion: true,
      }]);
      await batch.createNamespacedJob({ namespace: ns, body: job });
      jobs.push(job.metadata!.name!);
    }
    await until(`the Job controller to make a pod for each of ${jobs.join(', ')}`, async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: jobSelector(name) });
      return new Set(pods.items.map((p) => p.metadata?.labels?.['job-name'])).size === 2;
    }, 20_000, 50);
    return { uid: obj.metadata.uid, jobs };
  }

  const shardJobs = async (name: string) => (await batch.listNamespacedJob({ namespace: ns, labelSelector: jobSelector(name) })).items;
  const shardPods = async (name: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector: jobSelector(name) })).items;
  const readBij = async (name: string) => {
    const r = await api(cp(), 'GET', bijPath(ns, name));
    return r.status === 404 ? undefined : expectStatus(r, `read ${name}`, 200).json;
  };
  const del = (name: string, propagationPolicy: string) =>
    api(cp(), 'DELETE', bijPath(ns, name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy } });
  const GC_TIMEOUT = 15_000;

  test('foreground: the job stays, marked, until the GC has deleted its Jobs and their pods', async () => {
    const name = 'gc-foreground';
    const { jobs } = await jobWithShards(name);
    const marked = expectStatus(await del(name, 'Foreground'), 'delete in the foreground', 200).json;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(marked.metadata.finalizers).toEqual(['foregroundDeletion']);
    // Until it is gone, the job must never be gone while a Job of it is left.
    await until(`${name} and its Jobs ${jobs.join(', ')} to be deleted`, async () => {
      const [bij, left] = [await readBij(name), await shardJobs(name)];
      if (!bij && left.length > 0) throw new Error(`${name} was deleted while its Jobs ${left.map((j) => j.metadata?.name).join(', ')} were left`);
      return !bij && left.length === 0;
    }, GC_TIMEOUT, 50);
    await until(`the pods of ${name} to be deleted`, async () => (await shardPods(name)).length === 0, 20_000, 50);
  }, 40_000);

  test('background: the job goes at once, then the GC deletes its Jobs and their pods', async () => {
    const name = 'gc-background';
    const { jobs } = await jobWithShards(name);
    expectStatus(await del(name, 'Background'), 'delete in the background', 200);
    expect(await readBij(name)).toBeUndefined();
    await until(`the GC to delete ${jobs.join(', ')}`, async () => (await shardJobs(name)).length === 0, GC_TIMEOUT, 50);
    await until(`the pods of ${name} to be deleted`, async () => (await shardPods(name)).length === 0, 20_000, 50);
  }, 40_000);

  test('orphan: the job goes, its Jobs stay without the owner reference', async () => {
    const name = 'gc-orphan';
    const { jobs } = await jobWithShards(name);
    expectStatus(await del(name, 'Orphan'), 'delete, orphaning', 200);
    await until(`${name} to be deleted and its Jobs orphaned`, async () => {
      const left = await shardJobs(name);
      return !(await readBij(name)) && left.length === 2 && left.every((j) => (j.metadata?.ownerReferences ?? []).length === 0);
    }, GC_TIMEOUT, 50);
    for (const job of jobs) await batch.deleteNamespacedJob({ namespace: ns, name: job, propagationPolicy: 'Background' });
  }, 40_000);
});
