/**
 * Fault case 8: the BatchInferenceJob is deleted mid-run, on S3 (SeaweedFS). The operator's finalizer
 * holds the object until its Jobs are gone (their worker processes stopped), the run's open multipart
 * uploads are aborted and its attempt files removed; nothing looks committed (no _SUCCESS, no
 * _manifest.json, no committed parts); then the finalizer goes and so does the object.
 * A finalizer another controller added is left alone: the object stays, deleting, with only that
 * finalizer, until that controller removes it.
 */
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIJ_REF, mergePatch } from '../../operator/src/kube/clients.js';
import { FINALIZER } from '../../operator/src/reconciler/names.js';
import { openStorage } from '../../core/src/storage/index.js';
import { S3Storage } from '../../core/src/storage/s3.js';
import type { Storage } from '../../core/src/storage/types.js';
import { NAMESPACE, TestCluster, fixtureJob, sleep } from '../support/cluster.js';
import { startS3Server, s3OptionsFor, type S3Server } from '../support/s3-server.js';
import { useS3Credentials } from '../support/s3-target.js';
import { recordCluster, until, writeFixtures, type ClusterRecord } from '../support/operator-process.js';

const FOREIGN = 'example.com/audit';

describe('BatchInferenceJob deleted mid-run', () => {
  let s3: S3Server;
  let restore: () => void;
  let direct: Storage;
  let raw: S3Storage;
  let cluster: TestCluster;
  let rec: ClusterRecord;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['models', 'lake', 'scores'] });
    restore = useS3Credentials(s3.env);
    direct = openStorage({ s3: s3OptionsFor(s3) });
    raw = new S3Storage(s3OptionsFor(s3));
    const local = mkdtempSync(join(tmpdir(), 'bij-op-del-'));
    const data = await writeFixtures(local);
    await direct.copy(data.model, 's3://models/churn/model.onnx');
    for (const f of readdirSync(data.input)) await direct.copy(join(data.input, f), `s3://lake/features/${f}`);
    cluster = await TestCluster.start({ workerEnv: { ...s3.env, BIJ_FAULT: 'slow-rows:300' } });
    rec = recordCluster(cluster);
  }, 120_000);

  afterAll(async () => {
    raw?.destroy();
    await cluster?.close();
    await s3?.stop();
    restore?.();
  });

  const job = (name: string, output: string) => fixtureJob(name, { model: 's3://models/churn/model.onnx', input: 's3://lake/features/', output }, {
    shards: 4, parallelism: 2, batchSize: 512, storage: { s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } },
  });
  const keys = async (prefix: string) => {
    const out: string[] = [];
    for await (const o of direct.list(prefix)) out.push(o.uri);
    return out;
  };
  const openUploads = async (prefixKey: string) =>
    ((await raw.client.send(new ListMultipartUploadsCommand({ Bucket: 'scores', Prefix: prefixKey }))).Uploads ?? []).map((u) => u.Key);
  const remove = (name: string) => cluster.clients.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NAMESPACE, name });

  /** Runs `name` until one shard is done and others run, then opens a multipart upload in a running
   * attempt's prefix (what a worker killed mid-upload leaves). Returns the run id and the attempt prefix. */
  async function midRun(name: string, output: string): Promise<{ runId: string; shardsKey: string }> {
    const s = await cluster.waitFor(name, (x) => x?.phase === 'Running' && (x.shards?.succeeded ?? 0) >= 1 && (x.shards?.succeeded ?? 0) < 4, 60_000);
    await cluster.waitForRunningPod(name, 30_000);
    const runId = s!.runId!;
    const shardsKey = `${output.slice('s3://scores/'.length)}_bij/${runId}/shards/`;
    const key = `${shardsKey}00003/a0/part-00000-mid-upload.parquet`;
    const { UploadId } = await raw.client.send(new CreateMultipartUploadCommand({ Bucket: 'scores', Key: key }));
    await raw.client.send(new UploadPartCommand({ Bucket: 'scores', Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
    expect(await openUploads(shardsKey)).toEqual([key]);
    // the run has attempt files, a finished shard's manifest among them
    expect((await keys(`s3://scores/${shardsKey}`)).some((k) => k.endsWith('/manifest.json'))).toBe(true);
    return { runId, shardsKey };
  }

  /** After the cleanup: no Jobs, Pods or worker processes; no attempt files or uploads; nothing committed. */
  async function expectCleanedUp(name: string, output: string, shardsKey: string): Promise<void> {
    const created = rec.jobsCreated.filter((j) => j.name.startsWith(name)).map((j) => j.name);
    expect(created.length).toBeGreaterThanOrEqual(2);
    const deleted = new Set(rec.jobsDeleted.map((j) => j.name));
    for (const j of created) expect(deleted.has(j)).toBe(true);
    expect(await cluster.jobs(name)).toEqual([]);
    const pods = await cluster.clients.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `batchinference.dev/job=${name}` });
    expect(pods.items).toEqual([]);
    expect(cluster.runner.running().filter((p) => p.job.startsWith(name))).toEqual([]);
    expect(await keys(`s3://scores/${shardsKey}`)).toEqual([]);
    expect(await openUploads(shardsKey)).toEqual([]);
    expect(await direct.exists(`${output}_SUCCESS`)).toBe(false);
    expect(await direct.exists(`${output}_manifest.json`)).toBe(false);
    const top = (await keys(output)).map((k) => k.slice(output.length)).filter((k) => !k.startsWith('_bij/'));
    expect(top).toEqual([]);
  }

  test('its Jobs go, uploads are aborted, attempt files removed, nothing committed; then the object goes', async () => {
    const name = 'delete-me';
    const output = 's3://scores/del-1/';
    await cluster.apply(job(name, output));
    const { shardsKey } = await midRun(name, output);
    expect((await cluster.get(name))?.metadata.finalizers).toEqual([FINALIZER]);

    await remove(name);
    await until('the BatchInferenceJob to disappear', () => cluster.get(name), (o) => o === undefined, 30_000);
    await expectCleanedUp(name, output, shardsKey);
  }, 120_000);

  test('a finalizer another controller added is kept: the object waits, cleaned up, until it is removed', async () => {
    const name = 'delete-held';
    const output = 's3://scores/del-2/';
    const body = job(name, output) as { metadata: Record<string, unknown> };
    body.metadata.finalizers = [FOREIGN];
    await cluster.apply(body);
    const { shardsKey } = await midRun(name, output);
    expect((await cluster.get(name))?.metadata.finalizers).toEqual([FOREIGN, FINALIZER]);

    await remove(name);
    const held = await until('the operator to remove its finalizer', () => cluster.get(name), (o) => o?.metadata.finalizers?.length === 1, 30_000);
    expect(held?.metadata.finalizers).toEqual([FOREIGN]);
    expect(held?.metadata.deletionTimestamp).toBeDefined();
    await expectCleanedUp(name, output, shardsKey);
    // It stays while the other controller's finalizer is there: the operator leaves it alone.
    await sleep(1_000);
    expect((await cluster.get(name))?.metadata.finalizers).toEqual([FOREIGN]);

    await cluster.clients.custom.patchNamespacedCustomObject(
      { ...BIJ_REF, namespace: NAMESPACE, name, body: { metadata: { finalizers: null } } }, mergePatch);
    await until('the BatchInferenceJob to disappear', () => cluster.get(name), (o) => o === undefined, 10_000);
  }, 120_000);
});
