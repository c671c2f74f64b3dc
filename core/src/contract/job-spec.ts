/**
 * The BatchInferenceJob spec: the single source of truth for the API. The CRD's openAPIV3Schema is
 * generated from these schemas (see crd.ts); the operator and the worker parse with them.
 */
import { z } from 'zod';

export const API_GROUP = 'batchinference.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'BatchInferenceJob';
export const PLURAL = 'batchinferencejobs';
export const SHORT_NAME = 'bij';

/** metadata.name of a BatchInferenceJob: the API server requires a lowercase RFC 1123 subdomain (as
 * for every custom resource). The operator derives shard Job names and label values from it, cutting
 * and hashing long ones (reconciler/names.ts), so it needs nothing stricter. */
export const OBJECT_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const OBJECT_NAME_MAX_LENGTH = 253;

const name = z.string().min(1);
/** A map key naming an ONNX input or output: never empty. The CRD says the same with a CEL rule
 * (crd.ts translates the key schema), since a structural schema has no propertyNames. */
const onnxName = z.string().min(1, 'must not be empty');
/** Arbitrary Kubernetes objects (resources, affinity, tolerations...) are passed through untouched. */
const k8sObject = z.record(z.string(), z.unknown());

export const InputMappingSchema = z
  .object({
    columns: z.array(name).min(1).optional()
      .describe('Numeric scalar columns packed, in order, into a [batch, k] tensor.'),
    column: name.optional()
      .describe('One fixed-size-list or list column, giving a [batch, dim] tensor.'),
  })
  .strict()
  .refine((m) => (m.columns === undefined) !== (m.column === undefined), {
    message: 'set exactly one of columns or column',
  })
  .meta({ 'x-kubernetes-validations': [{ rule: 'has(self.columns) != has(self.column)', message: 'set exactly one of columns or column' }] });

export const OutputMappingSchema = z
  .object({
    column: name.describe('Name of the output column.'),
    select: z.number().int().min(0).optional()
      .describe('Take element i of the last axis (e.g. 1 for the class-1 probability).'),
  })
  .strict();

export const ModelSchema = z
  .object({
    uri: name.describe('s3://bucket/key, file:///abs/path or, in local mode, a relative path.'),
    version: z.string().optional().describe('Recorded in the output metadata and the run manifest.'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional()
      .describe('The worker refuses a model whose bytes differ.'),
    inputs: z.record(onnxName, InputMappingSchema).meta({ minProperties: 1 })
      .describe('ONNX input name -> where its tensor comes from.'),
    outputs: z.record(onnxName, OutputMappingSchema).meta({ minProperties: 1 })
      .describe('ONNX output name -> output column.'),
    scoreInfinity: z.boolean().default(false)
      .describe('Score rows whose features hold +-Infinity as they are; by default such a row is an error row, like NaN.'),
  })
  .strict();

/** spec.input.waitFor: what must be there before the run is planned (a sensor, as Airflow's). */
export const WaitForSchema = z
  .object({
    marker: name.optional()
      .describe('An object that must exist: a name under input.uri (e.g. _SUCCESS; beside the file when input.uri is one .parquet file), or a full s3:// or file:// URI.'),
    minFiles: z.number().int().min(1).optional()
      .describe('At least this many *.parquet files under input.uri (outside _ and . folders).'),
    timeoutSeconds: z.number().int().min(1).default(86400)
      .describe('Fail the job (reason InputNotReady) when the input is not ready this long after the wait began.'),
    pollSeconds: z.number().int().min(1).default(60).describe('How often to look.'),
  })
  .strict()
  .refine((w) => w.marker !== undefined || w.minFiles !== undefined, { message: 'set marker, minFiles or both' })
  .meta({ 'x-kubernetes-validations': [{ rule: 'has(self.marker) || has(self.minFiles)', message: 'set marker, minFiles or both' }] });

export const InputSchema = z
  .object({
    uri: name.describe('One .parquet file, or a prefix holding *.parquet.'),
    idColumn: name.describe('Copied to every output row; identifies the row.'),
    passthroughColumns: z.array(name).optional().describe('Copied unchanged to every output row.'),
    waitFor: WaitForSchema.optional()
      .describe('Wait (phase Waiting) until the input is ready before planning: a marker object and/or a minimum count of Parquet files.'),
  })
  .strict();

/** spec.speculation: straggler mitigation (off unless enabled). */
export const SpeculationSchema = z
  .object({
    enabled: z.boolean().default(false),
    multiplier: z.number().min(1).default(1.5)
      .describe('A shard is a straggler when its attempt has run longer than this many times the median run time of the finished shards.'),
    minRuntimeSeconds: z.number().int().min(0).default(120)
      .describe('A shard is never speculated before its attempt has run this long.'),
    maxSpeculative: z.number().int().min(1).default(2)
      .describe('At most this many speculative attempts at once (each also takes a parallelism slot).'),
  })
  .strict();

/** Where a run column's value comes from: a closed set, each the same in every row of a run. */
export const RUN_COLUMN_SOURCES = ['runId', 'jobName', 'modelVersion', 'modelSha256', 'scheduledTime', 'scheduledDate'] as const;
export type RunColumnSource = (typeof RUN_COLUMN_SOURCES)[number];

export const AddColumnSchema = z
  .object({
    name: name.describe('Name of the column in every output row.'),
    source: z.enum(RUN_COLUMN_SOURCES)
      .describe('runId, jobName, modelVersion (needs spec.model.version), modelSha256 (strings); scheduledTime (timestamp, UTC: the slot of the BatchInferenceSchedule that created the job, else the run\'s start); scheduledDate (date of scheduledTime in timeZone).'),
    timeZone: z.string().min(1).optional()
      .describe('For scheduledDate: the IANA zone whose calendar date is taken (default UTC).'),
  })
  .strict();

/** Most partition columns: each adds a folder level, and a file per shard per partition. */
export const MAX_PARTITION_COLUMNS = 4;

export const OutputSchema = z
  .object({
    uri: name.describe('Prefix that receives the Parquet parts, _manifest.json and _SUCCESS.'),
    compression: z.enum(['zstd', 'snappy', 'gzip', 'lz4', 'none']).default('zstd'),
    targetFileBytes: z.number().int().min(1 << 20).default(128 << 20)
      .describe('Approximate size of each output Parquet part (of each partition\'s parts, with partitionBy).'),
    partitionBy: z.array(name).max(MAX_PARTITION_COLUMNS).optional()
      .describe('Passthrough or added columns: parts go under Hive-style folders col=value/ (in this order), and the columns are not repeated inside the files.'),
    maxOpenPartitions: z.number().int().min(1).max(1024).optional()
      .describe('With partitionBy: most partitions a worker writes at once (default 16); the least recently used part is closed to open another.'),
    addColumns: z.array(AddColumnSchema).max(16).optional()
      .describe('Run columns: the same value in every output row (run id, model, job, scheduled time), so readers can filter or delete by run.'),
  })
  .strict();

/** spec.monitoring.baseline: the run this one's predictions are compared with. */
export const BaselineSchema = z
  .object({
    uri: name.optional()
      .describe('An earlier run\'s _manifest.json (s3:// or file://), or the output prefix that holds it.'),
    previousRun: z.literal(true).optional()
      .describe('The run committed at output.uri before this one (its _manifest.json, read when this run is planned). The first run has no baseline.'),
  })
  .strict()
  .refine((b) => (b.uri !== undefined) !== (b.previousRun !== undefined), { message: 'set exactly one of uri or previousRun: true' })
  .meta({ 'x-kubernetes-validations': [{ rule: 'has(self.uri) != has(self.previousRun)', message: 'set exactly one of uri or previousRun: true' }] });

/** spec.monitoring: prediction drift against a baseline run. */
export const MonitoringSchema = z
  .object({
    baseline: BaselineSchema.optional(),
    warnPSI: z.number().min(0).default(0.2)
      .describe('Above this population stability index of an output column: a Warning event and the Drifted condition.'),
    failPSI: z.number().min(0).optional()
      .describe('Above this PSI (at least warnPSI) of an output column once every shard is done: the run fails (reason Drifted) and is not committed.'),
  })
  .strict()
  .refine((m) => m.failPSI === undefined || m.failPSI >= m.warnPSI, { message: 'failPSI must be at least warnPSI', path: ['failPSI'] })
  .meta({ 'x-kubernetes-validations': [{ rule: '!has(self.failPSI) || !has(self.warnPSI) || self.failPSI >= self.warnPSI', message: 'failPSI must be at least warnPSI', fieldPath: '.failPSI' }] });

export const WorkerSchema = z
  .object({
    image: z.string().default('ghcr.io/batchinference/bij-worker:0.1.0'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    executionProvider: z.enum(['cuda', 'cpu', 'auto']).default('auto'),
    gpus: z.number().int().min(0).default(0).describe('-> resources.limits["nvidia.com/gpu"].'),
    resources: k8sObject.optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(k8sObject).optional(),
    affinity: k8sObject.optional(),
    priorityClassName: z.string().optional(),
    serviceAccountName: z.string().optional(),
    env: z.array(k8sObject).optional(),
    envFrom: z.array(k8sObject).optional(),
    gpuHourlyCost: z.number().min(0).optional().describe('Price of one GPU-hour, for the cost estimate in status.'),
  })
  .strict();

export const S3SettingsSchema = z
  .object({
    endpoint: z.string().default(''),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(false),
    credentialsSecret: z.string().default('').describe('Secret whose keys become the worker\'s environment (AWS_ACCESS_KEY_ID, ...).'),
  })
  .strict();

export const StorageSchema = z.object({ s3: S3SettingsSchema.prefault({}) }).strict();

export const BatchInferenceJobSpecSchema = z
  .object({
    model: ModelSchema,
    input: InputSchema,
    output: OutputSchema,
    shards: z.number().int().min(1).max(100000).optional(),
    targetRowsPerShard: z.number().int().min(1).optional(),
    parallelism: z.number().int().min(1).default(8).describe('At most this many shard Jobs at once.'),
    batchSize: z.union([z.number().int().min(1).max(1 << 20), z.literal('auto')]).default(4096)
      .meta({ 'x-kubernetes-int-or-string': true })
      .describe('Rows per model run, or auto: each worker starts small and doubles the batch while throughput rises, '
        + 'halves it on an out-of-memory error, and records the size it chose (shard manifest, status.batchSize). '
        + 'A model with a fixed batch dimension always runs that many rows.'),
    maxRetries: z.number().int().min(0).default(3)
      .describe('Per shard; pod disruptions (preemption, eviction) do not count.'),
    maxFailedRows: z.number().int().min(0).default(0)
      .describe('Rows that cannot be scored (nulls, NaN) before the run fails.'),
    worker: WorkerSchema.prefault({}),
    storage: StorageSchema.prefault({}),
    suspend: z.boolean().default(false),
    speculation: SpeculationSchema.optional()
      .describe('Start one more attempt of a shard that runs much longer than the finished ones; the first to finish wins.'),
    monitoring: MonitoringSchema.optional()
      .describe('Compare the output columns\' distributions with a baseline run (PSI, mean shift): warn, or fail before the commit.'),
  })
  .strict()
  .refine((s) => !(s.shards !== undefined && s.targetRowsPerShard !== undefined), {
    message: 'set at most one of shards or targetRowsPerShard', path: ['shards'],
  })
  .meta({ 'x-kubernetes-validations': [{ rule: '!(has(self.shards) && has(self.targetRowsPerShard))', message: 'set at most one of shards or targetRowsPerShard', fieldPath: '.shards' }] });

export type BatchInferenceJobSpec = z.infer<typeof BatchInferenceJobSpecSchema>;
export type BatchInferenceJobSpecInput = z.input<typeof BatchInferenceJobSpecSchema>;
export type InputMapping = z.infer<typeof InputMappingSchema>;
export type OutputMapping = z.infer<typeof OutputMappingSchema>;
export type S3Settings = z.infer<typeof S3SettingsSchema>;
export type WaitFor = z.infer<typeof WaitForSchema>;
export type Speculation = z.infer<typeof SpeculationSchema>;
export type AddColumn = z.infer<typeof AddColumnSchema>;
export type Monitoring = z.infer<typeof MonitoringSchema>;
