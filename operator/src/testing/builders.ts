/**
 * Fluent builders for tests of the pure core (like jobset's testing package):
 *
 *   const bij = makeBIJ().shards(4).parallelism(2).obj();
 *   const input = makeInput(bij).plan([10, 10, 10, 10]).attempts(attempt(0).shard(1).failed().exit(75)).obj();
 *
 * Attempts without an explicit run get the current run id of the BatchInferenceJob they are added to.
 * `applyResult` plays the caller: it applies a ReconcileResult to an input (status written, Jobs
 * created as active attempts, deleted Jobs gone, finalizer changed), for multi-step scenarios.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { BatchInferenceJobSpecSchema, type BatchInferenceJobSpec, type BatchInferenceJobSpecInput } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import type { TerminationSummary } from '../../../core/src/contract/process.js';
import type { RowCounts, StageTimings } from '../../../core/src/contract/manifest.js';
import type { OutputStats } from '../../../core/src/contract/output-stats.js';
import { FINALIZER, LABEL_ATTEMPT, LABEL_KUEUE_QUEUE, LABEL_RUN, LABEL_SHARD, LABEL_SPECULATIVE, isoSeconds } from '../reconciler/names.js';
import { runId } from '../reconciler/runid.js';
import type {
  FieldError, InputReadiness, ManifestSummary, ObservedAttempt, PlanState, ReconcileBij, ReconcileInput, ReconcileOptions, ReconcileResult,
} from '../reconciler/types.js';

export const T0 = new Date('2024-02-27T10:00:00Z');
/** T0 + seconds, as a Date. */
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
/** T0 + seconds, as RFC 3339. */
export const iso = (seconds: number): string => isoSeconds(at(seconds));

export const baseSpec = (): BatchInferenceJobSpecInput => ({
  model: { uri: 's3://models/churn/v3/model.onnx', inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { probs: { column: 'score', select: 1 } } },
  input: { uri: 's3://lake/features/', idColumn: 'id' },
  output: { uri: 's3://scores/churn/' },
  shards: 4,
});

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export class BIJBuilder {
  private spec: BatchInferenceJobSpecInput = baseSpec();
  private meta: ReconcileBij['metadata'] = { name: 'churn', namespace: 'default', uid: 'uid-1', generation: 1, finalizers: [FINALIZER] };
  private st: BatchInferenceJobStatus = {};

  name(n: string): this { this.meta.name = n; return this; }
  namespace(n: string): this { this.meta.namespace = n; return this; }
  uid(u: string): this { this.meta.uid = u; return this; }
  generation(g: number): this { this.meta.generation = g; return this; }
  finalizers(f: string[] | undefined): this { this.meta.finalizers = f; return this; }
  noFinalizer(): this { return this.finalizers(undefined); }
  deleting(t: Date | string = at(0)): this { this.meta.deletionTimestamp = t; return this; }
  labels(l: Record<string, string>): this { this.meta.labels = { ...(this.meta.labels ?? {}), ...l }; return this; }
  shards(n: number): this { this.spec.shards = n; return this; }
  parallelism(n: number): this { this.spec.parallelism = n; return this; }
  maxRetries(n: number): this { this.spec.maxRetries = n; return this; }
  maxFailedRows(n: number): this { this.spec.maxFailedRows = n; return this; }
  suspend(s = true): this { this.spec.suspend = s; return this; }
  /** spec.input.waitFor. */
  waitFor(w: NonNullable<BatchInferenceJobSpecInput['input']['waitFor']>): this { this.spec.input = { ...this.spec.input, waitFor: w }; return this; }
  /** spec.speculation, enabled, with these settings over the defaults. */
  speculation(s: Partial<NonNullable<BatchInferenceJobSpecInput['speculation']>> = {}): this { this.spec.speculation = { enabled: true, ...s }; return this; }
  gpus(n: number, hourlyCost?: number): this {
    this.spec.worker = { ...(this.spec.worker ?? {}), gpus: n, ...(hourlyCost !== undefined ? { gpuHourlyCost: hourlyCost } : {}) };
    return this;
  }
  outputUri(u: string): this { this.spec.output = { ...this.spec.output, uri: u }; return this; }
  /** Shallow-merges top-level spec fields (and one level below). */
  withSpec(patch: DeepPartial<BatchInferenceJobSpecInput>): this {
    const s = this.spec as Record<string, unknown>;
    for (const [k, v] of Object.entries(patch)) {
      s[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof s[k] === 'object' ? { ...(s[k] as object), ...v } : v;
    }
    return this;
  }
  status(s: BatchInferenceJobStatus): this { this.st = s; return this; }
  parsedSpec(): BatchInferenceJobSpec { return BatchInferenceJobSpecSchema.parse(this.spec); }
  obj(): ReconcileBij {
    return { metadata: { ...this.meta }, spec: this.parsedSpec(), status: structuredClone(this.st) };
  }
}
export const makeBIJ = (): BIJBuilder => new BIJBuilder();

/** The run id a BatchInferenceJob's attempts belong to. */
export const currentRun = (bij: ReconcileBij): string => (bij.spec ? runId(bij.metadata.uid, bij.spec) : 'rnospec0000');

export class AttemptBuilder {
  private a: Omit<ObservedAttempt, 'runId' | 'jobName'> & { runId?: string; jobName?: string };
  constructor(attemptNo: number) {
    this.a = { shard: 0, attempt: attemptNo, state: 'active', disrupted: false, gpus: 0, startedAt: iso(0) };
  }
  shard(s: number): this { this.a.shard = s; return this; }
  run(r: string): this { this.a.runId = r; return this; }
  active(): this { this.a.state = 'active'; return this; }
  deleting(): this { this.a.state = 'deleting'; return this; }
  /** Finished at T0 + `finishedSec` (default 60). */
  succeeded(finishedSec = 60): this { this.a.state = 'succeeded'; this.a.exitCode = 0; this.a.finishedAt = iso(finishedSec); return this; }
  failed(finishedSec = 60): this { this.a.state = 'failed'; this.a.finishedAt = iso(finishedSec); this.a.exitCode ??= 1; return this; }
  exit(code: number): this { this.a.exitCode = code; return this; }
  disrupted(reason = 'Evicted'): this { this.a.disrupted = true; this.a.reason = reason; delete this.a.exitCode; return this; }
  reason(r: string): this { this.a.reason = r; return this; }
  /** An active attempt whose pod has been waiting since T0 + sinceSec. */
  waiting(reason: string, sinceSec = 0, message?: string): this {
    this.a.state = 'active';
    this.a.waiting = { reason, since: iso(sinceSec), ...(message !== undefined ? { message } : {}) };
    return this;
  }
  message(m: string): this { this.a.message = m; return this; }
  summary(s: TerminationSummary): this { this.a.summary = s; this.a.message = s.message; return this; }
  badInput(message = 'column f0 is missing'): this { return this.failed().exit(65).message(message); }
  started(sec: number): this { this.a.startedAt = iso(sec); return this; }
  finished(sec: number): this { this.a.finishedAt = iso(sec); return this; }
  gpus(n: number): this { this.a.gpus = n; return this; }
  speculative(): this { this.a.speculative = true; return this; }
  /** Its Job waits for Kueue's admission (suspended, no pod), in this LocalQueue. */
  queued(queue?: string, suspendedSinceSec?: number): this {
    this.a.state = 'active';
    this.a.queued = true;
    if (queue) this.a.queue = queue;
    if (suspendedSinceSec !== undefined) this.a.suspendedSince = iso(suspendedSinceSec);
    return this;
  }
  /** Its Job failed after Kueue suspended it again (eviction): a disruption, as observeAttempts reports it. */
  evicted(queue?: string, finishedSec = 60): this {
    this.failed(finishedSec).disrupted(queue ? 'EvictedByKueue' : 'JobSuspended');
    this.a.evicted = true;
    if (queue) this.a.queue = queue;
    return this;
  }
  replacedPod(pod: string, reason?: string): this { (this.a.replacedPods ??= []).push({ pod, ...(reason ? { reason } : {}) }); return this; }
  obj(defaultRun = 'r0000000000', bijName = 'churn'): ObservedAttempt {
    const runIdValue = this.a.runId ?? defaultRun;
    return { ...this.a, runId: runIdValue, jobName: this.a.jobName ?? `${bijName}-${runIdValue}-s${this.a.shard}-a${this.a.attempt}` } as ObservedAttempt;
  }
}
export const attempt = (n: number): AttemptBuilder => new AttemptBuilder(n);

export class InputBuilder {
  private planState: PlanState = { state: 'missing' };
  private list: (AttemptBuilder | ObservedAttempt)[] = [];
  private manifestMap = new Map<number, ManifestSummary[]>();
  private progressMap = new Map<string, number>();
  private progressTimingsMap = new Map<string, StageTimings>();
  private progressOutputsMap = new Map<string, OutputStats>();
  private commitState: ReconcileInput['commit'] = { state: 'none' };
  private readinessState?: InputReadiness;
  private nowDate = at(60);
  private errors?: FieldError[];
  private opts?: ReconcileOptions;
  constructor(private readonly bij: ReconcileBij) {}

  get runId(): string { return currentRun(this.bij); }
  /** A ready plan for the current run with these rows per shard. */
  plan(shardRows: number[]): this {
    this.planState = { state: 'ready', runId: this.runId, totalRows: shardRows.reduce((a, b) => a + b, 0), shardRows };
    return this;
  }
  /** A ready plan of `n` shards of `rows` rows each. */
  uniformPlan(n: number, rows = 100): this { return this.plan(new Array(n).fill(rows)); }
  planMissing(): this { this.planState = { state: 'missing' }; return this; }
  planError(message: string): this { this.planState = { state: 'error', message }; return this; }
  planIs(p: PlanState): this { this.planState = p; return this; }
  attempts(...a: (AttemptBuilder | ObservedAttempt)[]): this { this.list.push(...a); return this; }
  manifest(shard: number, attemptNo: number, rows: Partial<ManifestSummary['rows']> = {}, timings?: Partial<StageTimings>, batchSize?: ManifestSummary['batchSize']): this {
    const read = rows.read ?? (this.planState.state === 'ready' ? this.planState.shardRows[shard] ?? 0 : 0);
    const failed = rows.failed ?? 0;
    const m: ManifestSummary = { attempt: attemptNo, rows: { read, scored: rows.scored ?? read - failed, failed } };
    if (timings) m.timings = { read: 0, decode: 0, pack: 0, infer: 0, unpack: 0, write: 0, total: 0, ...timings };
    if (batchSize) m.batchSize = batchSize;
    const list = this.manifestMap.get(shard);
    if (list) list.push(m);
    else this.manifestMap.set(shard, [m]);
    return this;
  }
  progress(shard: number, attemptNo: number, rowsDone: number, timings?: Partial<StageTimings>): this {
    this.progressMap.set(`${shard}/${attemptNo}`, rowsDone);
    if (timings) this.progressTimingsMap.set(`${shard}/${attemptNo}`, { read: 0, decode: 0, pack: 0, infer: 0, unpack: 0, write: 0, total: 0, ...timings });
    return this;
  }
  /** Output statistics of an attempt: in its manifest when it has one (manifest() first), else in its progress file. */
  outputs(shard: number, attemptNo: number, outputs: OutputStats): this {
    const m = this.manifestMap.get(shard)?.find((x) => x.attempt === attemptNo);
    if (m) m.outputs = outputs;
    else this.progressOutputsMap.set(`${shard}/${attemptNo}`, outputs);
    return this;
  }
  /** What the caller saw of spec.input.waitFor. */
  ready(found = 's3://lake/features/_SUCCESS exists'): this { this.readinessState = { ready: true, found }; return this; }
  notReady(missing = 's3://lake/features/_SUCCESS does not exist (spec.input.waitFor.marker)'): this { this.readinessState = { ready: false, missing }; return this; }
  commitFailed(message: string): this {
    this.commitState = { state: 'error', message };
    return this;
  }
  committed(manifestUri = 's3://scores/churn/_manifest.json', rows?: RowCounts): this {
    this.commitState = { state: 'done', manifestUri, ...(rows ? { rows } : {}) };
    return this;
  }
  now(d: Date | number): this { this.nowDate = typeof d === 'number' ? at(d) : d; return this; }
  specErrors(e: FieldError[]): this { this.errors = e; return this; }
  options(o: ReconcileOptions): this { this.opts = o; return this; }
  obj(): ReconcileInput {
    const run = this.runId;
    return {
      bij: structuredClone(this.bij),
      ...(this.errors ? { specErrors: this.errors } : {}),
      plan: this.planState,
      attempts: this.list.map((a) => (a instanceof AttemptBuilder ? a.obj(run, this.bij.metadata.name) : a)),
      manifests: new Map([...this.manifestMap].map(([k, v]) => [k, [...v]])),
      progress: new Map(this.progressMap),
      progressTimings: new Map(this.progressTimingsMap),
      ...(this.progressOutputsMap.size > 0 ? { progressOutputs: new Map(this.progressOutputsMap) } : {}),
      commit: this.commitState,
      ...(this.readinessState ? { readiness: this.readinessState } : {}),
      now: this.nowDate,
      ...(this.opts ? { options: this.opts } : {}),
    };
  }
}
export const makeInput = (bij: ReconcileBij): InputBuilder => new InputBuilder(bij);

/** An attempt as the caller would observe a Job it just created. */
export function attemptFromJob(job: V1Job, now: Date): ObservedAttempt {
  const l = job.metadata!.labels!;
  return {
    runId: l[LABEL_RUN], shard: Number(l[LABEL_SHARD]), attempt: Number(l[LABEL_ATTEMPT]), jobName: job.metadata!.name!,
    state: 'active', disrupted: false, startedAt: isoSeconds(now),
    gpus: Number(job.spec?.template?.spec?.containers?.[0]?.resources?.limits?.['nvidia.com/gpu'] ?? 0),
    ...(l[LABEL_SPECULATIVE] === 'true' ? { speculative: true } : {}),
    // Created suspended (Kueue): observed as queued until admitted.
    ...(job.spec?.suspend ? { queued: true } : {}),
    ...(l[LABEL_KUEUE_QUEUE] ? { queue: l[LABEL_KUEUE_QUEUE] } : {}),
  };
}

/** Plays the caller: the next input after acting on `result` (deleted Jobs are gone at once). */
export function applyResult(input: ReconcileInput, result: ReconcileResult, now: Date = input.now): ReconcileInput {
  const deleted = new Set(result.delete.map((d) => d.name));
  const attempts = input.attempts.filter((a) => !deleted.has(a.jobName));
  const names = new Set(attempts.map((a) => a.jobName));
  for (const j of result.create) if (!names.has(j.metadata!.name!)) attempts.push(attemptFromJob(j, now));
  let finalizers = input.bij.metadata.finalizers;
  if (result.finalizer === 'add') finalizers = [...(finalizers ?? []), FINALIZER];
  if (result.finalizer === 'remove') finalizers = (finalizers ?? []).filter((f) => f !== FINALIZER);
  return {
    ...input,
    bij: { ...input.bij, metadata: { ...input.bij.metadata, finalizers }, status: structuredClone(result.status) },
    attempts,
    now,
  };
}

/** Replaces one attempt (by shard and attempt number) in an input. */
export function updateAttempt(input: ReconcileInput, shard: number, attemptNo: number, f: (a: ObservedAttempt) => ObservedAttempt): ReconcileInput {
  return { ...input, attempts: input.attempts.map((a) => (a.shard === shard && a.attempt === attemptNo ? f(a) : a)) };
}

// ---- Jobs and Pods, for observeAttempts ----

export class JobBuilder {
  private job: V1Job;
  constructor(name: string) {
    this.job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, uid: `uid-${name}`, labels: {} }, spec: { template: { spec: { containers: [{ name: 'worker' }] } } }, status: {} };
  }
  labels(runIdValue: string, shard: number, attemptNo: number): this {
    Object.assign(this.job.metadata!.labels!, { [LABEL_RUN]: runIdValue, [LABEL_SHARD]: String(shard), [LABEL_ATTEMPT]: String(attemptNo) });
    return this;
  }
  started(t: string | Date): this { this.job.status!.startTime = t as Date; return this; }
  complete(t: string | Date = iso(60)): this {
    this.job.status!.conditions = [{ type: 'Complete', status: 'True', lastTransitionTime: t as Date }];
    this.job.status!.completionTime = t as Date;
    return this;
  }
  failedCondition(reason = 'BackoffLimitExceeded', message = 'Job has reached the specified backoff limit', t: string | Date = iso(60)): this {
    this.job.status!.conditions = [{ type: 'Failed', status: 'True', reason, message, lastTransitionTime: t as Date }];
    return this;
  }
  deleting(t: string | Date = iso(30)): this { this.job.metadata!.deletionTimestamp = t as Date; return this; }
  /** spec.suspend: true (Kueue holds it), and the Job controller's Suspended=True condition beside any other. */
  suspended(t: string | Date = iso(30)): this {
    this.job.spec!.suspend = true;
    this.job.status!.conditions = [...(this.job.status!.conditions ?? []), { type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended', lastTransitionTime: t as Date }];
    return this;
  }
  /** Admitted by Kueue: spec.suspend false, Suspended=False (JobResumed). */
  resumed(t: string | Date = iso(5)): this {
    this.job.spec!.suspend = false;
    this.job.status!.conditions = [...(this.job.status!.conditions ?? []).filter((c) => c.type !== 'Suspended'), { type: 'Suspended', status: 'False', reason: 'JobResumed', message: 'Job resumed', lastTransitionTime: t as Date }];
    return this;
  }
  queue(name: string): this { this.job.metadata!.labels![LABEL_KUEUE_QUEUE] = name; return this; }
  active(n: number): this { this.job.status!.active = n; return this; }
  gpus(n: number): this { this.job.spec!.template.spec!.containers[0].resources = { limits: { 'nvidia.com/gpu': String(n) } }; return this; }
  obj(): V1Job { return structuredClone(this.job); }
}
export const makeJob = (name: string): JobBuilder => new JobBuilder(name);

export class PodBuilder {
  private pod: V1Pod;
  constructor(jobName: string, suffix = 'abcde') {
    this.pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: `${jobName}-${suffix}`, labels: { 'batch.kubernetes.io/job-name': jobName }, creationTimestamp: iso(1) as unknown as Date },
      status: { phase: 'Running', containerStatuses: [] },
    };
  }
  created(t: string): this { this.pod.metadata!.creationTimestamp = t as unknown as Date; return this; }
  ownedBy(uid: string): this { this.pod.metadata!.ownerReferences = [{ apiVersion: 'batch/v1', kind: 'Job', name: 'x', uid, controller: true }]; this.pod.metadata!.labels = {}; return this; }
  labelsOnly(labels: Record<string, string>): this { this.pod.metadata!.labels = labels; return this; }
  terminated(exitCode: number, message?: string, reason = exitCode === 0 ? 'Completed' : 'Error'): this {
    this.pod.status!.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    this.pod.status!.containerStatuses = [{
      name: 'worker', image: 'w', imageID: '', ready: false, restartCount: 0,
      state: { terminated: { exitCode, reason, ...(message !== undefined ? { message } : {}), finishedAt: iso(60) as unknown as Date } },
    }];
    return this;
  }
  waiting(reason: string, message?: string): this {
    this.pod.status!.phase = 'Pending';
    this.pod.status!.containerStatuses = [{
      name: 'worker', image: 'w', imageID: '', ready: false, restartCount: 0,
      state: { waiting: { reason, ...(message !== undefined ? { message } : {}) } },
    }];
    return this;
  }
  disruptionTarget(reason = 'PreemptionByScheduler'): this {
    this.pod.status!.conditions = [...(this.pod.status!.conditions ?? []), { type: 'DisruptionTarget', status: 'True', reason }];
    return this;
  }
  podReason(reason: string, message?: string): this {
    this.pod.status!.phase = 'Failed';
    this.pod.status!.reason = reason;
    if (message) this.pod.status!.message = message;
    return this;
  }
  obj(): V1Pod { return structuredClone(this.pod); }
}
export const makePod = (jobName: string, suffix?: string): PodBuilder => new PodBuilder(jobName, suffix);
