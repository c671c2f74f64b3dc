/** The BatchInferenceJob status, written only by the operator through the status subresource. */
import { z } from 'zod';

export const PHASES = ['Pending', 'Waiting', 'Running', 'Merging', 'Succeeded', 'Failed', 'Suspended'] as const;
export const PhaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof PhaseSchema>;

/** metav1.Condition. */
export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string(),
  reason: z.string(),
  message: z.string(),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ShardCountsSchema = z.object({
  total: z.number().int(),
  pending: z.number().int().describe('Not started yet, or waiting for a free slot.'),
  running: z.number().int().describe('With a running attempt.'),
  // Optional so that a status written before this field existed still parses; the operator always writes it.
  queued: z.number().int().optional()
    .describe('With an attempt whose Job waits for admission: suspended by Kueue (no quota yet in its ClusterQueue, or evicted and requeued), no pod running.'),
  succeeded: z.number().int().describe('With a shard manifest.'),
  failed: z.number().int().describe('Not done, and the last attempt failed: waiting to be retried, or the reason the run failed.'),
  retries: z.number().int()
    .describe('Failed attempts in this run (counted failures and disruptions); each is retried unless it ends the run.'),
  speculative: z.number().int().optional()
    .describe('Speculative attempts running now (spec.speculation): a second attempt of a straggling shard; not a retry, and never counted as a failure.'),
});

export const RowCountsSchema = z.object({
  total: z.number().int(),
  processed: z.number().int(),
  failed: z.number().int(),
});

export const EfficiencySchema = z.object({
  modelBusyPercent: z.number().int().describe('Share of the done shards\' wall time in which the model was running a batch.'),
  inputWaitPercent: z.number().int().describe('Share spent waiting for input (reads and decoding that read-ahead did not hide).'),
  outputWaitPercent: z.number().int().describe('Share spent waiting on the writer (encoding, uploads).'),
  shards: z.number().int().describe('Shards the figures come from: those done (their manifests) and those running (their progress files).'),
});

export const BatchSizeStatusSchema = z.object({
  min: z.number().int().describe('The smallest size a done shard chose.'),
  max: z.number().int().describe('The largest size a done shard chose.'),
  shards: z.number().int().describe('Shards the figures come from (their manifests).'),
  outOfMemoryShards: z.number().int().describe('Of those, shards that ran out of memory at some size and backed off.'),
});
/** status.outputs: a short summary of one output column's predictions (the manifests hold the rest). */
export const OutputSummarySchema = z.object({
  column: z.string(),
  count: z.number().int().describe('Values so far (a list column\'s elements), nulls and NaN included.'),
  nulls: z.number().int(),
  nan: z.number().int(),
  min: z.number().optional().describe('Absent (as mean, std) while there is no value.'),
  max: z.number().optional(),
  mean: z.number().optional(),
  std: z.number().optional().describe('Sample standard deviation.'),
  psi: z.number().optional().describe('Population stability index against spec.monitoring.baseline.'),
  meanShift: z.number().optional().describe('Mean minus the baseline\'s mean.'),
});
export type OutputSummary = z.infer<typeof OutputSummarySchema>;

export const BatchInferenceJobStatusSchema = z.object({
  phase: PhaseSchema.optional(),
  observedGeneration: z.number().int().optional(),
  runId: z.string().optional().describe('Identifies the frozen plan under output.uri/_bij/<runId>/.'),
  outputUri: z.string().optional()
    .describe('spec.output.uri of the run named by runId: where its _bij/<runId>/ prefix lives, kept so the operator can clean it up after a spec change.'),
  shards: ShardCountsSchema.optional(),
  rows: RowCountsSchema.optional(),
  progress: z.string().optional().describe('Percent of input rows processed, e.g. "42%".'),
  shardsSummary: z.string().optional()
    .describe('Succeeded/total shards, and the queued ones if any, e.g. "3/16" or "3/16 (4 queued)" (the SHARDS printer column).'),
  rowsPerSecond: z.number().optional(),
  gpuSeconds: z.number().optional().describe('GPU-seconds used by shard attempts so far.'),
  estimatedCost: z.string().optional(),
  efficiency: EfficiencySchema.optional()
    .describe('Where the done shards spent their time: did the model (the GPU) wait for input or output?'),
  batchSize: BatchSizeStatusSchema.optional()
    .describe('With spec.batchSize auto: the rows per run the done shards chose (each shard tunes its own).'),
  outputs: z.array(OutputSummarySchema)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['column'] })
    .optional()
    .describe('Per output column, statistics of the predictions so far (six significant digits), and with spec.monitoring.baseline their drift; live while shards run.'),
  waitingSince: z.string().optional()
    .describe('While the job waits for its input (phase Waiting, spec.input.waitFor): when the wait began; the timeout counts from it.'),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  outputManifest: z.string().optional(),
  message: z.string().optional(),
  conditions: z.array(ConditionSchema)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .optional(),
});
export type BatchInferenceJobStatus = z.infer<typeof BatchInferenceJobStatusSchema>;
