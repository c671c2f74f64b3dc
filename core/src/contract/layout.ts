/**
 * Where everything lives under spec.output.uri. Both the worker (writes attempts) and the operator
 * (plans, commits, cleans up) compute locations only through these functions.
 *
 *   <output>/_bij/<runId>/plan.json                              frozen plan, written once by the operator
 *   <output>/_bij/<runId>/shards/bins.json                       histogram bins of the output columns, written once
 *   <output>/_bij/<runId>/shards/<s>/a<n>/part-00000-<w>.parquet   an attempt's data (invisible to readers)
 *   <output>/_bij/<runId>/shards/<s>/a<n>/errors-00000-<w>.parquet rows that could not be scored
 *   <output>/_bij/<runId>/shards/<s>/a<n>/progress.json          rows done, rewritten while running
 *   <output>/_bij/<runId>/shards/<s>/a<n>/manifest.json          shard manifest, written last
 *   <output>/_bij/<runId>/shards/<s>/a<n>/<col=v>/part-00000-<w>.parquet  with spec.output.partitionBy
 *   <output>/part-s<s>-00000.parquet                             committed data (promoted by the operator)
 *   <output>/<col=v>/.../part-s<s>-00000.parquet                 committed data of one partition (hive-path.ts)
 *   <output>/_errors/part-s<s>-00000.parquet                     committed error rows
 *   <output>/_manifest.json, then <output>/_SUCCESS              the commit
 *
 * <w> is a random writer token per worker process: Kubernetes may run the same attempt twice at once,
 * so two processes never write the same key. The shard manifest (written last) lists exactly the files
 * of the process that wrote it, so whichever manifest the commit reads is self-consistent.
 */
export const BIJ_DIR = '_bij';
export const RUN_MANIFEST = '_manifest.json';
export const SUCCESS_MARKER = '_SUCCESS';
export const ERRORS_DIR = '_errors';

/** Joins a prefix URI and a relative key with exactly one slash. */
export function joinUri(prefix: string, ...parts: string[]): string {
  let out = prefix.replace(/\/+$/, '');
  for (const p of parts) out += '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
  return out;
}

/**
 * A key below a prefix, as a URI: `rel` is a storage key relative to the prefix (it may hold
 * partition folders with `%` and `=` in them, hive-path.ts). Under a `file:` URI the key is
 * percent-encoded, since a file URI's path is decoded when it is opened; S3 URIs and plain paths
 * carry keys as they are.
 */
export function keyUri(prefix: string, rel: string): string {
  if (!/^file:/i.test(prefix)) return joinUri(prefix, rel);
  return joinUri(prefix, rel.split('/').map(encodeURIComponent).join('/'));
}

/** The inverse of keyUri for a URI that storage.list gave under `base` (which ends in `/`). */
export function relativeKey(base: string, uri: string): string {
  const rel = uri.slice(base.length);
  if (!/^file:/i.test(base)) return rel;
  try {
    return rel.split('/').map(decodeURIComponent).join('/');
  } catch {
    return rel; // not an encoding of ours: no committed file of ours either
  }
}

export const pad = (n: number, width = 5): string => String(n).padStart(width, '0');

export const runPrefix = (outputUri: string, runId: string): string => joinUri(outputUri, BIJ_DIR, runId);
export const planUri = (outputUri: string, runId: string): string => joinUri(runPrefix(outputUri, runId), 'plan.json');
/** The histogram bins of the output columns without a baseline, chosen by the first attempt that
 * scores a batch (if-none-match: one choice per run) and read by every other (worker/src/pipeline/shard-output-stats.ts). It
 * lies beside the attempts, so the commit's cleanup removes it with them (the manifests record the bins). */
export const binsUri = (outputUri: string, runId: string): string => joinUri(runPrefix(outputUri, runId), 'shards', 'bins.json');
export const shardPrefix = (outputUri: string, runId: string, shard: number): string =>
  joinUri(runPrefix(outputUri, runId), 'shards', pad(shard));
export const attemptPrefix = (outputUri: string, runId: string, shard: number, attempt: number): string =>
  joinUri(shardPrefix(outputUri, runId, shard), `a${attempt}`);
export const shardManifestUri = (outputUri: string, runId: string, shard: number, attempt: number): string =>
  joinUri(attemptPrefix(outputUri, runId, shard, attempt), 'manifest.json');
export const progressUri = (outputUri: string, runId: string, shard: number, attempt: number): string =>
  joinUri(attemptPrefix(outputUri, runId, shard, attempt), 'progress.json');

/** File names inside an attempt prefix. */
export const attemptDataName = (part: number, writer: string): string => `part-${pad(part)}-${writer}.parquet`;
export const attemptErrorsName = (part: number, writer: string): string => `errors-${pad(part)}-${writer}.parquet`;

/** Committed names, relative to output.uri: deterministic, so a re-run commit rewrites the same keys.
 * `partition` is the partition's folders (hive-path.ts partitionPath), absent without partitionBy. */
export const committedDataPath = (shard: number, part: number, partition?: string): string =>
  `${partition ? partition + '/' : ''}part-s${pad(shard)}-${pad(part)}.parquet`;
export const committedErrorsPath = (shard: number, part: number): string =>
  `${ERRORS_DIR}/part-s${pad(shard)}-${pad(part)}.parquet`;

export const runManifestUri = (outputUri: string): string => joinUri(outputUri, RUN_MANIFEST);
export const successUri = (outputUri: string): string => joinUri(outputUri, SUCCESS_MARKER);
