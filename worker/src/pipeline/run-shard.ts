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
import { AlreadyExistsError } from '../../../core/src/storage/errors.js';
import {
  BadInputError, attemptPrefix, binsUri, progressUri, shardManifestUri, toJson,
  type BatchSizeUsed, type ShardManifest, type ShardPlan, type StageTimings,
} from '../../../core/src/contract/index.js';
import { newReadStats, type PackedRows } from '../reader/index.js';
import { defaultDecoders, readShardParallelPacked } from './parallel-decode.js';
import { ErrorsWriter, openDataWriter, runFacts, type DataWriter } from '../writer/index.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';
import { availableCpus, createScoringSession, cudaProviderLibrary, type ExecutionProviderChoice, type ScoringSession } from '../session/index.js';
import { afterOom, afterTiming, startAutoBatch, type AutoBatchState } from '../session/auto-batch.js';
import { isOutOfMemory } from '../session/out-of-memory.js';
import { planScoring, unpackOutputs, type ScoringPlan, type DenseTensor } from '../tensors/index.js';
import { modelReadError } from '../../../core/src/tensors/model-info.js';
import { pipe } from './channel.js';
import { assembleOutput } from './assemble.js';
import { ProgressReporter } from './progress.js';
import { ShardOutputStats } from './output-stats.js';
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

/** Decoded batches aim at about this many bytes: large enough that the per-batch cost of moving data
 * out of the decoder thread is small, small enough to bound memory (a few batches are in flight). */
const DECODE_BATCH_BYTES = 8 << 20;
const DECODE_BATCH_MAX_ROWS = 1 << 16;

/**
 * Where the model will most likely run, known before it loads (the decoders start while it does):
 * on a GPU for `cuda`, and for `auto` in an image with onnxruntime's CUDA provider (the GPU image);
 * otherwise on the CPU. Only the default decoder count depends on it.
 */
export function modelPlace(provider: ExecutionProviderChoice): 'gpu' | 'cpu' {
  if (provider === 'cuda') return 'gpu';
  return provider === 'auto' && cudaProviderLibrary().installed ? 'gpu' : 'cpu';
}

/**
 * Rows per decoded batch. The model still runs spec.batchSize rows at a time (or what batchSize:
 * auto chose); decoding in larger batches only cuts overhead. List columns have no width known up
 * front, so they keep batchSize.
 */
export function decodeBatchRows(batchSize: number, columns: number, hasListInput: boolean): number {
  if (hasListInput) return batchSize;
  const rows = Math.floor(DECODE_BATCH_BYTES / (8 * Math.max(1, columns)));
  return Math.max(batchSize, Math.min(DECODE_BATCH_MAX_ROWS, rows));
}

/** batchSize: auto decodes as a batchSize of this many rows would (the wider the rows, the fewer). */
export const AUTO_DECODE_ROWS = 4096;

/**
 * Rows per decoded batch for spec.batchSize, and with auto the most rows per run the tuning may try:
 * a run never holds more rows than a decoded batch has.
 */
export function batchRows(batchSize: number | 'auto', columns: number, hasListInput: boolean): { decode: number; autoMax?: number } {
  if (batchSize !== 'auto') return { decode: decodeBatchRows(batchSize, columns, hasListInput) };
  const decode = decodeBatchRows(AUTO_DECODE_ROWS, columns, hasListInput);
  return { decode, autoMax: decode };
}

export async function loadModel(storage: Storage, uri: string): Promise<Uint8Array> {
  try {
    return await storage.read(uri);
  } catch (err) {
    throw modelReadError(uri, err);
  }
}

interface Scored {
  rows: PackedRows;
  outputs: Record<string, DenseTensor>;
}

export async function runShard(o: ShardRunOptions): Promise<ShardRunResult> {
  const { storage, plan, shard, attempt } = o;
  const spec = plan.spec;
  const planned = plan.shards.find((s) => s.index === shard);
  if (!planned) throw new BadInputError(`shard ${shard} is not in the plan of run ${plan.runId} (it has ${plan.shards.length} shards)`);
  const outputUri = spec.output.uri;
  const prefix = attemptPrefix(outputUri, plan.runId, shard, attempt);
  const log = o.log ?? (() => undefined);
  const startedAt = new Date();
  const maxFailedRows = o.overrides?.maxFailedRows ?? spec.maxFailedRows;
  const t0 = performance.now();
  const busy = { input: 0, infer: 0, unpack: 0, write: 0 };

  // Start-up runs side by side: the model loads (seconds on a GPU) while the first row groups are
  // fetched and decoded and the encoder thread starts, so the model's first batch is waiting for it.
  const sessionReady = (async () => createScoringSession(await loadModel(storage, spec.model.uri), {
    executionProvider: o.overrides?.executionProvider ?? spec.worker.executionProvider, modelUri: spec.model.uri,
    ...(plan.model
      ? { expectedSha256: plan.model.sha256, expectedFrom: `the sha256 run ${plan.runId} froze at planning (the file was replaced after the run started; rerun to score with the new model)` }
      : { expectedSha256: spec.model.sha256 }),
    intraOpThreads: o.intraOpThreads, thread: o.inferenceThread ?? true, transferBytes: true,
  }))();
  awaitedLater(sessionReady); // awaited below
  const encoder = new ParquetThread();
  awaitedLater(encoder.ping()); // a failure shows up on first use

  const keep = [spec.input.idColumn, ...(spec.input.passthroughColumns ?? [])];
  const mapped = Object.values(spec.model.inputs).flatMap((m) => (m.columns ? m.columns : [m.column as string]));
  const columns = [...new Set([...keep, ...mapped])];
  const hasList = Object.values(spec.model.inputs).some((m) => m.column !== undefined);
  const sizing = batchRows(spec.batchSize, columns.length, hasList);
  const decodeRows = sizing.decode;
  const decoders = o.decoders ?? defaultDecoders(availableCpus(), modelPlace(o.overrides?.executionProvider ?? spec.worker.executionProvider));
  const stats = newReadStats();
  // Decoding and packing happen in the decoder threads, which measure them there (summed over threads).
  const timingsNow = (): StageTimings => ({
    read: stats.ioSeconds, decode: seconds(busy.input), pack: seconds(1000 * stats.packSeconds), infer: seconds(busy.infer),
    unpack: seconds(busy.unpack), write: seconds(busy.write), total: seconds(performance.now() - t0),
    decodeThreads: seconds(1000 * (stats.threadSeconds - stats.packSeconds)),
  });
  // Prediction statistics of the output columns, in bins fixed for the whole run (output-stats.ts).
  const baseline = plan.monitoring?.baseline?.outputs ?? {};
  const outputStats = new ShardOutputStats(storage, binsUri(outputUri, plan.runId), Object.values(spec.model.outputs).map((m) => m.column),
    Object.fromEntries(Object.entries(baseline).map(([c, s]) => [c, s.histogram.layout])));
  const progress = new ProgressReporter(storage, progressUri(outputUri, plan.runId, shard, attempt),
    { shard, attempt, rowsTotal: planned.rows }, o.progressIntervalMs ?? 2000, timingsNow, () => outputStats.snapshot());
  const depth = o.queueDepth ?? 2;
  let scoring: ScoringPlan | undefined;
  let rowsRead = 0;
  let rowsScored = 0;
  let session: ScoringSession | undefined;
  let data: DataWriter | undefined;
  let errors: ErrorsWriter | undefined;
  const channels: { fail(err: unknown): void }[] = [];
  let tuning: AutoBatchState | undefined; // batchSize: auto, from the first score on
  const batchSizeUsed = (): BatchSizeUsed => {
    const fixed = scoring?.fixedBatch;
    if (spec.batchSize !== 'auto') return { chosen: fixed ?? spec.batchSize, auto: false };
    const t = tuning ?? startAutoBatch({ max: sizing.autoMax as number, fixedBatch: fixed });
    return { chosen: t.size, auto: true, ...(t.oom.length > 0 ? { outOfMemory: [...t.oom] } : {}) };
  };
  // The scoring plan of each file, for its decoder thread (it packs with it); the first one made is
  // the one scoring and unpacking use (their part of it, the outputs, does not depend on the file).
  const planFor = async (schema: arrow.Schema, file: { uri: string }): Promise<ScoringPlan> => {
    const model = await sessionReady;
    let p: ScoringPlan;
    try {
      p = planScoring(spec.model, model, schema);
    } catch (e) {
      throw e instanceof BadInputError ? new BadInputError(`input file ${file.uri}: ${e.message}`, { cause: e }) : e;
    }
    scoring ??= p;
    return p;
  };
  try {
    const decoded = pipe<PackedRows>(depth, async (send) => {
      const pack = { idColumn: spec.input.idColumn, keep, scoreInfinity: spec.model.scoreInfinity ?? false, planFor };
      for await (const rows of readShardParallelPacked(storage, { files: plan.files, ranges: planned.ranges },
        { columns, batchSize: decodeRows, readAhead: o.readAhead ?? 2, stats, decoders, pack })) {
        await send(rows);
      }
    });
    channels.push(decoded);
    const model = (session = await sessionReady);
    log('model loaded', {
      provider: model.provider, fallback: model.fallbackReason, sha256: model.sha256, threads: model.intraOpThreads, decoders,
      inferenceThread: model.inThread, threadFallback: model.threadFallbackReason,
    });
    const metadata = { runId: plan.runId, modelVersion: spec.model.version, modelSha256: model.sha256, shard, attempt };
    const common = { storage, prefix, writerToken: o.writerToken, targetFileBytes: spec.output.targetFileBytes, compression: spec.output.compression, metadata };
    // One encoder thread for both: error parts are small, and a second thread would start (a wasm
    // instance, a fresh isolate) at the first bad row.
    // Run columns and partition folders (spec.output.addColumns, partitionBy): data-writer.ts.
    data = openDataWriter({ ...common, thread: encoder, output: spec.output, facts: runFacts(plan, model.sha256) });
    errors = new ErrorsWriter({ ...common, idColumn: spec.input.idColumn, thread: encoder });
    progress.start();
    let inferEnd = 0;
    // batchSize: auto (session/auto-batch.ts): each score's report (rows per run, model time, runs
    // that ran out of memory and were retried smaller) moves the tuning on; the next score uses its size.
    const onReport = (r: { rows: number; size: number; ms: number; oom: number[] }): void => {
      if (!tuning) return;
      const was = tuning;
      for (const n of r.oom) tuning = afterOom(tuning, n);
      tuning = afterTiming(tuning, r);
      if (r.oom.length > 0) log('out of memory: smaller batches from now on', { outOfMemoryAt: r.oom, batchSize: tuning.size });
      else if (tuning.settled && !was.settled) log('batch size chosen', { batchSize: tuning.size, rowsPerMs: tuning.best?.rowsPerMs });
    };
    const scoreBatch = async (rows: PackedRows): Promise<Scored> => {
      const plan = scoring as ScoringPlan;
      if (sizing.autoMax !== undefined) tuning ??= startAutoBatch({ max: sizing.autoMax, fixedBatch: plan.fixedBatch });
      const maxBatch = tuning ? tuning.size : (spec.batchSize as number);
      const s = performance.now();
      // transfer: the packed tensors are not used after scoring (the thread takes their buffers).
      let outputs: Record<string, DenseTensor>;
      try {
        outputs = await model.score(plan, rows.packed, { maxBatch, transfer: true, shrinkOnOom: tuning !== undefined, onReport });
      } catch (e) {
        if (!isOutOfMemory(e)) throw e;
        const fix = plan.fixedBatch !== undefined ? `the model's fixed batch dimension (${plan.fixedBatch}) does not fit: use a device with more memory, or a model with a smaller or dynamic batch dimension`
          : tuning ? 'batchSize: auto backed off to one row, and even that does not fit: use a device with more memory, or a smaller model'
            : 'set a smaller spec.batchSize, or batchSize: auto (which backs off on out-of-memory errors)';
        throw new Error(`the model ran out of memory scoring shard ${shard} (rows per run: ${maxBatch}): ${fix}`, { cause: e });
      }
      const e = performance.now();
      busy.infer += e - Math.max(s, inferEnd); // scores may overlap (below): count the time the model was busy
      inferEnd = e;
      return { rows, outputs };
    };
    const scored = pipe<Scored>(depth, async (send) => {
      // Input wait: how long, once the model is ready, scoring waited for packed rows (the decoders'
      // own waits during the model load do not count: nothing was waiting for them then).
      // With the model in its own thread, the next batch is handed to it before this one's outputs are
      // sent on: it is queued there, and starts the moment the current run ends.
      const input = decoded[Symbol.asyncIterator]();
      let ahead: Promise<Scored> | undefined;
      for (;;) {
        const w = performance.now();
        const next = await input.next();
        busy.input += performance.now() - w;
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
    channels.push(scored);
    for await (const { rows: r, outputs } of scored) {
      const p = r.packed;
      const s = performance.now();
      const vectors = unpackOutputs(outputs, scoring as ScoringPlan);
      const pieces = assembleOutput(r.keep, keep, p.goodRows, vectors);
      await outputStats.add(vectors);
      busy.unpack += performance.now() - s;
      const w = performance.now();
      for (const piece of pieces) await data.write(piece);
      if (p.bad.rows.length > 0) {
        const reasons = Array.from(p.bad.reason, (k) => p.bad.reasons[k]);
        await errors.add(r.keep.getChild(spec.input.idColumn) as arrow.Vector, p.bad.rows, reasons);
      }
      busy.write += performance.now() - w;
      rowsRead += r.numRows;
      rowsScored += p.goodRows.length;
      progress.add(r.numRows);
      await shardHook('batch', shard, attempt); // a no-op unless a test installed one (hooks.ts)
      if (rowsRead - rowsScored > maxFailedRows) {
        // The run cannot succeed (the operator enforces the same limit across shards): stop now.
        throw new BadInputError(`shard ${shard} has ${rowsRead - rowsScored} rows that cannot be scored, more than `
          + `spec.maxFailedRows (${maxFailedRows}); first reasons: ${p.bad.reasons.slice(0, 3).join('; ')}`);
      }
    }
    if (rowsRead !== planned.rows) {
      throw new BadInputError(`shard ${shard} read ${rowsRead} rows but the plan has ${planned.rows}: the input changed after planning`);
    }
    const w = performance.now();
    const files = [...(await data.close()), ...(await errors.close())];
    busy.write += performance.now() - w;
    const outputsStats = await outputStats.finish();
    await progress.stop();
    const timings = timingsNow();
    const manifest: ShardManifest = {
      kind: 'ShardManifest', runId: plan.runId, shard, attempt, files,
      rows: { read: rowsRead, scored: rowsScored, failed: rowsRead - rowsScored },
      timings,
      model: { uri: spec.model.uri, version: spec.model.version, sha256: model.sha256 },
      executionProvider: model.provider,
      batchSize: batchSizeUsed(),
      startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), host: hostname(),
      outputs: outputsStats,
    };
    // Last: the manifest is what makes this attempt count. Everything it lists is complete.
    // If-none-match: when Kubernetes ran two copies of this attempt, the first manifest stays; the
    // other copy's files are never listed, so the commit ignores them and the cleanup removes them.
    await shardHook('before-manifest', shard, attempt); // a no-op unless a test installed one
    let duplicate = false;
    try {
      await storage.write(shardManifestUri(outputUri, plan.runId, shard, attempt), toJson(manifest, 2) + '\n',
        { contentType: 'application/json', ifNoneMatch: true });
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      log('another copy of this attempt already wrote its manifest; this copy\'s files will be discarded');
      duplicate = true;
    }
    // After the last write: if the run was committed meanwhile, nobody will clean up after us.
    const committed = await bestEffort(runCommitted(storage, plan), (e) => log(
      'cannot tell whether the run was committed while this attempt ran; its files stay',
      { error: errorText(e) }), false);
    if (committed) {
      log('the run was committed while this attempt ran; removing its files', { prefix });
      await discardAttempt(storage, prefix);
      return { manifest, provider: model.provider, duplicate, discarded: true };
    }
    return { manifest, provider: model.provider, ...(duplicate ? { duplicate } : {}) };
  } catch (err) {
    // Stop every stage (producers blocked on a full channel wake up and end), then drop partial files.
    for (const c of channels) c.fail(err);
    await Promise.allSettled([data?.abort(), errors?.abort(), progress.stop()]);
    throw err;
  } finally {
    await Promise.allSettled([(session ?? (await sessionReady.catch(() => undefined)))?.release(), encoder.terminate()]);
  }
}
