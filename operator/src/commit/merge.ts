/** Pure: merges the chosen shard manifests into the run manifest and the list of copies to make. */
import {
  StatsMergeError, committedDataPath, committedErrorsPath, driftOf, keyUri, attemptPrefix, mergeOutputStats, partitionPath,
  type OutputStats,
  type OutputFile, type RunManifest, type RunPartition, type ShardManifest, type ShardPlan,
} from '../../../core/src/contract/index.js';

/** The chosen attempts cannot be committed as they are (a manifest gone, counts that disagree):
 * retrying the same commit cannot help, so the run fails with reason CommitFailed. */
export class CommitError extends Error {
  override readonly name = 'CommitError';
}

export interface Promotion {
  from: string;
  to: string;
  bytes: number;
}

export interface MergeResult {
  manifest: RunManifest;
  promotions: Promotion[];
}

/**
 * `shardManifests` holds exactly one manifest per planned shard (the chosen attempt). Throws when a
 * manifest is missing, duplicated or belongs to another run: the commit must never guess.
 */
export function mergeManifests(plan: ShardPlan, shardManifests: ShardManifest[]): MergeResult {
  const outputUri = plan.spec.output.uri;
  const partitionBy = plan.spec.output.partitionBy ?? [];
  const byShard = new Map<number, ShardManifest>();
  for (const m of shardManifests) {
    if (m.runId !== plan.runId) throw new CommitError(`shard manifest of shard ${m.shard} belongs to run ${m.runId}, not ${plan.runId}`);
    if (byShard.has(m.shard)) throw new CommitError(`two manifests chosen for shard ${m.shard}`);
    byShard.set(m.shard, m);
  }
  const files: RunManifest['files'] = [];
  const promotions: Promotion[] = [];
  const shards: RunManifest['shards'] = [];
  let rowCount = 0;
  let failed = 0;
  let read = 0;
  let sha = plan.model?.sha256 ?? '';
  let startedAt = '';
  let finishedAt = '';
  const stats: OutputStats[] = [];
  const statsOf: string[] = [];
  for (const planned of plan.shards) {
    const m = byShard.get(planned.index);
    if (!m) throw new CommitError(`no shard manifest chosen for shard ${planned.index}`);
    if (m.rows.read !== planned.rows) {
      throw new CommitError(`shard ${planned.index} attempt ${m.attempt} read ${m.rows.read} rows but the plan has ${planned.rows}`);
    }
    const prefix = attemptPrefix(outputUri, plan.runId, m.shard, m.attempt);
    // Parts are numbered per shard and partition, in the shard manifest's order: deterministic.
    const dataParts = new Map<string, number>();
    let errorPart = 0;
    for (const f of m.files) {
      let path: string;
      if (f.kind === 'errors') path = committedErrorsPath(m.shard, errorPart++);
      else {
        const folder = partitionOf(f, partitionBy, m);
        const n = dataParts.get(folder) ?? 0;
        dataParts.set(folder, n + 1);
        path = committedDataPath(m.shard, n, folder || undefined);
      }
      files.push({ ...f, path, shard: m.shard });
      promotions.push({ from: keyUri(prefix, f.path), to: keyUri(outputUri, path), bytes: f.bytes });
    }
    rowCount += m.rows.scored;
    failed += m.rows.failed;
    read += m.rows.read;
    if (sha && m.model.sha256 !== sha) {
      throw new CommitError(`shard ${m.shard} attempt ${m.attempt} was scored by a model with sha256 ${m.model.sha256}, but the run's model is ${sha}: one run is scored by one model`);
    }
    sha = sha || m.model.sha256;
    if (!startedAt || m.startedAt < startedAt) startedAt = m.startedAt;
    if (m.finishedAt > finishedAt) finishedAt = m.finishedAt;
    shards.push({
      shard: m.shard, attempt: m.attempt, rows: m.rows, timings: m.timings, executionProvider: m.executionProvider,
      ...(m.batchSize ? { batchSize: m.batchSize } : {}),
      ...(m.outputs ? { outputs: m.outputs } : {}),
    });
    if (m.outputs) {
      stats.push(m.outputs);
      statsOf.push(`shard ${m.shard} attempt ${m.attempt}`);
    }
  }
  // Statistics only when every shard has them (a shard manifest of an older worker has none).
  let outputs: OutputStats | undefined;
  if (stats.length === plan.shards.length && stats.length > 0) {
    try {
      outputs = mergeOutputStats(stats, statsOf);
    } catch (e) {
      if (e instanceof StatsMergeError) throw new CommitError(e.message, { cause: e });
      throw e;
    }
  }
  const baseline = plan.monitoring?.baseline;
  const monitoring = plan.spec.monitoring;
  const dataRows = files.filter((f) => f.kind === 'data').reduce((n, f) => n + f.rowCount, 0);
  if (dataRows !== rowCount) throw new CommitError(`data files hold ${dataRows} rows but the shards report ${rowCount} scored`);
  const manifest: RunManifest = {
    kind: 'RunManifest',
    runId: plan.runId,
    job: plan.job,
    // No shards (an input without rows): the model was never read; its sha256 is the spec's, if given.
    model: { uri: plan.spec.model.uri, version: plan.spec.model.version, sha256: sha || (plan.spec.model.sha256 ?? '') },
    rowCount,
    failedRowCount: failed,
    inputRowCount: read,
    files,
    ...(partitionBy.length > 0 ? { partitionBy: [...partitionBy], partitions: partitionsOf(files) } : {}),
    startedAt: startedAt || plan.createdAt,
    // From the shard manifests, not the clock: a commit run again writes the same bytes.
    finishedAt: finishedAt || plan.createdAt,
    shards,
    ...(outputs ? { outputs } : {}),
    ...(outputs && baseline && monitoring ? {
      drift: {
        baseline: { uri: baseline.uri, runId: baseline.runId }, warnPSI: monitoring.warnPSI,
        ...(monitoring.failPSI !== undefined ? { failPSI: monitoring.failPSI } : {}),
        columns: driftOf(baseline.outputs, outputs),
      },
    } : {}),
  };
  return { manifest, promotions };
}

/** The partition folder of a shard's data file ('' without partitionBy); CommitError when the file's
 * partition does not match spec.output.partitionBy or is not the folder its values name. */
function partitionOf(f: OutputFile, partitionBy: readonly string[], m: ShardManifest): string {
  const where = `shard ${m.shard} attempt ${m.attempt}: data file ${f.path}`;
  if (partitionBy.length === 0) {
    if (f.partition) throw new CommitError(`${where} lies in partition ${f.partition.path}, but spec.output.partitionBy is not set`);
    return '';
  }
  if (!f.partition) throw new CommitError(`${where} has no partition, but spec.output.partitionBy is [${partitionBy.join(', ')}]`);
  const columns = Object.keys(f.partition.values);
  if (columns.length !== partitionBy.length || partitionBy.some((c) => !(c in f.partition!.values))) {
    throw new CommitError(`${where} is partitioned by [${columns.join(', ')}], not by spec.output.partitionBy [${partitionBy.join(', ')}]`);
  }
  const expected = partitionPath(partitionBy, partitionBy.map((c) => f.partition!.values[c]));
  if (f.partition.path !== expected || !f.path.startsWith(expected + '/')) {
    throw new CommitError(`${where} lies in ${f.partition.path}, but its values name the folder ${expected}`);
  }
  return expected;
}

/** The run's partitions, sorted by folder, with their rows and files. */
function partitionsOf(files: RunManifest['files']): RunPartition[] {
  const byPath = new Map<string, RunPartition>();
  for (const f of files) {
    if (f.kind !== 'data' || !f.partition) continue;
    let p = byPath.get(f.partition.path);
    if (!p) byPath.set(f.partition.path, (p = { ...f.partition, rowCount: 0, files: [] }));
    p.rowCount += f.rowCount;
    p.files.push(f.path);
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
