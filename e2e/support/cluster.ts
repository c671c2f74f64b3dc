/**
 * A whole cluster in one test process: the embedded API server (real HTTP, real client-node), the
 * local Job runner (real worker processes) and one or more in-process operators, plus helpers to
 * apply jobs, wait on their status, read their events and check the committed output row by row.
 * The fault suite builds every case on this.
 */
import type * as k8s from '@kubernetes/client-node';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCrd } from '../../operator/src/api/crd.js';
import type { S3Storage } from '../../operator/src/api/spec.js';
import type { BatchInferenceJobStatus } from '../../operator/src/api/status.js';
import { Controller, type ControllerOptions } from '../../operator/src/kube/controller.js';
import { BIJ_REF, makeClients, type KubeClients } from '../../operator/src/kube/clients.js';
import { LocalJobRunner } from '../../operator/src/local/runner/runner.js';
import { workerEntry } from '../../operator/src/local/run-local.js';
import { startApiServer, type ApiServer } from '../../operator/src/local/apiserver/index.js';
import { silentLogger } from '../../operator/src/log.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { RunManifestSchema, type RunManifest } from '../../operator/src/contract/index.js';
import { openStorage } from '../../worker/src/storage/index.js';
import type { Storage } from '../../worker/src/storage/types.js';
import { readScores, scoreProblems, scorableRows } from '../../worker/src/testing/fixtures.js';

export const NAMESPACE = 'default';
/** Fast retries for tests: 200 ms doubling, at most 2 s (production: 10 s doubling, at most 5 min). */
export const FAST_BACKOFF = { baseMs: 200, maxMs: 2_000 };

export interface ClusterOptions {
  /** Extra environment for worker processes (e.g. S3 credentials, BIJ_FAULT). */
  workerEnv?: Record<string, string>;
  maxPods?: number;
  /** Start this many operators at once (default 1); tests that need none pass 0. */
  operators?: number;
  operatorOptions?: Partial<ControllerOptions>;
  s3?: Partial<S3Storage>;
}

export class TestCluster {
  readonly operators: Controller[] = [];
  readonly clients: KubeClients;
  readonly workDir: string;

  private constructor(readonly server: ApiServer, readonly runner: LocalJobRunner, private readonly o: ClusterOptions) {
    this.clients = makeClients(server.kubeConfig());
    this.workDir = (runner as unknown as { o: { workDir: string } }).o.workDir;
  }

  static async start(o: ClusterOptions = {}): Promise<TestCluster> {
    const server = await startApiServer({ crds: [buildCrd()] });
    const workDir = mkdtempSync(join(tmpdir(), 'bij-cluster-'));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    const runner = new LocalJobRunner({
      kc: server.kubeConfig(), workerCommand: [process.execPath, workerEntry()], workDir,
      baseEnv: { ...env, BIJ_PROGRESS_INTERVAL: '0.2', ...(o.workerEnv ?? {}) }, log: silentLogger(), maxPods: o.maxPods,
      terminationGraceMs: 1_000,
    });
    await runner.start();
    const c = new TestCluster(server, runner, o);
    for (let i = 0; i < (o.operators ?? 1); i++) await c.startOperator();
    return c;
  }

  /** Starts another in-process operator on the same cluster (a new process would see the same state). */
  async startOperator(extra: Partial<ControllerOptions> = {}): Promise<Controller> {
    const op = new Controller({
      clients: makeClients(this.server.kubeConfig()), log: silentLogger(), metrics: new OperatorMetrics(),
      openStorage: (s3: S3Storage) => openStorage({ s3 }), resyncMs: 2_000,
      reconcileOptions: { backoff: FAST_BACKOFF, progressPollMs: 500 },
      ...(this.o.operatorOptions ?? {}), ...extra,
    });
    await op.start();
    this.operators.push(op);
    return op;
  }

  /** Stops an operator abruptly: its queue and watches are dropped, nothing is handed over. */
  async killOperator(op: Controller): Promise<void> {
    await op.stop();
    this.operators.splice(this.operators.indexOf(op), 1);
  }

  async apply(job: object): Promise<void> {
    const meta = (job as { metadata?: { name?: string } }).metadata;
    await this.clients.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace: NAMESPACE, body: { ...job, metadata: { ...meta, namespace: NAMESPACE } } });
  }

  async get(name: string): Promise<{ metadata: k8s.V1ObjectMeta; spec: Record<string, unknown>; status?: BatchInferenceJobStatus } | undefined> {
    try {
      return await this.clients.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace: NAMESPACE, name });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  /** Polls until `pred(status)` holds; fails with the last status seen. */
  async waitFor(name: string, pred: (s: BatchInferenceJobStatus | undefined) => boolean, timeoutMs = 60_000): Promise<BatchInferenceJobStatus | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last: BatchInferenceJobStatus | undefined;
    for (;;) {
      last = (await this.get(name))?.status;
      if (pred(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${name}; last status: ${JSON.stringify(last)}`);
      await sleep(100);
    }
  }

  waitForPhase(name: string, phase: string | string[], timeoutMs = 90_000): Promise<BatchInferenceJobStatus | undefined> {
    const phases = Array.isArray(phase) ? phase : [phase];
    return this.waitFor(name, (s) => phases.includes(s?.phase ?? ''), timeoutMs);
  }

  /** Resolves when some shard Job of the job has a running process; returns its Job name. */
  async waitForRunningPod(jobPrefix: string, timeoutMs = 30_000, pred: (job: string) => boolean = () => true): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.runner.running().find((p) => p.job.startsWith(jobPrefix) && pred(p.job));
      if (r) return r.job;
      if (Date.now() > deadline) throw new Error(`no running pod for ${jobPrefix} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async jobs(name: string): Promise<k8s.V1Job[]> {
    const list = await this.clients.batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: `batchinference.dev/job=${name}` });
    return list.items;
  }

  async events(name: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.clients.core.listNamespacedEvent({ namespace: NAMESPACE });
    return list.items.filter((e) => e.involvedObject.name === name);
  }

  async eventReasons(name: string): Promise<string[]> {
    return (await this.events(name)).map((e) => e.reason ?? '');
  }

  async close(): Promise<void> {
    for (const op of this.operators.splice(0)) await op.stop();
    await this.runner.stop();
    await this.server.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A job over a fixtures dataset (writeDataset) and model (writeModel). */
export function fixtureJob(name: string, paths: { model: string; input: string; output: string }, spec: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name },
    spec: {
      model: { uri: paths.model, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: paths.input, idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: paths.output },
      shards: 4,
      parallelism: 2,
      batchSize: 500,
      maxRetries: 3,
      maxFailedRows: 1_000_000,
      worker: { executionProvider: 'cpu' },
      ...spec,
    },
  };
}

/**
 * The exactly-once check: `_SUCCESS` names the manifest's run; the committed parts (read back with
 * DuckDB) hold every id in [0, totalRows) that can be scored exactly once, with the reference score,
 * and no other id; the manifest's counts and file list match what is on disk.
 */
export async function expectExactlyOnce(outputDir: string, totalRows: number, badEvery = 0, storage: Storage = openStorage()): Promise<RunManifest> {
  const success = JSON.parse(await storage.readText(join(outputDir, '_SUCCESS'))) as { runId: string };
  const manifest = RunManifestSchema.parse(JSON.parse(await storage.readText(join(outputDir, '_manifest.json'))));
  if (success.runId !== manifest.runId) throw new Error(`_SUCCESS names run ${success.runId}, the manifest ${manifest.runId}`);
  const problems = scoreProblems(await readScores(join(outputDir, '*.parquet')), totalRows, badEvery);
  const expected = scorableRows(totalRows, badEvery);
  if (manifest.rowCount !== expected) problems.push(`manifest rowCount ${manifest.rowCount}, expected ${expected}`);
  if (problems.length > 0) throw new Error(`output under ${outputDir} is not exactly once:\n  ${problems.join('\n  ')}`);
  return manifest;
}
