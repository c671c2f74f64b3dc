/**
 * A whole cluster for a test, on the real Kubernetes control plane: etcd, kube-apiserver,
 * kube-controller-manager (the real Job controller and garbage collector) and kube-scheduler, the process
 * kubelet running the pods as real worker processes, and one or more in-process operators. The operators
 * talk to the API server through the fault proxy (api-fault-proxy.ts) as the Helm chart's ServiceAccount,
 * under the chart's RBAC; the test's own client is the admin, straight to the API server. Helpers apply
 * jobs, wait on their status, read their events and check the committed output row by row. The fault
 * suite builds every case on this.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../../cluster/src/control-plane/launch.js';
import { parseEntries, plainText } from '../../cluster/src/kubelet/log-format.js';
import { startProcessKubelet, type ProcessKubelet } from '../../cluster/src/kubelet/kubelet.js';
import { installCrd, installOperatorIdentity, OPERATOR_NAMESPACE, type OperatorIdentity } from '../../cluster/src/up/install.js';
import type { S3Settings } from '../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../../operator/src/api/status.js';
import { Controller, type ControllerOptions } from '../../operator/src/kube/controller.js';
import { BIJ_REF, makeClients, type KubeClients } from '../../operator/src/kube/clients.js';
import { silentLogger } from '../../operator/src/log.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { RunManifestSchema, type RunManifest } from '../../core/src/contract/index.js';
import { openStorage } from '../../core/src/storage/index.js';
import type { Storage } from '../../core/src/storage/types.js';
import { readScores, scoreProblems, scorableRows } from '../../core/testing/fixtures.js';
import { startApiFaultProxy, type ApiFaultProxy } from './api-fault-proxy.js';
import { faultEnv } from './fault-env.js';

export const NAMESPACE = 'default';
/** Fast retries for tests: 200 ms doubling, at most 2 s (production: 10 s doubling, at most 5 min). */
export const FAST_BACKOFF = { baseMs: 200, maxMs: 2_000 };

export interface ClusterOptions {
  /** Extra environment for worker processes (e.g. S3 credentials, BIJ_FAULT). */
  workerEnv?: Record<string, string>;
  /** At most this many pods at once: the node's pod capacity, which the real scheduler honours. */
  maxPods?: number;
  /** nvidia.com/gpu capacity the node advertises (fake: pods run on the CPU); default 0. */
  gpus?: number;
  /** Start this many operators at once (default 1); tests that need none pass 0. */
  operators?: number;
  operatorOptions?: Partial<ControllerOptions>;
  s3?: Partial<S3Settings>;
}

/** The pods of the cluster as processes: what the fault cases kill, evict and watch. */
export interface Pods {
  running(): { job: string; namespace: string; pod: string; pid: number }[];
  /** Signals a Job's pod process (SIGKILL: a crash that counts as a failure). */
  kill(jobName: string, signal?: NodeJS.Signals): boolean;
  /** Evicts a Job's pod through the Eviction API (a disruption: DisruptionTarget, then SIGTERM). */
  evict(jobName: string): Promise<boolean>;
  onPodStarted?: (jobName: string, pid: number) => void;
  /** What a pod's container printed (plain text), from the kubelet's log files: also after the pod is gone. */
  log(pod: string, namespace?: string): string;
}

export class TestCluster {
  readonly operators: Controller[] = [];
  /** The admin, straight to the API server. */
  readonly clients: KubeClients;
  readonly workDir: string;
  readonly runner: Pods;

  private constructor(
    readonly controlPlane: ControlPlane,
    /** What operators talk to: faults, request log, and kubeconfigs for operator processes. */
    readonly server: ApiFaultProxy,
    readonly kubelet: ProcessKubelet,
    readonly operatorIdentity: OperatorIdentity,
    workDir: string,
    private readonly o: ClusterOptions,
  ) {
    this.clients = makeClients(controlPlane.kubeConfig());
    this.workDir = workDir;
    const jobOf = (p: { job?: string }) => p.job ?? '';
    const pods: Pods = {
      running: () => kubelet.running().map((p) => ({ job: jobOf(p), namespace: p.namespace, pod: p.pod, pid: p.pid })),
      kill: (job, signal = 'SIGKILL') => kubelet.kill(job, signal),
      evict: async (job) => {
        const p = kubelet.running().find((x) => x.job === job);
        if (!p) return false;
        await this.clients.core.createNamespacedPodEviction({
          name: p.pod, namespace: p.namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: p.pod, namespace: p.namespace } },
        });
        return true;
      },
      log: (pod, namespace = NAMESPACE) => {
        const dirs = readdirSync(workDir).filter((d) => d.startsWith(`${namespace}_${pod}_`));
        const files = dirs.flatMap((d) => readdirSync(join(workDir, d)).filter((f) => f.endsWith('.log')).map((f) => join(workDir, d, f)));
        if (files.length === 0) throw new Error(`no log of pod ${namespace}/${pod} under ${workDir}`);
        return files.map((f) => plainText(parseEntries(readFileSync(f, 'utf8')))).join('');
      },
    };
    kubelet.onPodStarted = (pod, pid) => pods.onPodStarted?.(pod.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? '', pid);
    this.runner = pods;
  }

  static async start(o: ClusterOptions = {}): Promise<TestCluster> {
    const cp = await startControlPlane();
    let proxy: ApiFaultProxy | undefined;
    let kubelet: ProcessKubelet | undefined;
    try {
      await installCrd(cp.kubeConfig());
      const identity = await installOperatorIdentity(cp);
      proxy = await startApiFaultProxy(cp, identity);
      const workDir = mkdtempSync(join(tmpdir(), 'bij-cluster-'));
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
      kubelet = await startProcessKubelet({
        controlPlane: cp, workDir, log: silentLogger(), maxPods: o.maxPods, gpus: o.gpus,
        baseEnv: faultEnv({ ...env, BIJ_PROGRESS_INTERVAL: '0.2', ...(o.workerEnv ?? {}) }),
      });
      const c = new TestCluster(cp, proxy, kubelet, identity, workDir, o);
      for (let i = 0; i < (o.operators ?? 1); i++) await c.startOperator();
      return c;
    } catch (e) {
      await kubelet?.stop();
      await proxy?.close();
      await cp.stop();
      throw e;
    }
  }

  /** A kubeconfig (YAML) for an operator process: through the fault proxy, as the chart's ServiceAccount. */
  operatorKubeconfig(): string {
    return this.server.kubeconfigYaml(OPERATOR_NAMESPACE);
  }

  /** Starts another in-process operator on the same cluster (a new process would see the same state). */
  async startOperator(extra: Partial<ControllerOptions> = {}): Promise<Controller> {
    const op = new Controller({
      clients: makeClients(this.server.kubeConfig()), log: silentLogger(), metrics: new OperatorMetrics(),
      openStorage: (s3: S3Settings) => openStorage({ s3 }), resyncMs: 2_000,
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
  async waitForRunningPod(jobPrefix: string, timeoutMs = 90_000, pred: (job: string) => boolean = () => true): Promise<string> {
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

  /** The job's event reasons once one is `reason`: the operator records events after the status write
   * that they explain (best effort, through its own queue), so a test reads them by waiting, not at once. */
  async waitForEvent(name: string, reason: string, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reasons = await this.eventReasons(name);
      if (reasons.includes(reason)) return reasons;
      if (Date.now() > deadline) throw new Error(`no ${reason} event for ${name} within ${timeoutMs} ms; events: ${reasons.join(', ') || 'none'}`);
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    for (const op of this.operators.splice(0)) await op.stop();
    await this.kubelet.stop();
    await this.server.close();
    await this.controlPlane.stop();
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
