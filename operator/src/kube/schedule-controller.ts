/**
 * The BatchInferenceSchedule controller, beside the BatchInferenceJob one in the same process (and under
 * the same leader lease): informers on the schedules and on the BatchInferenceJobs they created feed a
 * work queue of namespace/name keys; each reconcile is observe (the caches) -> decide (the pure
 * schedule/decide.ts) -> act (delete, create, one status write, events). Level-triggered, so a
 * restart or a lost event costs a requeue; each key is requeued at its next slot.
 *
 * The clock is injectable (`now`): tests move it forward and call `poke()` instead of waiting for
 * a real minute.
 */
import type * as k8s from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { API_GROUP, API_VERSION, PLURAL } from '../../../core/src/contract/job-spec.js';
import { SCHEDULE_KIND, SCHEDULE_PLURAL, type BatchInferenceScheduleStatus } from '../api/schedule.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import { parseBatchInferenceSchedule, parseScheduleStatus } from '../api/validate-schedule.js';
import { describeError } from '../../../core/src/contract/index.js';
import type { Logger } from '../log.js';
import { decideSchedule, withCreatedUids } from '../schedule/decide.js';
import { ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE } from '../schedule/names.js';
import type { ObservedRun, ScheduleObject, ScheduleResult } from '../schedule/types.js';
import { ChildIndex } from './child-index.js';
import { BIJ_REF, keyOf, splitKey, type KubeClients } from './clients.js';
import { isAlreadyExists, isNotFound } from './api-errors.js';
import { recordEvents } from './events.js';
import { SelfHealingInformer } from './informer.js';
import { runWorkerLoop } from './worker-loop.js';
import { WorkQueue } from './workqueue.js';

export const SCHEDULE_REF = { group: API_GROUP, version: API_VERSION, plural: SCHEDULE_PLURAL } as const;

type ScheduleK8sObject = k8s.KubernetesObject & { spec?: unknown; status?: unknown };
type JobK8sObject = k8s.KubernetesObject & { status?: BatchInferenceJobStatus };

export interface ScheduleControllerOptions {
  clients: KubeClients;
  /** Watch one namespace, or all when undefined. */
  namespace?: string;
  log: Logger;
  /** Reconciles running at once (different schedules). */
  workers?: number;
  /** Every schedule is requeued this often (with jitter), whatever the watches and slots say. */
  resyncMs?: number;
  identity?: string;
  /** The clock the schedules run on (default the system's). */
  now?: () => Date;
}

/** The schedule that created a job: its controller ownerReference of our kind. */
function ownerSchedule(obj: k8s.KubernetesObject): k8s.V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === SCHEDULE_KIND && r.apiVersion === `${API_GROUP}/${API_VERSION}`);
}

/** A BatchInferenceJob as the decision sees it. */
export function observeRun(job: JobK8sObject): ObservedRun {
  const meta = job.metadata ?? {};
  const scheduled = meta.annotations?.[ANNOTATION_SCHEDULED_TIME];
  const scheduledTime = scheduled && !Number.isNaN(Date.parse(scheduled)) ? new Date(scheduled) : undefined;
  return {
    name: meta.name ?? '',
    uid: meta.uid,
    scheduledTime,
    creationTimestamp: meta.creationTimestamp,
    phase: job.status?.phase,
    completionTime: job.status?.completionTime,
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
  };
}

/** The stored status and the decided one say the same (the decision omits empty fields). */
function statusEqual(a: BatchInferenceScheduleStatus, b: BatchInferenceScheduleStatus): boolean {
  const norm = (s: BatchInferenceScheduleStatus) => JSON.stringify({
    lastScheduleTime: s.lastScheduleTime, lastSuccessfulTime: s.lastSuccessfulTime, active: s.active ?? [], activeCount: s.activeCount ?? 0,
  });
  return norm(a) === norm(b);
}

export class ScheduleController {
  readonly queue = new WorkQueue();
  readonly identity: string;
  private readonly schedules: SelfHealingInformer<ScheduleK8sObject>;
  private readonly jobs: SelfHealingInformer<JobK8sObject>;
  private readonly jobIndex = new ChildIndex<JobK8sObject>((obj) => ownerSchedule(obj)?.name);
  private readonly workerLoops: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly o: ScheduleControllerOptions) {
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    const { clients, namespace: ns, log } = o;
    const base = `/apis/${API_GROUP}/${API_VERSION}${ns ? `/namespaces/${ns}` : ''}`;
    this.schedules = new SelfHealingInformer<ScheduleK8sObject>({
      kc: clients.kc, path: `${base}/${SCHEDULE_PLURAL}`, log, name: 'bijs',
      list: async () => (ns
        ? clients.custom.listNamespacedCustomObject({ ...SCHEDULE_REF, namespace: ns })
        : clients.custom.listClusterCustomObject({ ...SCHEDULE_REF })) as Promise<k8s.KubernetesListObject<ScheduleK8sObject>>,
      onObject: (_kind, obj) => this.enqueue(keyOf(obj)),
    });
    this.jobs = new SelfHealingInformer<JobK8sObject>({
      kc: clients.kc, path: `${base}/${PLURAL}`, log, name: 'scheduled-bij', labelSelector: LABEL_SCHEDULE,
      list: async () => (ns
        ? clients.custom.listNamespacedCustomObject({ ...BIJ_REF, namespace: ns, labelSelector: LABEL_SCHEDULE })
        : clients.custom.listClusterCustomObject({ ...BIJ_REF, labelSelector: LABEL_SCHEDULE })) as Promise<k8s.KubernetesListObject<JobK8sObject>>,
      onObject: (kind, obj) => this.enqueue(this.jobIndex.apply(kind, obj)),
    });
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private enqueue(key: string | undefined): void {
    if (key && this.running) this.queue.add(key);
  }

  async start(): Promise<void> {
    this.running = true;
    // Jobs first, so the first reconcile of each schedule sees the jobs it made before (no slot twice).
    await this.jobs.start();
    await this.schedules.start();
    for (let i = 0; i < (this.o.workers ?? 2); i++) {
      this.workerLoops.push(runWorkerLoop({ queue: this.queue, log: this.o.log, reconcile: (key) => this.reconcile(key) }));
    }
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.queue.shutDown();
    await Promise.all([this.schedules.stop(), this.jobs.stop()]);
    await Promise.all(this.workerLoops.splice(0));
  }

  /** Queues every schedule now: what a test does after moving the clock. */
  poke(): void {
    for (const obj of this.schedules.list()) this.enqueue(keyOf(obj));
  }

  private scheduleResync(): void {
    const every = this.o.resyncMs ?? 60_000;
    this.resyncTimer = setTimeout(() => {
      this.poke();
      if (this.running) this.scheduleResync();
    }, every * (0.8 + Math.random() * 0.4));
    this.resyncTimer.unref();
  }

  /** True when no reconcile is queued or running. */
  isIdle(): boolean {
    return this.queue.isIdle();
  }

  /** One reconcile of one key (observe, decide, act). Returns the requeue delay, if any. */
  async reconcile(key: string): Promise<number | undefined> {
    const { namespace, name } = splitKey(key);
    const obj = this.schedules.get(name, namespace);
    if (!obj?.metadata?.uid) return undefined;
    const meta = obj.metadata;
    const parsed = parseBatchInferenceSchedule(obj);
    const schedule: ScheduleObject = {
      metadata: {
        name, namespace, uid: meta.uid!, generation: meta.generation,
        creationTimestamp: meta.creationTimestamp ?? this.now(), deletionTimestamp: meta.deletionTimestamp,
      },
      spec: parsed.ok ? parsed.schedule.spec : undefined,
      specErrors: parsed.ok ? [] : parsed.errors,
      status: parsed.ok ? parsed.schedule.status : parseScheduleStatus(obj.status),
    };
    // Only jobs whose controller is this very schedule (not a deleted one of the same name).
    const runs = this.jobIndex.of(key).filter((j) => ownerSchedule(j)?.uid === meta.uid).map(observeRun);
    const result = decideSchedule({ schedule, runs, now: this.now() });
    await this.act(obj, schedule, result);
    return result.requeueAfterMs;
  }

  private async act(obj: ScheduleK8sObject, schedule: ScheduleObject, result: ScheduleResult): Promise<void> {
    const { clients, log } = this.o;
    const { namespace, name, uid } = schedule.metadata;
    for (const d of result.delete) {
      try {
        await clients.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace, name: d.name, propagationPolicy: 'Background' });
        log.info({ schedule: `${namespace}/${name}`, job: d.name, reason: d.reason }, 'deleted scheduled job');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const uids = new Map<string, string>();
    for (const job of result.create) {
      try {
        const made = await clients.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace, body: job }) as k8s.KubernetesObject;
        if (made.metadata?.uid) uids.set(job.metadata.name, made.metadata.uid);
        log.info({ schedule: `${namespace}/${name}`, job: job.metadata.name }, 'created scheduled job');
      } catch (err) {
        // The slot's job exists already: a create repeated after a crash. Counts as done.
        if (!isAlreadyExists(err)) throw err;
      }
    }
    const target = { kind: SCHEDULE_KIND, name, namespace, uid, resourceVersion: obj.metadata?.resourceVersion };
    const send = async (events: ScheduleResult['events']) => {
      if (events.length === 0) return;
      for (const f of await recordEvents(clients, target, events, this.identity)) {
        log.warn({ schedule: `${namespace}/${name}`, err: describeError(f) }, 'could not record event');
      }
    };
    // Events about the jobs just created go out now: a status write that loses a race must not lose them.
    await send(result.events.filter((e) => e.withJobs));
    const status = withCreatedUids(result.status, uids);
    if (!statusEqual(schedule.status, status)) {
      await clients.custom.replaceNamespacedCustomObjectStatus({
        ...SCHEDULE_REF, namespace, name,
        body: { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { ...obj.metadata }, status },
      });
    }
    await send(result.events.filter((e) => !e.withJobs));
  }
}
