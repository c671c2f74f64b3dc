/**
 * The commit: the only code that makes a run's output visible. Steps, each safe to repeat:
 *   1. if _SUCCESS already names this run, stop (the commit happened);
 *   2. remove a _SUCCESS (and _manifest.json) of another run, so no reader trusts a mix;
 *   3. read the chosen shard manifests and merge them (pure, merge.ts);
 *   4. copy each chosen attempt file to its deterministic committed name;
 *   5. delete committed-looking files that do not belong to this run (leftovers of older runs), in
 *      partition folders too;
 *   6. write _manifest.json, then _SUCCESS last;
 *   7. delete the run's attempt files (losers and winners) and abort its open uploads.
 * A crash anywhere before 6 leaves no _SUCCESS; running the commit again gives the same result.
 */
import type { Storage } from '../../../core/src/storage/types.js';
import { mapLimit } from '../../../core/src/storage/retry.js';
import {
  NotFoundError, RunManifestSchema, checkShardManifest, joinUri, keyUri, relativeKey, runManifestUri, shardManifestUri,
  successUri, runPrefix, readSuccessMarker, toJson, type RowCounts, type RunManifest, type ShardManifest, type ShardPlan, type SuccessMarker,
} from '../../../core/src/contract/index.js';
import { CommitError, mergeManifests } from './merge.js';
import { inputFileGuard } from '../planner/overlap.js';

export { CommitError };

export interface CommitOptions {
  /** Copies in flight at once. */
  concurrency?: number;
  now?: () => Date;
  /** Throws unless this run still owns the output (commit/claim.ts checkFence): called before the
   * first change to the output, before the copies, and before _manifest.json and _SUCCESS. */
  fence?: () => Promise<void>;
  /** Test hook: called after each numbered step, so a test can crash the commit between steps. */
  afterStep?: (step: number) => Promise<void> | void;
}

/** The committed run manifest (`_manifest.json`). */
export async function readRunManifest(storage: Storage, outputUri: string): Promise<RunManifest> {
  return RunManifestSchema.parse(JSON.parse(await storage.readText(runManifestUri(outputUri))));
}

/** A run manifest's row counts, as the status reports them. */
export const committedRowsOf = (m: RunManifest): RowCounts =>
  ({ read: m.inputRowCount, scored: m.rowCount, failed: m.failedRowCount });

export async function readShardManifest(storage: Storage, plan: ShardPlan, shard: number, attempt: number): Promise<ShardManifest> {
  const uri = shardManifestUri(plan.spec.output.uri, plan.runId, shard, attempt);
  let text: string;
  try {
    text = await storage.readText(uri);
  } catch (err) {
    if (err instanceof NotFoundError) throw new CommitError(`shard manifest ${uri} is gone (deleted outside the operator?)`, { cause: err });
    throw err; // I/O: retried
  }
  const { manifest, problem } = checkShardManifest(text, { runId: plan.runId, shard, attempt });
  if (problem !== undefined) throw new CommitError(`shard manifest ${uri} ${problem}`);
  return manifest;
}

/** Committed data files look like part-s00003-00000.parquet at the top level or under partition folders
 * (`col=value/`, never `_` or `.` folders: hive-path.ts escapes `=` and `/` inside names and values),
 * errors under _errors/. */
const COMMITTED = /^((?:[^/_.][^/=]*=[^/]*\/)*part-s\d+-\d+\.parquet|_errors\/part-s\d+-\d+\.parquet)$/;

export async function commitRun(
  storage: Storage,
  plan: ShardPlan,
  chosen: { shard: number; attempt: number }[],
  options: CommitOptions = {},
): Promise<RunManifest> {
  const outputUri = plan.spec.output.uri;
  const now = options.now ?? (() => new Date());
  const step = async (n: number) => options.afterStep?.(n);

  const marker = await readSuccessMarker(storage, outputUri);
  if (marker?.runId === plan.runId) {
    // Committed already; a crash may have come before the cleanup (step 7), so finish that.
    const done = await readRunManifest(storage, outputUri);
    await cleanupRun(storage, outputUri, plan.runId);
    return done;
  }
  await step(1);
  const fence = options.fence ?? (async () => undefined);
  await fence();
  if (await storage.exists(successUri(outputUri))) await storage.delete(successUri(outputUri));
  await step(2);

  const manifests = await Promise.all(chosen.map((c) => readShardManifest(storage, plan, c.shard, c.attempt)));
  const { manifest, promotions } = mergeManifests(plan, manifests);
  await step(3);

  // Never overwrite or delete an input file, whatever the spec said (a symlink made after planning).
  const isInput = await inputFileGuard(plan.files.map((f) => f.uri));
  await mapLimit(promotions, options.concurrency ?? 16, async (p) => {
    if (await isInput(p.to)) throw new CommitError(`refusing to commit ${p.to}: it is an input file of this run (${plan.spec.input.uri})`);
  });
  await fence();
  await mapLimit(promotions, options.concurrency ?? 16, (p) => storage.copy(p.from, p.to));
  await step(4);

  const keep = new Set(manifest.files.map((f) => f.path));
  const stale: string[] = [];
  const base = outputUri.replace(/\/+$/, '') + '/';
  for await (const o of storage.list(base)) {
    const rel = relativeKey(base, o.uri);
    if (COMMITTED.test(rel) && !keep.has(rel) && !(await isInput(o.uri))) stale.push(o.uri);
  }
  await mapLimit(stale, options.concurrency ?? 16, (uri) => storage.delete(uri));
  await step(5);

  await verifyCommitted(storage, outputUri, manifest, options.concurrency ?? 16);
  await fence();
  await storage.write(runManifestUri(outputUri), toJson(manifest, 2) + '\n', { contentType: 'application/json' });
  await step(6);
  await fence();
  const success: SuccessMarker = { runId: plan.runId, manifest: runManifestUri(outputUri), committedAt: now().toISOString() };
  await storage.write(successUri(outputUri), toJson(success) + '\n', { contentType: 'application/json' });
  await step(7);

  await cleanupRun(storage, outputUri, plan.runId);
  return manifest;
}

/** Every file the run manifest lists is there with the size its shard recorded; else CommitError
 * (never _SUCCESS over a missing or cut file). */
async function verifyCommitted(storage: Storage, outputUri: string, manifest: RunManifest, concurrency: number): Promise<void> {
  await mapLimit(manifest.files, concurrency, async (f) => {
    const uri = keyUri(outputUri, f.path);
    let info;
    try {
      info = await storage.stat(uri);
    } catch (err) {
      if (err instanceof NotFoundError) throw new CommitError(`${uri} is missing after its copy; the output is not complete`, { cause: err });
      throw err;
    }
    if (info.size !== f.bytes) throw new CommitError(`${uri} holds ${info.size} bytes, but its shard wrote ${f.bytes}; the output is not complete`);
  });
}

/** Deletes a committed run's attempt files and aborts its open uploads; keeps plan.json for audit. Idempotent. */
export async function cleanupRun(storage: Storage, outputUri: string, runId: string): Promise<void> {
  const shardsRoot = joinUri(runPrefix(outputUri, runId), 'shards') + '/';
  await storage.abortUploads(shardsRoot);
  await storage.deletePrefix(shardsRoot);
}

/** Deletes everything of a run that will not be committed (deleted job, changed spec), plan.json
 * included: a later run with the same id (the spec changed back) must plan afresh, not reuse a plan
 * of files that may have changed since. Idempotent. */
export async function discardRun(storage: Storage, outputUri: string, runId: string): Promise<void> {
  const root = runPrefix(outputUri, runId) + '/';
  await storage.abortUploads(root);
  await storage.deletePrefix(root);
}
