/** The process contract between the operator (or local runner) and one worker attempt. */
import { z } from 'zod';
import { StageTimingsSchema } from './manifest.js';
import { OutputStatsSchema } from './output-stats.js';

/** Environment variables that carry a worker's assignment. Command-line flags of the same name win. */
export const ENV = {
  planUri: 'BIJ_PLAN_URI',
  shard: 'BIJ_SHARD',
  attempt: 'BIJ_ATTEMPT',
  runId: 'BIJ_RUN_ID',
  /** JSON of spec.storage.s3, so the worker can read the plan before it knows the spec. */
  s3: 'BIJ_S3',
  terminationLog: 'BIJ_TERMINATION_LOG',
  /** Seconds between progress.json writes. */
  progressInterval: 'BIJ_PROGRESS_INTERVAL',
  /** Decoder threads per worker (default: half the pod's CPUs, 1 to 4); set it in spec.worker.env. */
  decoders: 'BIJ_DECODERS',
  /** Settings that may change during a run (not in the run id): the current spec's values, set on
   * each shard Job, win over the frozen plan's copy of the spec. */
  maxFailedRows: 'BIJ_MAX_FAILED_ROWS',
  executionProvider: 'BIJ_EXECUTION_PROVIDER',
  /** Set by the local runner only: a pipe the worker watches to die with its parent. */
  parentPipeFd: 'BIJ_PARENT_PIPE_FD',
} as const;

export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';

/** Exit codes. Anything not listed (a crash, SIGKILL, OOM) is treated as retryable. */
export const EXIT = {
  ok: 0,
  /** Worth retrying: I/O errors, throttling, a lost connection. */
  retryable: 75, // EX_TEMPFAIL
  /** Bad input (model/spec/data mismatch): retrying cannot help, the run fails at once. */
  badInput: 65, // EX_DATAERR
} as const;

export const TerminationSummarySchema = z.object({
  outcome: z.enum(['succeeded', 'bad-input', 'failed']),
  message: z.string(),
  shard: z.number().int().optional(),
  attempt: z.number().int().optional(),
  rowsRead: z.number().int().optional(),
  rowsScored: z.number().int().optional(),
  rowsFailed: z.number().int().optional(),
});
export type TerminationSummary = z.infer<typeof TerminationSummarySchema>;

/** Kubernetes keeps at most 4096 bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

export const ProgressSchema = z.object({
  shard: z.number().int(),
  attempt: z.number().int(),
  rowsDone: z.number().int().nonnegative(),
  rowsTotal: z.number().int().nonnegative(),
  updatedAt: z.string(),
  /** Stage seconds so far (as in the shard manifest): status.efficiency while the shard runs. */
  timings: StageTimingsSchema.optional(),
  /** Statistics of the output columns so far (as in the shard manifest): live statistics and drift. */
  outputs: OutputStatsSchema.optional(),
});
export type Progress = z.infer<typeof ProgressSchema>;
