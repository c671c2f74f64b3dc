/**
 * The reconciler's inputs and outputs. The reconciler is pure: the kube layer observes (Jobs, Pods,
 * the plan, shard manifests, progress files, the commit marker), calls `reconcile(input)`, and acts on
 * the result. Nothing here does I/O or reads the clock: `now` comes in with the input.
 *
 * The caller's loop, in order (see reconcile.ts for the reasons):
 *   1. read the BatchInferenceJob; parse it (api/validate.ts) -> spec or specErrors;
 *   2. list its Jobs (label batchinference.dev/job=<jobLabelValue(name)>) and their Pods, then
 *      `observeAttempts(jobs, pods)`;
 *   3. only if `needsStorage(...)`: read plan.json of runId(uid, spec), then the shard manifests and
 *      progress files of that run (after listing the Jobs, so a Job seen Complete has a visible
 *      manifest), and whether the run is committed; when there is no plan yet and
 *      `needsReadiness(spec)`, look at the input instead (planner/readiness.ts) -> `readiness`;
 *   4. `reconcile(input)`;
 *   5. act: finalizer 'add' first (and nothing else that pass); actions.plan, actions.cleanup,
 *      actions.commit; delete (propagationPolicy Foreground, 404 = done); create (409
 *      AlreadyExists = done). A thrown error requeues with backoff, without writing the status;
 *   6. write the status with one call, only when it differs from the input status (`statusEqual`);
 *   7. emit the events, only after the status write succeeded; finalizer 'remove' last;
 *   8. requeue after `requeueAfterMs` if set.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import type { FieldError } from '../api/validate.js';
import type { TerminationSummary } from '../../../core/src/contract/process.js';
import type { BatchSizeUsed, RowCounts, StageTimings } from '../../../core/src/contract/manifest.js';
import type { OutputStats } from '../../../core/src/contract/output-stats.js';
import type { ShardPlan } from '../../../core/src/contract/run-plan.js';
import type { ShardJobOptions } from './job.js';

export type { FieldError };

/** One shard attempt, as observed from its Job (and its Pods). Produced by `observeAttempts`. */
export interface ObservedAttempt {
  /** The run the Job belongs to (label batchinference.dev/run). Attempts of other runs are deleted. */
  runId: string;
  shard: number;
  attempt: number;
  jobName: string;
  /** Complete=True -> succeeded; Failed=True -> failed; deletionTimestamp -> deleting; else active. */
  state: 'active' | 'succeeded' | 'failed' | 'deleting';
  /** The pod was disrupted (preempted, evicted, node lost...): a failure that does not count. */
  disrupted: boolean;
  /** The worker's exit code, from the pod's container state. */
  exitCode?: number;
  /** Why it ended: the container's terminated reason (OOMKilled, Error...), the pod's reason (Evicted...)
   * or the Job's failure reason (DeadlineExceeded, PodFailurePolicy...). */
  reason?: string;
  /** The worker's message: TerminationSummary.message when the termination message is one, else the
   * termination message itself (or the last log lines, FallbackToLogsOnError), else the Job's. */
  message?: string;
  /** The worker's TerminationSummary, when its termination message is one. */
  summary?: TerminationSummary;
  /** RFC 3339, second precision. */
  startedAt?: string;
  finishedAt?: string;
  /** A speculative attempt (label batchinference.dev/speculative): a second attempt of a straggling
   * shard, started while the shard's attempt still runs (spec.speculation). Its failure is never
   * counted against maxRetries. */
  speculative?: boolean;
  /** GPUs the attempt holds (limits["nvidia.com/gpu"] of its container). */
  gpus: number;
  /** An active attempt whose container has not started: the kubelet's waiting reason (ImagePullBackOff,
   * CreateContainerConfigError...), its message, and since when the pod exists (RFC 3339). */
  waiting?: { reason: string; message?: string; since?: string };
  /** Pods of this attempt that were disrupted and replaced by the Job controller (the pod failure
   * policy's Ignore rule) while the attempt went on: not failures, but worth an event. */
  replacedPods?: { pod: string; reason?: string }[];
  /** The Kueue LocalQueue the Job was submitted to (its `kueue.x-k8s.io/queue-name` label). */
  queue?: string;
  /** An active attempt whose Job is suspended with no active pod: waiting for Kueue (or whatever holds
   * it) to admit it. It holds a parallelism slot but no GPU. A queued attempt that has done work (its
   * progress file says so) was evicted: Kueue suspended its admitted Job again and the Job controller
   * stopped its pod; on re-admission the same attempt starts over in a new pod. */
  queued?: boolean;
  /** When the Job was last suspended (its Suspended=True condition, RFC 3339): tells one eviction of
   * the same Job from the next. */
  suspendedSince?: string;
  /** A failed attempt whose Job was suspended while its pod ran and that failed from it (Kubernetes
   * normally does not count a pod it stops for a suspension, so the Job waits, queued, instead; this is
   * for when it failed anyway): a disruption (`disrupted` is set too), not counted against maxRetries. */
  evicted?: boolean;
}

/** What a valid shard manifest of the current run says (the reconciler needs only this much). */
export interface ManifestSummary {
  attempt: number;
  rows: RowCounts;
  /** The attempt's stage timings (status.efficiency). */
  timings?: StageTimings;
  /** The rows per run it used (status.batchSize, with batchSize: auto). */
  batchSize?: BatchSizeUsed;
  /** Its output columns' statistics (status.outputs, drift). */
  outputs?: OutputStats;
}

/** The frozen plan of the current run, as far as the reconciler needs it. */
export type PlanState =
  /** No plan.json yet for the current run id: the reconciler asks for one (actions.plan). */
  | { state: 'missing' }
  /** plan.json exists. A plan whose runId is not the current run id is treated as missing. */
  | { state: 'ready'; runId: string; totalRows: number; shardRows: number[]; /** plan.monitoring: the frozen baseline. */ monitoring?: ShardPlan['monitoring'] }
  /** Planning failed for a reason retrying cannot fix (no such input, not Parquet...): the run fails.
   * Transient errors (throttling, timeouts) are thrown by the caller instead, and requeued. When
   * performing actions.plan fails for such a reason, call reconcile again in the same pass with this
   * state and act on that result: nothing else remembers the error. (Files without rows are not an
   * error: their plan has zero shards, which the reconciler commits at once as an empty output.) */
  | { state: 'error'; message: string; /** Default PlanFailed. */ reason?: 'OutputInUse' };

/** Whether the input is ready by spec.input.waitFor. `missing` says what is not there yet, naming the
 * path ("s3://lake/x/_SUCCESS does not exist"); `found` what was (for the InputReady event). */
export type InputReadiness = { ready: true; found: string } | { ready: false; missing: string };

/** The BatchInferenceJob as the reconciler sees it. */
export interface ReconcileBij {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    /** Only the Kueue labels are used (names.ts KUEUE_LABELS): the shard Jobs carry them. */
    labels?: Record<string, string>;
    generation?: number;
    /** RFC 3339 string or Date (client-node deserializes some paths to Date, watches give strings). */
    deletionTimestamp?: string | Date;
    finalizers?: string[];
  };
  /** The parsed spec (defaults applied). Absent when the spec did not parse (then specErrors says why). */
  spec?: BatchInferenceJobSpec;
  /** The status as stored (parse it with api/validate.ts parseStatus; `{}` when absent). */
  status: BatchInferenceJobStatus;
}

export interface ReconcileInput {
  bij: ReconcileBij;
  /** Schema or semantic errors of the spec (api/validate.ts). Non-empty -> Failed (InvalidSpec). */
  specErrors?: FieldError[];
  plan: PlanState;
  /** All attempts of this BatchInferenceJob, of any run (observeAttempts). */
  attempts: ObservedAttempt[];
  /** Valid shard manifests of the current run: shard -> one entry per attempt that wrote one. */
  manifests: ReadonlyMap<number, readonly ManifestSummary[]>;
  /** Rows done by running attempts of the current run, from their progress.json: `${shard}/${attempt}` -> rowsDone. */
  progress: ReadonlyMap<string, number>;
  /** Stage timings so far of running attempts, from the same files (status.efficiency while running). */
  progressTimings?: ReadonlyMap<string, StageTimings>;
  /** Output statistics so far of running attempts, from the same files (live status.outputs and drift). */
  progressOutputs?: ReadonlyMap<string, OutputStats>;
  /** spec.input.waitFor, looked at by the caller when there is no plan yet (planner/readiness.ts).
   * Absent: not looked at (then a job with waitFor waits). */
  readiness?: InputReadiness;
  /** Whether the current run is committed (_SUCCESS written, _manifest.json names this run). */
  commit:
    | { state: 'none' }
    | { state: 'done'; manifestUri?: string; rows?: RowCounts }
    /** The commit cannot succeed as chosen (commit/merge.ts CommitError): the run fails. */
    | { state: 'error'; message: string; /** Default CommitFailed. */ reason?: 'OutputInUse' };
  now: Date;
  options?: ReconcileOptions;
}

export interface ReconcileOptions {
  /** Passed to buildShardJob. */
  job?: ShardJobOptions;
  /** How often to look at progress files while the run is running (ms). Default 15000. */
  progressPollMs?: number;
  /** Most events one reconcile returns; the rest are summarised in one. Default 20. */
  maxEvents?: number;
  /** Delay before retrying a shard after its n-th counted failure: baseMs * 2^(n-1), at most maxMs.
   * Default 10 s doubling to 5 min. */
  backoff?: Backoff;
  /** What the cluster admin allows workers to be (image, service account, Secrets in env). */
  policy?: WorkerPolicy;
}

export interface KubeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Emitted at most once per object and key (the caller derives the Event's name from it, so a
   * repeat is an AlreadyExists the caller ignores). */
  key?: string;
  /** The event reports a Job this result creates or deletes: the caller emits it right after the
   * creates and deletes, not after the status write. A status write that loses a race must not lose
   * it: the next pass sees the Jobs changed and would not say it again (the key keeps it single). */
  withJobs?: boolean;
}

export interface CleanupAction {
  runId: string;
  /** The output.uri the run wrote under: delete `<outputUri>/_bij/<runId>/` and abort its uploads. */
  outputUri: string;
  /** Only the attempts' files (`_bij/<runId>/shards/`): the sweep of a committed run once all its
   * pods are gone, for whatever attempts still wrote after the commit's own cleanup. The plan and
   * the committed output stay. Once per run and operator process is enough (the caller remembers). */
  attemptsOnly?: boolean;
}

export interface ReconcileActions {
  /** Plan the run: list the input, split it (planner/split.ts) and write plan.json (if-none-match). */
  plan?: { runId: string };
  /** Commit the run: promote these attempts (one per shard, ascending), write _manifest.json, then
   * _SUCCESS. Idempotent: the same attempts are chosen every time. */
  commit?: { runId: string; chosen: { shard: number; attempt: number }[] };
  /** Delete the internal prefixes of these runs (never committed data). Done before the status write. */
  cleanup?: CleanupAction[];
}

export interface ReconcileResult {
  /** The complete desired status. Write it (one call) only when it differs from the input status. */
  status: BatchInferenceJobStatus;
  /** Jobs to create. AlreadyExists counts as created. */
  create: V1Job[];
  /** Jobs to delete, by name. 404 counts as deleted. Use propagationPolicy Foreground, so a Job stays
   * visible (state 'deleting') until its pods are gone. */
  delete: { name: string; reason: string }[];
  actions: ReconcileActions;
  /** 'add' (before anything else), 'remove' (after everything else), or 'keep'. */
  finalizer: 'add' | 'remove' | 'keep';
  /** Events to emit after the status write succeeded. */
  events: KubeEvent[];
  /** Requeue after this many ms (0: right away, through the rate-limited queue); unset: wait for a watch event. */
  requeueAfterMs?: number;
}

/** Retry delays: baseMs doubling per retry, at most maxMs (shards.ts, retryBackoffMs). */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** What a platform team allows shard Jobs to run as (worker-policy.ts checks it). */
export interface WorkerPolicy {
  /** The worker image must start with one of these (e.g. `registry.example.com/ml/`). Empty: any. */
  allowedImagePrefixes?: string[];
  /** spec.worker.serviceAccountName (default `default`) must be one of these. Empty: any. */
  allowedServiceAccounts?: string[];
  /** false: spec.worker.env and envFrom may not name Secrets (storage.s3.credentialsSecret stays allowed). */
  allowSecretEnv?: boolean;
}
