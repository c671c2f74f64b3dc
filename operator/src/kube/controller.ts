/**
 * The BatchInferenceJob controller: informers feed a de-duplicating work queue of namespace/name
 * keys; each reconcile is observe (caches + storage) -> decide (the pure reconciler) -> act
 * (apply.ts). Level-triggered: every decision is made again from observed state, so a crash or a
 * missed event costs only a requeue. A conflict is re-read and requeued without an error log.
 */
import type * as k8s from '@kubernetes/client-node';
import { hostname } from 'node:os';
import type { Storage } from '../../../core/src/storage/types.js';
import type { S3Settings } from '../../../core/src/contract/job-spec.js';
import { PLURAL, API_GROUP, API_VERSION } from '../../../core/src/contract/job-spec.js';
import type { Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import { RunState } from '../commit/run-state.js';
import { BIJ_REF, keyOf, splitKey, type KubeClients } from './clients.js';
import { ChildIndex } from './child-index.js';
import { LABEL_JOB } from '../reconciler/names.js';
import { SelfHealingInformer } from './informer.js';
import { WorkQueue } from './workqueue.js';
import { runWorkerLoop } from './worker-loop.js';
import { observe, type BijObject } from './gather.js';
import { act, writeStatus } from './apply.js';
import { classifyStorageError } from './storage-failure-kind.js';
import { recordEvents } from './events.js';
import { runId as computeRunId, type ReconcileOptions } from '../reconciler/index.js';
import { storageFailureOutcome, type StorageFailure } from '../reconciler/storage-failure.js';
import { parseBatchInferenceJob, parseStatus } from '../api/validate.js';
import { describeError } from '../../../core/src/contract/index.js';

export interface ControllerOptions {
  clients: KubeClients;
  /** Watch one namespace, or all when undefined. */
  namespace?: string;
  openStorage: (s3: S3Settings) => Storage;
  log: Logger;
  metrics: OperatorMetrics;
  /** Reconciles running at once (different keys). */
  workers?: number;
  /** Every key is requeued this often (with jitter), whatever the watches say. */
  resyncMs?: number;
  identity?: string;
  now?: () => Date;
  /** Test hook, passed to the commit (crash between commit steps). */
  commitAfterStep?: (step: number) => Promise<void> | void;
  /** How long a run's claim on its output lives without renewal (default 10 min). Reconciles of a
   * live run must come more often than a third of it (resyncMs does that). */
  claimTtlMs?: number;
  /** Passed to every reconcile (retry backoff, progress polling, Job options). */
  reconcileOptions?: ReconcileOptions;
}

export class Controller {
  readonly queue = new WorkQueue();
  readonly runState = new RunState();
  private readonly bijs: SelfHealingInformer<BijObject>;
  private readonly jobs: SelfHealingInformer<k8s.V1Job>;
  private readonly pods: SelfHealingInformer<k8s.V1Pod>;
  private readonly jobIndex = new ChildIndex<k8s.V1Job>();
  private readonly podIndex = new ChildIndex<k8s.V1Pod>();
  private readonly workerLoops: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private running = false;
  /** Storage errors in a row, per key: how the status reports them (reconciler/storage-failure.ts). */
  private readonly storageFailures = new Map<string, StorageFailure>();
  readonly identity: string;

  constructor(private readonly o: ControllerOptions) {
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    const { clients, namespace, log } = o;
    const ns = namespace;
    const bijPath = ns ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`;
    this.bijs = new SelfHealingInformer<BijObject>({
      kc: clients.kc, path: bijPath, log, name: 'bij',
      list: async () => (ns
        ? clients.custom.listNamespacedCustomObject({ ...BIJ_REF, namespace: ns })
        : clients.custom.listClusterCustomObject({ ...BIJ_REF })) as Promise<k8s.KubernetesListObject<BijObject>>,
      onObject: (kind, obj) => {
        if (kind === 'delete') this.o.metrics.forgetJob(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
        this.enqueue(keyOf(obj));
      },
    });
    this.jobs = new SelfHealingInformer<k8s.V1Job>({
      kc: clients.kc, log, name: 'jobs', labelSelector: LABEL_JOB,
      path: ns ? `/apis/batch/v1/namespaces/${ns}/jobs` : '/apis/batch/v1/jobs',
      list: () => (ns
        ? clients.batch.listNamespacedJob({ namespace: ns, labelSelector: LABEL_JOB })
        : clients.batch.listJobForAllNamespaces({ labelSelector: LABEL_JOB })),
      onObject: (kind, obj) => this.enqueue(this.jobIndex.apply(kind, obj)),
    });
    this.pods = new SelfHealingInformer<k8s.V1Pod>({
      kc: clients.kc, log, name: 'pods', labelSelector: LABEL_JOB,
      path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
      list: () => (ns
        ? clients.core.listNamespacedPod({ namespace: ns, labelSelector: LABEL_JOB })
        : clients.core.listPodForAllNamespaces({ labelSelector: LABEL_JOB })),
      onObject: (kind, obj) => this.enqueue(this.podIndex.apply(kind, obj)),
    });
  }

  private enqueue(key: string | undefined): void {
    if (key && this.running) this.queue.add(key);
  }

  async start(): Promise<void> {
    this.running = true;
    // Children first, so the first reconcile of each job sees its Jobs and Pods.
    await Promise.all([this.jobs.start(), this.pods.start()]);
    await this.bijs.start();
    const workers = this.o.workers ?? 4;
    for (let i = 0; i < workers; i++) this.workerLoops.push(this.workerLoop());
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.queue.shutDown();
    await Promise.all([this.bijs.stop(), this.jobs.stop(), this.pods.stop()]);
    await Promise.all(this.workerLoops.splice(0));
  }

  private scheduleResync(): void {
    const every = this.o.resyncMs ?? 60_000;
    this.resyncTimer = setTimeout(() => {
      for (const obj of this.bijs.list()) this.enqueue(keyOf(obj));
      if (this.running) this.scheduleResync();
    }, every * (0.8 + Math.random() * 0.4));
    this.resyncTimer.unref();
  }

  private workerLoop(): Promise<void> {
    return runWorkerLoop({
      queue: this.queue,
      log: this.o.log,
      reconcile: (key) => this.reconcile(key),
      onStart: () => {
        this.o.metrics.queueDepth.set(this.queue.length);
        return this.o.metrics.reconcileSeconds.startTimer();
      },
      onOutcome: (key, outcome) => {
        if (outcome === 'success') this.storageFailures.delete(key);
        this.o.metrics.reconciles.inc({ result: outcome });
      },
      onError: (key, err) => this.reportStorageFailure(key, err),
    });
  }

  /** One reconcile of one key. Returns the requeue delay, if any. Exposed for tests. */
  async reconcile(key: string): Promise<number | undefined> {
    const { namespace, name } = splitKey(key);
    const obj = this.bijs.get(name, namespace);
    if (!obj) return undefined;
    const now = this.o.now?.() ?? new Date();
    const ctx = { clients: this.o.clients, openStorage: this.o.openStorage, runState: this.runState, log: this.o.log, now };
    const observed = await observe(ctx, obj, this.jobIndex.of(key), this.podIndex.of(key));
    observed.input.options = this.o.reconcileOptions;
    const result = await act(ctx, obj, observed, { identity: this.identity, commitAfterStep: this.o.commitAfterStep, claimTtlMs: this.o.claimTtlMs });
    // The object may have been deleted while this reconcile ran (its last step can be the removal of
    // the finalizer). The delete event may already have dropped its metric series, so only a job that
    // is still in the cache gets its gauges set; a gone one is forgotten again.
    if (!this.bijs.get(name, namespace)) this.o.metrics.forgetJob(namespace, name);
    else if (result.status) this.o.metrics.observeJob(namespace, name, result.status, obj.spec);
    return result.requeueAfterMs;
  }

  /** A storage error ended a reconcile: count it, and say so in the status (or fail the run). */
  private async reportStorageFailure(key: string, err: unknown): Promise<void> {
    const cls = classifyStorageError(err);
    if (!cls) return;
    const { namespace, name } = splitKey(key);
    const obj = this.bijs.get(name, namespace);
    const parsed = obj ? parseBatchInferenceJob(obj) : undefined;
    if (!obj || !parsed?.ok || !obj.metadata?.uid) return;
    const now = this.o.now?.() ?? new Date();
    const prev = this.storageFailures.get(key);
    const failure: StorageFailure = {
      ...cls, tries: (prev?.terminal === cls.terminal ? prev.tries : 0) + 1, since: prev?.since ?? now,
    };
    this.storageFailures.set(key, failure);
    const runId = computeRunId(obj.metadata.uid, parsed.bij.spec);
    const outcome = storageFailureOutcome(parseStatus(obj.status), runId, obj.metadata.generation, failure, now);
    if (outcome.status) await writeStatus({ clients: this.o.clients }, obj, outcome.status);
    const target = { name, namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion };
    for (const f of await recordEvents(this.o.clients, target, outcome.events, this.identity)) {
      this.o.log.warn({ key, err: describeError(f) }, 'could not record event');
    }
  }

  /** True when no reconcile is queued or running (for tests and `bij run`). */
  isIdle(): boolean {
    return this.queue.isIdle();
  }
}
