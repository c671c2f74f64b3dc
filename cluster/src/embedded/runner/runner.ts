/**
 * The local Job runner: the kubelet and Job controller of the embedded cluster. For every batch/v1
 * Job it sees, it creates the Pod object, runs the pod's single container as a child process on this
 * machine (`workerCommand` stands in for the image's entrypoint; the container's args and resolved
 * env are passed through), and writes Pod and Job status like a real cluster, termination message
 * included. Deleting a Job stops its process. Test hooks kill or evict a running pod.
 */
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../../operator/src/log.js';
import { makeClients, mergePatch, keyOf, type KubeClients } from '../../../../operator/src/kube/clients.js';
import { SelfHealingInformer } from '../../../../operator/src/kube/informer.js';
import { isConflict, isNotFound } from '../../../../operator/src/kube/api-errors.js';
import { ENV, bestEffort, errorText } from '../../../../core/src/contract/index.js';
import { resolveEnv } from './env.js';
import { finishedJobStatus, runningPodStatus, terminatedPodStatus, type ProcessExit } from './pod-status.js';

export interface LocalRunnerOptions {
  kc: k8s.KubeConfig;
  /** The argv that stands in for the container image's entrypoint, e.g. [node, dist/worker/src/main.js]. */
  workerCommand: string[];
  /** Where pod logs and termination messages go. */
  workDir: string;
  /** Environment every pod starts with (the "node's" environment: PATH, and in local mode AWS_*). */
  baseEnv?: Record<string, string>;
  log: Logger;
  /** At most this many pods run at once; the rest wait (a node's capacity). Default: unlimited. */
  maxPods?: number;
  terminationGraceMs?: number;
}

interface RunningPod {
  jobKey: string;
  podName: string;
  namespace: string;
  child: ChildProcess;
  startedAt: Date;
  terminationFile: string;
  logTail: string[];
  disruption?: { reason: string; message: string };
  exited: Promise<void>;
  /** Resolves once the "running" status was written (or failed to be). */
  started: Promise<void>;
}

export class LocalJobRunner {
  private readonly clients: KubeClients;
  private readonly informer: SelfHealingInformer<k8s.V1Job>;
  private readonly pods = new Map<string, RunningPod>();
  private readonly starting = new Set<string>();
  /** Jobs deleted while their pod was starting: stopped as soon as the process exists. */
  private readonly cancelled = new Set<string>();
  /** Failed starts per Job, for the retry backoff (like the kubelet's). */
  private readonly startFailures = new Map<string, number>();
  private readonly waiting: string[] = [];
  private readonly done = new Set<string>();
  private stopped = false;
  /** Test hook: called when a pod's process has started. */
  onPodStarted?: (jobName: string, pid: number) => void;

  constructor(private readonly o: LocalRunnerOptions) {
    this.clients = makeClients(o.kc);
    mkdirSync(o.workDir, { recursive: true });
    this.informer = new SelfHealingInformer<k8s.V1Job>({
      kc: o.kc,
      path: '/apis/batch/v1/jobs',
      list: () => this.clients.batch.listJobForAllNamespaces(),
      log: o.log,
      name: 'runner-jobs',
      onObject: (kind, job) => this.onJob(kind, job),
    });
  }

  async start(): Promise<void> {
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
    const all = [...this.pods.values()];
    for (const p of all) p.child.kill('SIGTERM');
    await Promise.all(all.map((p) => p.exited));
  }

  /** Running pods by Job name. */
  running(): { job: string; namespace: string; pod: string; pid: number | undefined }[] {
    return [...this.pods.values()].map((p) => ({
      job: p.jobKey.split('/')[1], namespace: p.namespace, pod: p.podName, pid: p.child.pid,
    }));
  }

  /** Fault hook: kills a Job's process (SIGKILL: exit code 137, a crash that counts as a failure). */
  kill(jobName: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const p = [...this.pods.values()].find((x) => x.jobKey.endsWith('/' + jobName));
    if (!p) return false;
    p.child.kill(signal);
    return true;
  }

  /** Fault hook: evicts a Job's pod (a disruption: the pod gets DisruptionTarget=True, then dies). */
  evict(jobName: string, reason = 'EvictionByEvictionAPI'): boolean {
    const p = [...this.pods.values()].find((x) => x.jobKey.endsWith('/' + jobName));
    if (!p) return false;
    p.disruption = { reason, message: 'Eviction API: evicting' };
    p.child.kill('SIGKILL');
    return true;
  }

  private isFinished(job: k8s.V1Job): boolean {
    return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  }

  private onJob(kind: 'add' | 'update' | 'delete', job: k8s.V1Job): void {
    const key = keyOf(job);
    if (kind === 'delete' || job.metadata?.deletionTimestamp || job.spec?.suspend) {
      if (this.starting.has(key)) this.cancelled.add(key);
      this.stopPod(key);
      if (kind === 'delete') {
        this.done.delete(key);
        this.startFailures.delete(key);
      }
      return;
    }
    if (this.stopped || this.isFinished(job) || this.pods.has(key) || this.starting.has(key) || this.done.has(key)) return;
    if ((job.status?.active ?? 0) > 0) {
      // Active in the API but no process here: the "node" that ran it is gone (e.g. the runner restarted).
      this.done.add(key);
      void this.failLostJob(job).catch((err) => this.o.log.warn({ job: key, err: String(err) }, 'could not mark lost pod'));
      return;
    }
    if (this.o.maxPods !== undefined && this.pods.size + this.starting.size >= this.o.maxPods) {
      if (!this.waiting.includes(key)) this.waiting.push(key);
      return;
    }
    this.starting.add(key);
    void this.startPod(job)
      .then(() => this.startFailures.delete(key), (err: unknown) => this.retryStart(job, err))
      .finally(() => this.starting.delete(key));
  }

  /** A pod that could not start (API error, missing Secret) is tried again with backoff, as the
   * kubelet does; the Job stays active meanwhile, and the log says why. */
  private retryStart(job: k8s.V1Job, err: unknown): void {
    const key = keyOf(job);
    const n = (this.startFailures.get(key) ?? 0) + 1;
    this.startFailures.set(key, n);
    const delay = Math.min(30_000, 250 * 2 ** (n - 1));
    this.o.log.warn({ job: key, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'could not start pod; retrying');
    const t = setTimeout(() => {
      const now = this.informer.get(job.metadata!.name!, job.metadata!.namespace);
      if (now && now.metadata?.uid === job.metadata?.uid && !this.stopped) this.onJob('update', now);
    }, delay);
    t.unref();
  }

  private stopPod(key: string): void {
    const p = this.pods.get(key);
    if (!p) return;
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), this.o.terminationGraceMs ?? 5_000);
    t.unref();
  }

  private async startPod(job: k8s.V1Job): Promise<void> {
    const key = keyOf(job);
    const namespace = job.metadata!.namespace!;
    const jobName = job.metadata!.name!;
    const template = job.spec!.template;
    const container = template.spec!.containers[0];
    const podName = `${jobName}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod: k8s.V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace,
        labels: { ...(template.metadata?.labels ?? {}), 'batch.kubernetes.io/job-name': jobName, 'job-name': jobName },
        annotations: template.metadata?.annotations,
        ownerReferences: [{
          apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true,
        }],
      },
      spec: { ...template.spec!, nodeName: 'local' },
    };
    await this.clients.core.createNamespacedPod({ namespace, body: pod });

    let env: Record<string, string>;
    try {
      env = await resolveEnv(container, namespace, {
        secret: (ns, name) => this.clients.core.readNamespacedSecret({ namespace: ns, name }).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))),
        configMap: (ns, name) => this.clients.core.readNamespacedConfigMap({ namespace: ns, name }).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))),
      });
    } catch (err) {
      // Like the kubelet's CreateContainerConfigError: the pod goes (a new one is made on retry).
      await bestEffort(this.clients.core.deleteNamespacedPod({ namespace, name: podName, gracePeriodSeconds: 0 }),
        (e) => this.o.log.warn({ pod: `${namespace}/${podName}`, err: errorText(e) }, 'could not delete the pod that failed to start'));
      throw err;
    }
    const terminationFile = join(this.o.workDir, `${podName}.termination`);
    const logFile = join(this.o.workDir, `${podName}.log`);
    const argv = [...this.o.workerCommand, ...(container.args ?? [])];
    const startedAt = new Date();
    // fd 3 is a pipe this process never writes to: when it dies, even by kill -9, the worker sees the
    // pipe close and exits (worker/src/parent-watch.ts), so no orphan writes into the run.
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...(this.o.baseEnv ?? {}), ...env, [ENV.terminationLog]: terminationFile, [ENV.parentPipeFd]: '3' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    (child.stdio[3] as { unref?: () => void } | null)?.unref?.();
    const logStream = createWriteStream(logFile);
    const logTail: string[] = [];
    const onData = (chunk: Buffer) => {
      logStream.write(chunk);
      logTail.push(chunk.toString('utf8'));
      while (logTail.length > 20) logTail.shift();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);

    let resolveExit!: () => void;
    let resolveStarted!: () => void;
    const running: RunningPod = {
      jobKey: key, podName, namespace, child, startedAt, terminationFile, logTail,
      exited: new Promise<void>((r) => (resolveExit = r)),
      started: new Promise<void>((r) => (resolveStarted = r)),
    };
    this.pods.set(key, running);
    child.on('exit', (code, signal) => {
      logStream.end();
      void this.onExit(job, running, code, signal).finally(() => {
        this.pods.delete(key);
        // Its Job deleted, a new Job of the same name may come (or already be here): that one must run.
        const now = this.informer.get(jobName, namespace);
        if (now && now.metadata?.uid !== job.metadata?.uid) this.onJob('update', now);
        else if (now) this.done.add(key);
        resolveExit();
        this.startWaiting();
      });
    });
    child.on('error', (err) => this.o.log.error({ job: key, err: String(err) }, 'worker process error'));
    this.o.log.debug({ job: key, pod: podName, pid: child.pid }, 'pod started');
    if (this.cancelled.delete(key)) this.stopPod(key);
    this.onPodStarted?.(jobName, child.pid ?? -1);

    try {
      await this.patchStatus(namespace, podName, jobName, runningPodStatus(startedAt), {
        active: 1, ready: 1, startTime: startedAt.toISOString() as unknown as Date,
      }, job.metadata!.uid);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) this.o.log.warn({ job: key, err: String(err) }, 'could not write running status');
    } finally {
      // The exit status is written after this one, so a fast exit is never overwritten by "running".
      resolveStarted();
    }
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && (this.o.maxPods === undefined || this.pods.size + this.starting.size < this.o.maxPods)) {
      const key = this.waiting.shift()!;
      const [namespace, name] = key.split('/');
      const job = this.informer.get(name, namespace);
      if (job) this.onJob('update', job);
    }
  }

  private async onExit(job: k8s.V1Job, p: RunningPod, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    await p.started;
    let terminationMessage = '';
    try {
      terminationMessage = readFileSync(p.terminationFile, 'utf8');
    } catch {
      /* the process wrote none */
    }
    const exit: ProcessExit = {
      exitCode: code, signal, terminationMessage, logTail: p.logTail.join(''),
      startedAt: p.startedAt, finishedAt: new Date(), disruption: p.disruption,
    };
    const fallback = job.spec?.template.spec?.containers[0].terminationMessagePolicy === 'FallbackToLogsOnError';
    try {
      // Only on this pod's own Job: a Job of the same name created since is another Job (a 409).
      await this.patchStatus(p.namespace, p.podName, job.metadata!.name!, terminatedPodStatus(exit, fallback), finishedJobStatus(exit), job.metadata!.uid);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) this.o.log.warn({ job: p.jobKey, err: String(err) }, 'could not write final status');
    }
    await this.finishPodDeletion(p.namespace, p.podName);
  }

  /** As the kubelet does: a pod deleted gracefully while its container ran is removed for good
   * (grace period 0) once the container has stopped. */
  private async finishPodDeletion(namespace: string, name: string): Promise<void> {
    try {
      const pod = await this.clients.core.readNamespacedPod({ namespace, name });
      if (pod.metadata?.deletionTimestamp) await this.clients.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
    } catch (err) {
      if (!isNotFound(err)) this.o.log.warn({ pod: `${namespace}/${name}`, err: String(err) }, 'could not finish deleting pod');
    }
  }

  /** A Job marked active whose process this runner does not have: its pod was lost with its node. */
  private async failLostJob(job: k8s.V1Job): Promise<void> {
    const namespace = job.metadata!.namespace!;
    const now = new Date();
    const exit: ProcessExit = {
      exitCode: null, signal: 'SIGKILL', terminationMessage: '', logTail: '', startedAt: now, finishedAt: now,
      disruption: { reason: 'DeletionByPodGC', message: 'PodGC: node local was lost' },
    };
    const pods = await this.clients.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name}` });
    for (const pod of pods.items) {
      await bestEffort(this.clients.core.patchNamespacedPodStatus(
        { namespace, name: pod.metadata!.name!, body: { status: terminatedPodStatus(exit, false) } }, mergePatch,
      ), (e) => this.o.log.warn({ pod: `${namespace}/${pod.metadata!.name}`, err: errorText(e) }, 'could not mark the lost pod terminated'));
    }
    await this.clients.batch.patchNamespacedJobStatus({ namespace, name: job.metadata!.name!, body: { status: finishedJobStatus(exit) } }, mergePatch);
  }

  /** With `jobUid`, the Job patch carries it as a precondition (409 if the name now holds another Job). */
  private async patchStatus(namespace: string, podName: string, jobName: string, pod: k8s.V1PodStatus, job: k8s.V1JobStatus, jobUid?: string): Promise<void> {
    await this.clients.core.patchNamespacedPodStatus({ namespace, name: podName, body: { status: pod } }, mergePatch);
    const body = jobUid ? { metadata: { uid: jobUid }, status: job } : { status: job };
    await this.clients.batch.patchNamespacedJobStatus({ namespace, name: jobName, body }, mergePatch);
  }
}

