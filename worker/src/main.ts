/**
 * The worker process: one shard attempt. Reads its assignment (flags or BIJ_* environment), runs the
 * shard, leaves a JSON summary at the termination-message path and exits with a code the operator
 * understands: 0 done, 65 bad input (never retried), 75 worth retrying (see contract/process.ts).
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { parseShardPlan, BadInputError, NotFoundError, bestEffort, describeError, errorText, toJsonValue } from '../../core/src/contract/index.js';
import { openStorage } from '../../core/src/storage/index.js';
import { parseAssignment, type Assignment } from './assignment.js';
import { outcomeOf, writeTerminationLog } from './termination.js';
import { runShard } from './pipeline/run-shard.js';
import { runCommitted } from './pipeline/late-attempt.js';
import type { Storage } from '../../core/src/storage/types.js';
import { applyWorkerGcTuning, WORKER_V8_FLAGS } from './gc-tuning.js';
import { exitWithParent } from './parent-watch.js';

// Log fields go through the same JSON rules as every file and message (contract/json.ts).
const log = pino({
  name: 'bij-worker', level: process.env.BIJ_LOG_LEVEL ?? 'info',
  formatters: { log: (fields) => toJsonValue(fields) as Record<string, unknown> },
});

async function loadPlan(storage: Storage, uri: string) {
  let text: string;
  try {
    text = await storage.readText(uri);
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadInputError(`shard plan not found at ${uri}`, { cause: err });
    throw err;
  }
  return parseShardPlan(text, uri);
}

async function main(): Promise<number> {
  applyWorkerGcTuning(); // before any thread starts: they take the process's V8 flags
  exitWithParent(); // under the local runner: die with it
  let assignment: Assignment | undefined;
  let rows: { rowsRead?: number; rowsScored?: number; rowsFailed?: number } = {};
  let error: unknown;
  try {
    assignment = parseAssignment(process.argv.slice(2), process.env);
    const a = assignment;
    process.title = `bij-worker s${a.shard} a${a.attempt}`;
    const storage = openStorage({ s3: { endpoint: a.s3.endpoint || undefined, region: a.s3.region, forcePathStyle: a.s3.forcePathStyle } });
    const plan = await loadPlan(storage, a.planUri);
    if (a.runId && a.runId !== plan.runId) throw new BadInputError(`plan ${a.planUri} is for run ${plan.runId}, not ${a.runId}`);
    const shardLog = log.child({ run: plan.runId, shard: a.shard, attempt: a.attempt });
    // Best effort: a store hiccup here must not cost an attempt (the check after the last write stays).
    const committed = await bestEffort(runCommitted(storage, plan), (err) =>
      shardLog.warn({ err: errorText(err) }, 'could not check whether the run is already committed; scoring the shard (the commit keeps one attempt per shard)'), false);
    if (committed) {
      // A copy started after the commit (a slow pod, a node that came back): nothing left to do.
      shardLog.info('the run is already committed; nothing to do');
      writeTerminationLog(a.terminationLog, { outcome: 'succeeded', shard: a.shard, attempt: a.attempt, message: `run ${plan.runId} is already committed; nothing to do` });
      return 0;
    }
    shardLog.info({ rows: plan.shards.find((s) => s.index === a.shard)?.rows, v8Flags: WORKER_V8_FLAGS }, 'shard started');
    const { manifest, provider } = await runShard({
      storage, plan, shard: a.shard, attempt: a.attempt, writerToken: randomBytes(4).toString('hex'),
      progressIntervalMs: a.progressIntervalMs, decoders: a.decoders, overrides: a.overrides, log: (msg, fields) => shardLog.info(fields ?? {}, msg),
    });
    rows = { rowsRead: manifest.rows.read, rowsScored: manifest.rows.scored, rowsFailed: manifest.rows.failed };
    // Peak RSS of the worker process (its threads included): whether memory grows with the shard.
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    shardLog.info({ ...manifest.rows, provider, timings: manifest.timings, files: manifest.files.length, peakRssMiB }, 'shard done');
  } catch (err) {
    error = err;
  }
  const { code, summary } = outcomeOf(error, { shard: assignment?.shard, attempt: assignment?.attempt, ...rows });
  if (error !== undefined) log.error({ outcome: summary.outcome, err: describeError(error) }, summary.message);
  writeTerminationLog(assignment?.terminationLog ?? '/dev/termination-log', summary);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log.fatal({ err: describeError(err) }, 'worker crashed');
    process.exit(75);
  },
);
