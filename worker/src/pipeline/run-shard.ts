/**
 * One shard attempt, as a chain of stages joined by bounded channels (backpressure everywhere):
 *
 *   read+decode+pack (decoder threads, read-ahead: the main thread receives tensors ready to score)
 *   -> infer (ONNX Runtime in a thread of its own, next batch queued there) -> assemble + write
 *   (Parquet encode in the writer's thread) -> storage
 *
 * While the model runs a batch, the next row groups are fetched and decoded and the previous results
 * are encoded, so the model is not left waiting on I/O. Everything is written under the attempt's own
 * prefix; the shard manifest is written last, and only after every file is complete.
 */
import { hostname } from 'node:os';
import * as arrow from 'apache-arrow';
import type { Storage } from '../../../core/src/storage/types.js';
import { AlreadyExistsError } from '../../../core/src/storage/backend-errors.js';
import {
  BadInputError, attemptPrefix, binsUri, progressUri, shardManifestUri, toJson,
  type BatchSizeUsed, type ShardManifest, type ShardPlan, type StageTimings,
} from '../../../core/src/contract/index.js';
import { newReadStats, type PackedRows } from '../reader/index.js';
import { defaultDecoders, defaultModelThreads, readShardParallelPacked } from './parallel-decode.js';
import { ErrorsWriter, openDataWriter, runFacts, type DataWriter } from '../writer/index.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';
import { availableCpus, createScoringSession, type ScoringSession } from '../session/index.js';
import { afterOom, afterTiming, startAutoBatch, type AutoBatchState } from '../session/auto-batch.js';
import { isOutOfMemory } from '../session/out-of-memory.js';
import { planScoring, unpackOutputs, type ScoringPlan, type DenseTensor } from '../tensors/index.js';
import { pipe } from './channel.js';
import { batchRows, loadModel, modelPlace } from './shard-sizing.js';
import { assembleOutput } from './assemble.js';
import { ProgressReporter } from './progress.js';
import { ShardOutputStats } from './shard-output-stats.js';
import { shardHook } from '../hooks.js';
import { discardAttempt, runCommitted } from './late-attempt.js';
import { awaitedLater, bestEffort, errorText } from '../../../core/src/contract/settle.js';

export interface ShardRunOptions {
  storage: Storage;
  plan: ShardPlan;
  shard: number;
  attempt: number;
  /** Random per process: two copies of one attempt never write the same key. */
  writerToken: string;
  progressIntervalMs?: number;
  /** Batches waiting between two stages. */
  queueDepth?: number;
  /** Row groups fetched and decoded ahead of the one being read. */
  readAhead?: number;
  /** Decoder threads (default: defaultDecoders of the CPUs this process may use and modelPlace). */
  decoders?: number;
  intraOpThreads?: number;
  /** Run ONNX Runtime in a worker thread of its own (default true): the main thread packs, unpacks and
   * serves reads while the model runs. False: in process (onnxruntime's run blocks the main thread). */
  inferenceThread?: boolean;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** The current spec's values of settings that may change mid-run (default: the plan's). */
  overrides?: { maxFailedRows?: number; executionProvider?: 'cuda' | 'cpu' | 'auto' };
}

export interface ShardRunResult {
  manifest: ShardManifest;
  provider: string;
  /** Another copy of the same attempt had already written its manifest (this one's work is unused). */
  duplicate?: boolean;
  /** The run was committed before this attempt finished: its files were removed (late-attempt.ts). */
  discarded?: boolean;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** What the stages of one attempt share: its identity, settings, clocks and counters. */
interface Attempt {
  o: ShardRunOptions;
  spec: ShardPlan['spec'];
  planned: ShardPlan['shards'][number];
  prefix: string;
  log: NonNullable<ShardRunOptions['log']>;
  startedAt: Date;
  maxFailedRows: number;
  /** Milliseconds the main thread spent per stage (the decoder threads count their own in `stats`). */
  busy: { input: number; infer: number; unpack: number; write: number };
  stats: ReturnType<typeof newReadStats>;
  /** The id and passthrough columns, and every column read. */
  keep: string[];
  columns: string[];
  sizing: ReturnType<typeof batchRows>;
  decoders: number;
  depth: number;
  sessionReady: Promise<ScoringSession>;
  encoder: ParquetThread;
  outputStats: ShardOutputStats;
  progress: ProgressReporter;
  timingsNow: () => StageTimings;
  /** The scoring plan (set by the first file's planFor) and, with batchSize: auto, the tuning. */
  scoring?: ScoringPlan;
  tuning?: AutoBatchState;
}

interface Scored {
  rows: PackedRows;
  outputs: Record<string, DenseTensor>;
}

export async function runShard(o: ShardRunOptions): Promise<ShardRunResult> {
  const a = startAttempt(o);
  let session: ScoringSession | undefined;
  let data: DataWriter | undefined;
  let errors: ErrorsWriter | undefined;
  const channels: { fail(err: unknown): void }[] = [];
  try {
    const decoded = decodeStage(a);
    channels.push(decoded);
    const model = (session = await a.sessionReady);
    a.log('model loaded', {
      provider: model.provider, fallback: model.fallbackReason, sha256: model.sha256, threads: model.intraOpThreads, decoders: a.decoders,
      inferenceThread: model.inThread, threadFallback: model.threadFallbackReason,
    });
    const metadata = { runId: o.plan.runId, modelVersion: a.spec.model.version, modelSha256: model.sha256, shard: o.shard, attempt: o.attempt };
    const common = { storage: o.storage, prefix: a.prefix, writerToken: o.writerToken, targetFileBytes: a.spec.output.targetFileBytes, compression: a.spec.output.compression, metadata };
    // One encoder thread for both: error parts are small, and a second thread would start (a wasm
    // instance, a fresh isolate) at the first bad row.
    // Run columns and partition folders (spec.output.addColumns, partitionBy): data-writer.ts.
    data = openDataWriter({ ...common, thread: a.encoder, output: a.spec.output, facts: runFacts(o.plan, model.sha256) });
    errors = new ErrorsWriter({ ...common, idColumn: a.spec.input.idColumn, thread: a.encoder });
    a.progress.start();
    const scored = scoreStage(a, decoded, model);
    channels.push(scored);
    const rows = await writeStage(a, scored, data, errors);
    return await finishAttempt(a, model, rows, [...(await timed(a, 'write', () => data!.close())), ...(await timed(a, 'write', () => errors!.close()))]);
  } catch (err) {
    // Stop every stage (producers blocked on a full channel wake up and end), then drop partial files.
    for (const c of channels) c.fail(err);
    await Promise.allSettled([data?.abort(), errors?.abort(), a.progress.stop()]);
    throw err;
  } finally {
    await Promise.allSettled([(session ?? (await bestEffort(a.sessionReady, () => undefined)))?.release(), a.encoder.terminate()]);
  }
}

/** The attempt's settings and clocks; the model starts loading and the encoder thread starting. */
function startAttempt(o: ShardRunOptions): Attempt {
  const { storage, plan, shard, attempt } = o;
  const spec = plan.spec;
  const planned = plan.shards.find((s) => s.index === shard);
  if (!planned) throw new BadInputError(`shard ${shard} is not in the plan of run ${plan.runId} (it has ${plan.shards.length} shards)`);
  const outputUri = spec.output.uri;
  const t0 = performance.now();
  const busy = { input: 0, infer: 0, unpack: 0, write: 0 };
  const provider = o.overrides?.executionProvider ?? spec.worker.executionProvider;
  const cpus = availableCpus();
  const place = modelPlace(provider);
  const decoders = o.decoders ?? defaultDecoders(cpus, place);

  // Start-up runs side by side: the model loads (seconds on a GPU) while the first row groups are
  // fetched and decoded and the encoder thread starts, so the model's first batch is waiting for it.
  const sessionReady = awaitedLater((async () => createScoringSession(await loadModel(storage, spec.model.uri), {
    executionProvider: provider, modelUri: spec.model.uri,
    ...(plan.model
      ? { expectedSha256: plan.model.sha256, expectedFrom: `the sha256 run ${plan.runId} froze at planning (the file was replaced after the run started; rerun to score with the new model)` }
      : { expectedSha256: spec.model.sha256 }),
    intraOpThreads: o.intraOpThreads ?? defaultModelThreads(cpus, place, decoders), thread: o.inferenceThread ?? true, transferBytes: true,
  }))());
  const encoder = new ParquetThread();
  awaitedLater(encoder.ping()); // a failure shows up on first use

  const keep = [spec.input.idColumn, ...(spec.input.passthroughColumns ?? [])];
  const mapped = Object.values(spec.model.inputs).flatMap((m) => (m.columns ? m.columns : [m.column as string]));
  const columns = [...new Set([...keep, ...mapped])];
  const hasList = Object.values(spec.model.inputs).some((m) => m.column !== undefined);
  const stats = newReadStats();
  // Decoding and packing happen in the decoder threads, which measure them there (summed over threads).
  const timingsNow = (): StageTimings => ({
    read: stats.ioSeconds, decode: seconds(busy.input), pack: seconds(1000 * stats.packSeconds), infer: seconds(busy.infer),
    unpack: seconds(busy.unpack), write: seconds(busy.write), total: seconds(performance.now() - t0),
    decodeThreads: seconds(1000 * (stats.threadSeconds - stats.packSeconds)),
  });
  // Prediction statistics of the output columns, in bins fixed for the whole run (shard-output-stats.ts).
  const baseline = plan.monitoring?.baseline?.outputs ?? {};
  const outputStats = new ShardOutputStats(storage, binsUri(outputUri, plan.runId), Object.values(spec.model.outputs).map((m) => m.column),
    Object.fromEntries(Object.entries(baseline).map(([c, s]) => [c, s.histogram.layout])));
  const progress = new ProgressReporter(storage, progressUri(outputUri, plan.runId, shard, attempt),
    { shard, attempt, rowsTotal: planned.rows }, o.progressIntervalMs ?? 2000, timingsNow, () => outputStats.snapshot());
  return {
    o, spec, planned, prefix: attemptPrefix(outputUri, plan.runId, shard, attempt), log: o.log ?? (() => undefined), startedAt: new Date(),
    maxFailedRows: o.overrides?.maxFailedRows ?? spec.maxFailedRows, busy, stats, keep, columns,
    sizing: batchRows(spec.batchSize, columns.length, hasList),
    decoders,
    depth: o.queueDepth ?? 2, sessionReady, encoder, outputStats, progress, timingsNow,
  };
}

/** Stage 1: fetch, decode and pack the shard's row groups in the decoder threads. */
function decodeStage(a: Attempt) {
  const { o, spec } = a;
  // The scoring plan of each file, for its decoder thread (it packs with it); the first one made is
  // the one scoring and unpacking use (their part of it, the outputs, does not depend on the file).
  const planFor = async (schema: arrow.Schema, file: { uri: string }): Promise<ScoringPlan> => {
    const model = await a.sessionReady;
    let p: ScoringPlan;
    try {
      p = planScoring(spec.model, model, schema);
    } catch (e) {
      throw e instanceof BadInputError ? new BadInputError(`input file ${file.uri}: ${e.message}`, { cause: e }) : e;
    }
    a.scoring ??= p;
    return p;
  };
  return pipe<PackedRows>(a.depth, async (send) => {
    const pack = { idColumn: spec.input.idColumn, keep: a.keep, scoreInfinity: spec.model.scoreInfinity ?? false, planFor };
    for await (const rows of readShardParallelPacked(o.storage, { files: o.plan.files, ranges: a.planned.ranges },
      { columns: a.columns, batchSize: a.sizing.decode, readAhead: o.readAhead ?? 2, stats: a.stats, decoders: a.decoders, pack })) {
      await send(rows);
    }
  });
}

/** Stage 2: the model. With the model in its own thread, the next batch is handed to it before this
 * one's outputs are sent on: it is queued there, and starts the moment the current run ends. */
function scoreStage(a: Attempt, decoded: AsyncIterable<PackedRows>, model: ScoringSession) {
  const scoreBatch = batchScorer(a, model);
  return pipe<Scored>(a.depth, async (send) => {
    // Input wait: how long, once the model is ready, scoring waited for packed rows (the decoders'
    // own waits during the model load do not count: nothing was waiting for them then).
    const input = decoded[Symbol.asyncIterator]();
    let ahead: Promise<Scored> | undefined;
    for (;;) {
      const w = performance.now();
      const next = await input.next();
      a.busy.input += performance.now() - w;
      if (next.done) break;
      const scoring = scoreBatch(next.value);
      if (!model.inThread) {
        await send(await scoring);
        continue;
      }
      awaitedLater(scoring); // awaited below, after the batch ahead of it
      if (ahead) await send(await ahead);
      ahead = scoring;
    }
    if (ahead) await send(await ahead);
  });
}

/** Scores one packed batch, at spec.batchSize rows per run or what batchSize: auto has chosen so far. */
function batchScorer(a: Attempt, model: ScoringSession): (rows: PackedRows) => Promise<Scored> {
  const { spec, o } = a;
  let inferEnd = 0;
  // batchSize: auto (session/auto-batch.ts): each score's report (rows per run, model time, runs
  // that ran out of memory and were retried smaller) moves the tuning on; the next score uses its size.
  const onReport = (r: { rows: number; size: number; ms: number; oom: number[] }): void => {
    if (!a.tuning) return;
    const was = a.tuning;
    for (const n of r.oom) a.tuning = afterOom(a.tuning, n);
    a.tuning = afterTiming(a.tuning, r);
    if (r.oom.length > 0) a.log('out of memory: smaller batches from now on', { outOfMemoryAt: r.oom, batchSize: a.tuning.size });
    else if (a.tuning.settled && !was.settled) a.log('batch size chosen', { batchSize: a.tuning.size, rowsPerMs: a.tuning.best?.rowsPerMs });
  };
  return async (rows) => {
    const plan = a.scoring as ScoringPlan;
    if (a.sizing.autoMax !== undefined) a.tuning ??= startAutoBatch({ max: a.sizing.autoMax, fixedBatch: plan.fixedBatch });
    const maxBatch = a.tuning ? a.tuning.size : (spec.batchSize as number);
    const s = performance.now();
    // transfer: the packed tensors are not used after scoring (the thread takes their buffers).
    let outputs: Record<string, DenseTensor>;
    try {
      outputs = await model.score(plan, rows.packed, { maxBatch, transfer: true, shrinkOnOom: a.tuning !== undefined, onReport });
    } catch (e) {
      if (!isOutOfMemory(e)) throw e;
      const fix = plan.fixedBatch !== undefined ? `the model's fixed batch dimension (${plan.fixedBatch}) does not fit: use a device with more memory, or a model with a smaller or dynamic batch dimension`
        : a.tuning ? 'batchSize: auto backed off to one row, and even that does not fit: use a device with more memory, or a smaller model'
          : 'set a smaller spec.batchSize, or batchSize: auto (which backs off on out-of-memory errors)';
      throw new Error(`the model ran out of memory scoring shard ${o.shard} (rows per run: ${maxBatch}): ${fix}`, { cause: e });
    }
    const e = performance.now();
    a.busy.infer += e - Math.max(s, inferEnd); // scores may overlap (above): count the time the model was busy
    inferEnd = e;
    return { rows, outputs };
  };
}

/** Stage 3: unpack, assemble with the kept columns, count statistics, write parts and error rows. */
async function writeStage(a: Attempt, scored: AsyncIterable<Scored>, data: DataWriter, errors: ErrorsWriter): Promise<{ read: number; scored: number }> {
  const { spec, o } = a;
  let read = 0;
  let good = 0;
  for await (const { rows: r, outputs } of scored) {
    const p = r.packed;
    const s = performance.now();
    const vectors = unpackOutputs(outputs, a.scoring as ScoringPlan);
    const pieces = assembleOutput(r.keep, a.keep, p.goodRows, vectors);
    await a.outputStats.add(vectors);
    a.busy.unpack += performance.now() - s;
    await timed(a, 'write', async () => {
      for (const piece of pieces) await data.write(piece);
      if (p.bad.rows.length > 0) {
        const reasons = Array.from(p.bad.reason, (k) => p.bad.reasons[k]);
        await errors.add(r.keep.getChild(spec.input.idColumn) as arrow.Vector, p.bad.rows, reasons);
      }
    });
    read += r.numRows;
    good += p.goodRows.length;
    a.progress.add(r.numRows);
    await shardHook('batch', o.shard, o.attempt); // a no-op unless a test installed one (hooks.ts)
    if (read - good > a.maxFailedRows) {
      // The run cannot succeed (the operator enforces the same limit across shards): stop now.
      throw new BadInputError(`shard ${o.shard} has ${read - good} rows that cannot be scored, more than `
        + `spec.maxFailedRows (${a.maxFailedRows}); first reasons: ${p.bad.reasons.slice(0, 3).join('; ')}`);
    }
  }
  if (read !== a.planned.rows) {
    throw new BadInputError(`shard ${o.shard} read ${read} rows but the plan has ${a.planned.rows}: the input changed after planning`);
  }
  return { read, scored: good };
}

/** Last: the shard manifest, which makes this attempt count (everything it lists is complete); then,
 * if the run was committed meanwhile, this attempt's files go (nobody else would clean up after it). */
async function finishAttempt(a: Attempt, model: ScoringSession, rows: { read: number; scored: number }, files: ShardManifest['files']): Promise<ShardRunResult> {
  const { o, spec } = a;
  const { storage, plan, shard, attempt } = o;
  const outputsStats = await a.outputStats.finish();
  await a.progress.stop();
  const manifest: ShardManifest = {
    kind: 'ShardManifest', runId: plan.runId, shard, attempt, files,
    rows: { read: rows.read, scored: rows.scored, failed: rows.read - rows.scored },
    timings: a.timingsNow(),
    model: { uri: spec.model.uri, version: spec.model.version, sha256: model.sha256 },
    executionProvider: model.provider,
    batchSize: batchSizeUsed(a),
    startedAt: a.startedAt.toISOString(), finishedAt: new Date().toISOString(), host: hostname(),
    outputs: outputsStats,
  };
  // If-none-match: when Kubernetes ran two copies of this attempt, the first manifest stays; the
  // other copy's files are never listed, so the commit ignores them and the cleanup removes them.
  await shardHook('before-manifest', shard, attempt); // a no-op unless a test installed one
  let duplicate = false;
  try {
    await storage.write(shardManifestUri(spec.output.uri, plan.runId, shard, attempt), toJson(manifest, 2) + '\n',
      { contentType: 'application/json', ifNoneMatch: true });
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
    a.log('another copy of this attempt already wrote its manifest; this copy\'s files will be discarded');
    duplicate = true;
  }
  const committed = await bestEffort(runCommitted(storage, plan), (e) => a.log(
    'cannot tell whether the run was committed while this attempt ran; its files stay',
    { error: errorText(e) }), false);
  if (committed) {
    a.log('the run was committed while this attempt ran; removing its files', { prefix: a.prefix });
    await discardAttempt(storage, a.prefix);
    // And the run's bins.json: a copy whose first batch came after the commit's cleanup wrote it anew
    // (nothing reads it once the run is committed).
    await storage.delete(binsUri(spec.output.uri, plan.runId));
    return { manifest, provider: model.provider, duplicate, discarded: true };
  }
  return { manifest, provider: model.provider, ...(duplicate ? { duplicate } : {}) };
}

/** The rows per run this attempt used: spec.batchSize, a fixed batch dimension, or what auto chose. */
function batchSizeUsed(a: Attempt): BatchSizeUsed {
  const fixed = a.scoring?.fixedBatch;
  if (a.spec.batchSize !== 'auto') return { chosen: fixed ?? a.spec.batchSize, auto: false };
  const t = a.tuning ?? startAutoBatch({ max: a.sizing.autoMax as number, fixedBatch: fixed });
  return { chosen: t.size, auto: true, ...(t.oom.length > 0 ? { outOfMemory: [...t.oom] } : {}) };
}

/** Runs `fn`, counting its time to the main thread's `stage`. */
async function timed<T>(a: Attempt, stage: keyof Attempt['busy'], fn: () => Promise<T>): Promise<T> {
  const s = performance.now();
  try {
    return await fn();
  } finally {
    a.busy[stage] += performance.now() - s;
  }
}
