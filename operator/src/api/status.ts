/** The BatchInferenceJob status, written only by the operator through the status subresource. */
import { z } from 'zod';

export const PHASES = ['Pending', 'Running', 'Merging', 'Succeeded', 'Failed', 'Suspended'] as const;
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
  pending: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  retries: z.number().int(),
});

export const RowCountsSchema = z.object({
  total: z.number().int(),
  processed: z.number().int(),
  failed: z.number().int(),
});

export const BatchInferenceJobStatusSchema = z.object({
  phase: PhaseSchema.optional(),
  observedGeneration: z.number().int().optional(),
  runId: z.string().optional().describe('Identifies the frozen plan under output.uri/_bij/<runId>/.'),
  shards: ShardCountsSchema.optional(),
  rows: RowCountsSchema.optional(),
  progress: z.string().optional().describe('Percent of input rows processed, e.g. "42%".'),
  rowsPerSecond: z.number().optional(),
  gpuSeconds: z.number().optional().describe('GPU-seconds used by shard attempts so far.'),
  estimatedCost: z.string().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  outputManifest: z.string().optional(),
  message: z.string().optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type BatchInferenceJobStatus = z.infer<typeof BatchInferenceJobStatusSchema>;
