/** The shard manifest (written last by a worker attempt) and the run manifest (written by the commit). */
import { z } from 'zod';
import type { Storage } from '../storage/types.js';
import { NotFoundError } from './error-kinds.js';
import { successUri } from './layout.js';
import { OutputStatsSchema } from './output-stats.js';
import { DriftSchema } from './drift.js';

export const ModelInfoSchema = z.object({
  uri: z.string(),
  version: z.string().optional(),
  sha256: z.string(),
});

/** Which partition (spec.output.partitionBy) a data file belongs to. */
export const PartitionRefSchema = z.object({
  path: z.string().describe('Its folders, relative to output.uri (or the attempt prefix): region=emea/day=2026-12-05 (hive-path.ts).'),
  values: z.record(z.string(), z.string().nullable()).describe('Column -> the value as a string (what the folder says, unescaped); null for __HIVE_DEFAULT_PARTITION__.'),
});
export type PartitionRef = z.infer<typeof PartitionRefSchema>;

export const OutputFileSchema = z.object({
  path: z.string().describe('Relative to the prefix that holds it: the attempt prefix in a shard manifest, output.uri in the run manifest (partition folders included).'),
  kind: z.enum(['data', 'errors']),
  rowCount: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
  partition: PartitionRefSchema.optional().describe('With spec.output.partitionBy, on data files only.'),
});
export type OutputFile = z.infer<typeof OutputFileSchema>;

/** One partition of a committed run: its folders, values, rows and files. */
export const RunPartitionSchema = PartitionRefSchema.extend({
  rowCount: z.number().int().nonnegative(),
  files: z.array(z.string()).describe('Paths relative to output.uri, as in files[].'),
});
export type RunPartition = z.infer<typeof RunPartitionSchema>;

/** Seconds spent in each pipeline stage (busy time, not wall time). */
export const StageTimingsSchema = z.object({
  read: z.number(),
  decode: z.number().describe('Seconds scoring waited for decoded rows once the model was ready (input wait).'),
  pack: z.number().describe('Seconds spent packing decoded rows into tensors (in the decoder threads, summed over them). Rows the direct decoder writes into the tensors as it decodes them count as decoding (decodeThreads), not here.'),
  infer: z.number(),
  unpack: z.number(),
  write: z.number(),
  total: z.number(),
  decodeThreads: z.number().optional()
    .describe('Seconds the decoder threads were busy decoding (fetch handling, decompression, decoding), packing left out, summed over them.'),
});
export type StageTimings = z.infer<typeof StageTimingsSchema>;

/** Rows an attempt (or a run) read, scored, and could not score. */
export const RowCountsSchema = z.object({
  read: z.number().int().nonnegative(),
  scored: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type RowCounts = z.infer<typeof RowCountsSchema>;

/** The rows per model run a shard used: spec.batchSize, a model's fixed batch, or what batchSize: auto chose. */
export const BatchSizeUsedSchema = z.object({
  chosen: z.number().int().min(1)
    .describe('Rows per run the shard ended with: the model\'s fixed batch dimension if it has one, else spec.batchSize, or with batchSize: auto the size the tuning chose.'),
  auto: z.boolean().describe('spec.batchSize was auto.'),
  outOfMemory: z.array(z.number().int().min(1)).optional()
    .describe('batchSize: auto: runs that ran out of memory, by rows per run, in order (each was retried with half the rows).'),
});
export type BatchSizeUsed = z.infer<typeof BatchSizeUsedSchema>;

export const ShardManifestSchema = z.object({
  kind: z.literal('ShardManifest'),
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  attempt: z.number().int().nonnegative(),
  files: z.array(OutputFileSchema),
  rows: RowCountsSchema,
  timings: StageTimingsSchema,
  model: ModelInfoSchema,
  executionProvider: z.string(),
  batchSize: BatchSizeUsedSchema.optional().describe('Absent in manifests of workers older than batchSize: auto.'),
  startedAt: z.string(),
  finishedAt: z.string(),
  host: z.string().optional(),
  outputs: OutputStatsSchema.optional().describe('Statistics of each output column over the rows this attempt scored (output-stats.ts).'),
});
export type ShardManifest = z.infer<typeof ShardManifestSchema>;

/**
 * A shard manifest's text checked against the attempt it should describe: the manifest, or what is
 * wrong with it (to follow the file's name in a message).
 */
export function checkShardManifest(text: string, expected: { runId: string; shard: number; attempt: number }):
  { manifest: ShardManifest; problem?: undefined } | { manifest?: undefined; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'is not JSON' };
  }
  const parsed = ShardManifestSchema.safeParse(json);
  if (!parsed.success) return { problem: 'is not a valid shard manifest' };
  const m = parsed.data;
  if (m.runId !== expected.runId || m.shard !== expected.shard || m.attempt !== expected.attempt) {
    return { problem: `describes run ${m.runId} shard ${m.shard} attempt ${m.attempt}` };
  }
  return { manifest: m };
}

export const RunManifestSchema = z.object({
  kind: z.literal('RunManifest'),
  runId: z.string(),
  job: z.object({ namespace: z.string(), name: z.string(), uid: z.string(), generation: z.number().int(), scheduledTime: z.string().optional() }),
  model: ModelInfoSchema,
  rowCount: z.number().int().nonnegative().describe('Rows in the data files: every scored input row, once.'),
  failedRowCount: z.number().int().nonnegative(),
  inputRowCount: z.number().int().nonnegative(),
  files: z.array(OutputFileSchema.extend({ shard: z.number().int() })),
  partitionBy: z.array(z.string()).optional().describe('spec.output.partitionBy, when set: the folders data files lie in.'),
  partitions: z.array(RunPartitionSchema).optional()
    .describe('With partitionBy: every partition the run wrote, sorted by path; [] when no row was scored (no partition folders).'),
  startedAt: z.string(),
  finishedAt: z.string(),
  shards: z.array(z.object({
    shard: z.number().int(),
    attempt: z.number().int(),
    rows: RowCountsSchema,
    timings: StageTimingsSchema,
    executionProvider: z.string(),
    batchSize: BatchSizeUsedSchema.optional(),
    outputs: OutputStatsSchema.optional(),
  })),
  outputs: OutputStatsSchema.optional().describe('Statistics of each output column over the run: the shards\' merged (exactly).'),
  drift: z.object({
    baseline: z.object({ uri: z.string(), runId: z.string() }),
    warnPSI: z.number(),
    failPSI: z.number().optional(),
    columns: DriftSchema,
  }).optional().describe('With spec.monitoring.baseline: each output column against the baseline run\'s.'),
});
export type RunManifest = z.infer<typeof RunManifestSchema>;

/** The _SUCCESS marker: written last by the commit, it names the run whose output is complete. */
export interface SuccessMarker {
  runId: string;
  manifest: string;
  committedAt: string;
}

/** A _SUCCESS file's text -> the marker, or undefined when it is not one of ours (another tool's empty file). */
function parseSuccessMarker(text: string): SuccessMarker | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<SuccessMarker>;
    return typeof parsed.runId === 'string' ? (parsed as SuccessMarker) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The output's _SUCCESS marker, if there is one of ours: one read (a missing file is no marker).
 * Other I/O errors propagate: "could not read" must never pass for "not committed". The operator
 * asks on every reconcile of a running job, a worker when it starts and after its last write.
 */
export async function readSuccessMarker(storage: Pick<Storage, 'readText'>, outputUri: string): Promise<SuccessMarker | undefined> {
  try {
    return parseSuccessMarker(await storage.readText(successUri(outputUri)));
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}
