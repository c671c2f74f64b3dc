/** Pure: merges the chosen shard manifests into the run manifest and the list of copies to make. */
import {
  committedDataPath, committedErrorsPath, joinUri, attemptPrefix,
  type RunManifest, type ShardManifest, type ShardPlan,
} from '../contract/index.js';

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
  for (const planned of plan.shards) {
    const m = byShard.get(planned.index);
    if (!m) throw new CommitError(`no shard manifest chosen for shard ${planned.index}`);
    if (m.rows.read !== planned.rows) {
      throw new CommitError(`shard ${planned.index} attempt ${m.attempt} read ${m.rows.read} rows but the plan has ${planned.rows}`);
    }
    const prefix = attemptPrefix(outputUri, plan.runId, m.shard, m.attempt);
    let dataPart = 0;
    let errorPart = 0;
    for (const f of m.files) {
      const path = f.kind === 'data' ? committedDataPath(m.shard, dataPart++) : committedErrorsPath(m.shard, errorPart++);
      files.push({ ...f, path, shard: m.shard });
      promotions.push({ from: joinUri(prefix, f.path), to: joinUri(outputUri, path), bytes: f.bytes });
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
    shards.push({ shard: m.shard, attempt: m.attempt, rows: m.rows, timings: m.timings, executionProvider: m.executionProvider });
  }
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
    startedAt: startedAt || plan.createdAt,
    // From the shard manifests, not the clock: a commit run again writes the same bytes.
    finishedAt: finishedAt || plan.createdAt,
    shards,
  };
  return { manifest, promotions };
}
