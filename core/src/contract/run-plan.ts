/** The frozen shard plan: written once per run, read by every attempt of every shard. */
import { z } from 'zod';
import { BatchInferenceJobSpecSchema } from './job-spec.js';
import { BadInputError } from './error-kinds.js';
import { OutputStatsSchema } from './output-stats.js';

export const PlannedFileSchema = z.object({
  uri: z.string(),
  size: z.number().int().nonnegative(),
  etag: z.string().optional().describe('S3 ETag or, for files, mtime-based version; checked before reading.'),
  rows: z.number().int().nonnegative(),
  rowGroupRows: z.array(z.number().int().nonnegative()).describe('Rows of each row group, in file order.'),
});
export type PlannedFile = z.infer<typeof PlannedFileSchema>;

/** A contiguous run of row groups [start, end) of one planned file. */
export const ShardRangeSchema = z.object({
  file: z.number().int().nonnegative().describe('Index into plan.files.'),
  rowGroupStart: z.number().int().nonnegative(),
  rowGroupEnd: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
});
export type ShardRange = z.infer<typeof ShardRangeSchema>;

export const PlannedShardSchema = z.object({
  index: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  ranges: z.array(ShardRangeSchema),
});
export type PlannedShard = z.infer<typeof PlannedShardSchema>;

/** The model as planning found it. Every attempt refuses a model whose bytes hash otherwise, so one
 * run is scored by one model even if the file at model.uri is replaced mid-run. */
export const PlannedModelSchema = z.object({
  uri: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  etag: z.string().optional(),
});
export type PlannedModel = z.infer<typeof PlannedModelSchema>;

export const ShardPlanSchema = z.object({
  kind: z.literal('ShardPlan'),
  runId: z.string(),
  createdAt: z.string(),
  job: z.object({
    namespace: z.string(), name: z.string(), uid: z.string(), generation: z.number().int(),
    scheduledTime: z.string().optional().describe('The slot a BatchInferenceSchedule created the job for (its batchinference.dev/scheduled-time annotation).'),
  }),
  spec: BatchInferenceJobSpecSchema,
  /** Absent only in plans written before the model was frozen (older operators). */
  model: PlannedModelSchema.optional(),
  totalRows: z.number().int().nonnegative(),
  /** spec.monitoring.baseline as planning found it, frozen with the plan: the baseline run's output
   * statistics (whose bins every shard of this run counts into) or why there is none. */
  monitoring: z.object({
    baseline: z.object({ uri: z.string(), runId: z.string(), outputs: OutputStatsSchema }).optional(),
    note: z.string().optional().describe('Why there is no baseline (previousRun: no committed run at output.uri yet).'),
  }).optional(),
  files: z.array(PlannedFileSchema),
  shards: z.array(PlannedShardSchema),
});
export type ShardPlan = z.infer<typeof ShardPlanSchema>;

/** plan.json's text -> the plan; BadInputError naming the file when it is not one. */
export function parseShardPlan(text: string, uri: string): ShardPlan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BadInputError(`${uri} is not a shard plan: not JSON`, { cause: e });
  }
  const parsed = ShardPlanSchema.safeParse(json);
  if (!parsed.success) throw new BadInputError(`${uri} is not a shard plan: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
