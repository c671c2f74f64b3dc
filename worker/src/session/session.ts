/**
 * The onnxruntime-node session: checks the model's sha256, picks the execution provider, reads the
 * model's input/output metadata, and runs packed tensors (fixed batch sizes included).
 *
 * Execution providers: onnxruntime-node does not fall back by itself. A session asked for
 * ['cuda', 'cpu'] fails outright when the CUDA provider cannot be loaded, so 'auto' tries CUDA alone
 * and, when that fails, creates a CPU session. The npm package ships its CUDA provider library
 * (libonnxruntime_providers_cuda.so) only when installed with ONNXRUNTIME_NODE_INSTALL=cuda12; 'auto'
 * skips the attempt when that library is missing (onnxruntime would log an error line for it).
 *
 * Where it runs: in process (onnxruntime's run then blocks the main thread while it works), or, with
 * `thread: true`, in a worker thread of its own (inference-thread.ts), so that the main thread keeps
 * packing, unpacking and serving reads while the model runs. Both give the same results and errors.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { BadInputError } from '../../../core/src/contract/index.js';
import { scoreInBatches } from '../tensors/batch.js';
import type { PackedBatch } from '../../../core/src/tensors/pack.js';
import type { ScoringPlan } from '../../../core/src/tensors/scoring-plan.js';
import type { DenseTensor, ModelMeta, PackedTensor, ValueMeta } from '../../../core/src/tensors/types.js';
import { availableCpus } from './threads.js';
import { InferenceThread, InferenceThreadError, toWire, type RawValueMeta, type ScoreReport } from './inference-thread.js';
import { retrySmallerOnOom } from './auto-batch.js';
import { ortTensorOf } from './ort-tensor.js';

export type { ScoreReport } from './inference-thread.js';

export type ExecutionProviderChoice = 'cuda' | 'cpu' | 'auto';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface ScoringSessionOptions {
  executionProvider: ExecutionProviderChoice;
  /** Where the bytes came from; used in messages only. */
  modelUri: string;
  /** The session refuses bytes with another hash: the plan's frozen sha256, or spec.model.sha256. */
  expectedSha256?: string;
  /** Where expectedSha256 comes from, for the message. Default: spec.model.sha256. */
  expectedFrom?: string;
  /** Default: the CPUs available to the process (cgroup quota included). */
  intraOpThreads?: number;
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** 'auto' only: skip the CUDA attempt when the CUDA provider library is not installed (default true). */
  cudaLibraryCheck?: boolean;
  /**
   * Run onnxruntime in a worker thread of its own (default false: in process). When onnxruntime-node
   * cannot be loaded in a thread, the session runs in process and `threadFallbackReason` says why.
   */
  thread?: boolean;
  /** The caller hands `bytes` over: the thread path transfers them (they are detached) instead of copying. */
  transferBytes?: boolean;
  /** Tests only: the onnxruntime-node entry point the thread loads. */
  threadOrtPath?: string;
  /** Tests only: the thread's module file and its workerData.test (inference-thread.ts ThreadOptions). */
  threadEntry?: URL;
  threadTest?: unknown;
}

export interface ScoreOptions {
  /** Without a fixed batch size, at most this many rows per run. */
  maxBatch?: number;
  /** The caller hands `packed.tensors` over: the thread path transfers their buffers (they are
   * detached afterwards) instead of copying them. No effect in process. */
  transfer?: boolean;
  /** Without a fixed batch size: a run that runs out of memory is retried with half its rows (the
   * runs before it are kept), down to one row (auto-batch.ts). Default false: the error is thrown. */
  shrinkOnOom?: boolean;
  /** Called with what the score did (rows per run, model time, runs that ran out of memory). */
  onReport?: (report: ScoreReport) => void;
}

export interface ScoringSession extends ModelMeta {
  /** The provider actually used. */
  readonly provider: ExecutionProvider;
  /** With 'auto' on CPU: why CUDA was not used (for the log). */
  readonly fallbackReason?: string;
  /** Hex sha256 of the model's bytes. */
  readonly sha256: string;
  readonly modelUri: string;
  readonly intraOpThreads: number;
  /** True when onnxruntime runs in a worker thread of its own. */
  readonly inThread: boolean;
  /** `thread` was asked for but onnxruntime-node could not be loaded in a thread: why. */
  readonly threadFallbackReason?: string;
  /** The inference thread, when there is one (diagnostics and tests). */
  readonly thread?: InferenceThread;
  /** Runs the model. Only `outputNames` are computed (default: every output). */
  run(feeds: Readonly<Record<string, DenseTensor>>, outputNames?: readonly string[]): Promise<Record<string, DenseTensor>>;
  /**
   * Runs a packed batch through the model, following the plan: fixed batch sizes are honoured
   * (zero-padded), and zero rows still give outputs (with zero rows). Returns the mapped outputs.
   */
  score(plan: ScoringPlan, packed: PackedBatch, options?: ScoreOptions): Promise<Record<string, DenseTensor>>;
  release(): Promise<void>;
}

/** CUDA was asked for and could not be used, although the CUDA provider is installed: maybe the node
 * (no GPU, driver or CUDA libraries), so another attempt elsewhere may work. */
export class CudaUnavailableError extends Error {
  override readonly name = 'CudaUnavailableError';
}

const CUDA_FIX = 'Use executionProvider: cpu, or auto (which falls back to the CPU), or run the CUDA worker image '
  + '(onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12, CUDA 12 and cuDNN 9 libraries) on a node with '
  + 'an NVIDIA GPU and worker.gpus >= 1.';

/** Where onnxruntime-node keeps its native libraries, and whether its CUDA provider is there. */
export function cudaProviderLibrary(): { path: string; installed: boolean } {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  const file = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const path = join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch, file);
  return { path, installed: existsSync(path) };
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** An error's message; errors thrown by the native binding may come from another realm (not `instanceof Error`). */
const errorMessage = (e: unknown): string =>
  typeof e === 'object' && e !== null && 'message' in e ? String((e as { message: unknown }).message) : String(e);

function toMeta(m: ort.InferenceSession.ValueMetadata | RawValueMeta): ValueMeta {
  return m.isTensor
    ? { name: m.name, isTensor: true, type: m.type, dims: [...(m.shape ?? [])] }
    : { name: m.name, isTensor: false, dims: [] };
}

/** An onnxruntime tensor over a dense tensor's data (no copy; float16 as its bits: ort-tensor.ts). */
export function ortTensor(type: string, data: DenseTensor['data'], dims: readonly number[]): ort.Tensor {
  return ortTensorOf(ort, type, data, dims);
}

function toOrt(t: DenseTensor): ort.Tensor {
  return t instanceof ort.Tensor ? t : ortTensor(t.type, t.data, t.dims);
}

/** One onnxruntime session, in process or in the inference thread. */
interface Model {
  inputs: ValueMeta[];
  outputs: ValueMeta[];
  run(feeds: Readonly<Record<string, DenseTensor>>, outputNames?: readonly string[]): Promise<Record<string, DenseTensor>>;
  score(plan: ScoringPlan, packed: PackedBatch, options: ScoreOptions): Promise<Record<string, DenseTensor>>;
  release(): Promise<void>;
}

/** Where sessions are created: every attempt (CUDA, then the CPU) uses the same model bytes. */
interface Engine {
  /** Rejects with onnxruntime's error when it cannot create the session. */
  create(options: ort.InferenceSession.SessionOptions): Promise<Model>;
  /** Every session needed is created: the bytes may go. */
  loaded(): Promise<void>;
  /** After the last session is released (or none could be created). */
  close(): Promise<void>;
}

function inProcessEngine(bytes: Uint8Array): Engine {
  return {
    create: async (options) => {
      const session = await ort.InferenceSession.create(bytes, options);
      const run: Model['run'] = async (feeds, outputNames) => {
        const ortFeeds: Record<string, ort.Tensor> = {};
        for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
        const result = outputNames ? await session.run(ortFeeds, [...outputNames]) : await session.run(ortFeeds);
        return result as Record<string, DenseTensor>;
      };
      return {
        inputs: session.inputMetadata.map(toMeta),
        outputs: session.outputMetadata.map(toMeta),
        run,
        score: async (plan, packed, o) => {
          const names = plan.outputs.map((out) => out.name);
          const rows = packed.goodRows.length;
          const t0 = performance.now();
          const r = await scoreInBatches(packed.tensors, rows,
            { fixedBatch: plan.fixedBatch, maxBatch: o.maxBatch, retrySmaller: o.shrinkOnOom ? retrySmallerOnOom : undefined },
            (feeds: PackedTensor[]) => run(Object.fromEntries(feeds.map((f) => [f.name, f])), names));
          o.onReport?.({ rows, size: r.size, ms: performance.now() - t0, oom: r.retried });
          return r.outputs;
        },
        release: () => session.release(),
      };
    },
    loaded: async () => undefined,
    close: async () => undefined,
  };
}

/** A model output that does not fit the batch is the model's (or the spec's) fault, as in process. */
function fromThread(e: unknown): unknown {
  return e instanceof InferenceThreadError && e.badInput ? new BadInputError(e.message, { cause: e }) : e;
}

function threadEngine(thread: InferenceThread): Engine {
  return {
    create: async (options) => {
      const { sid, inputs, outputs } = await thread.create(options);
      return {
        inputs: inputs.map(toMeta),
        outputs: outputs.map(toMeta),
        run: async (feeds, outputNames) => {
          const { feeds: wire, transfer } = toWire(Object.entries(feeds).map(([name, t]) => ({ ...t, name })), false);
          return await thread.run(sid, wire, transfer, outputNames).catch((e: unknown) => { throw fromThread(e); });
        },
        score: async (plan, packed, o) => {
          const { feeds, transfer } = toWire(packed.tensors, o.transfer === true);
          const r = await thread.score(sid, feeds, transfer, {
            rows: packed.goodRows.length, fixedBatch: plan.fixedBatch, maxBatch: o.maxBatch, shrinkOnOom: o.shrinkOnOom,
            names: plan.outputs.map((out) => out.name),
          }).catch((e: unknown) => { throw fromThread(e); });
          o.onReport?.(r.report);
          return r.outputs;
        },
        release: () => thread.release(sid),
      };
    },
    loaded: () => thread.unload(),
    close: () => thread.terminate(),
  };
}

/** A started inference thread holding the model's bytes, or why there is none. */
async function startThread(bytes: Uint8Array, options: ScoringSessionOptions): Promise<{ thread?: InferenceThread; reason?: string }> {
  let thread: InferenceThread | undefined;
  try {
    thread = new InferenceThread({ ortPath: options.threadOrtPath, entry: options.threadEntry, test: options.threadTest });
    await thread.ready;
  } catch (e) {
    await thread?.terminate().catch(() => undefined);
    return { reason: errorMessage(e) };
  }
  try {
    await thread.load(bytes, options.transferBytes === true);
  } catch (e) {
    await thread.terminate().catch(() => undefined);
    throw e;
  }
  return { thread };
}

/** The thread died: not the model's fault (and another attempt may work). */
const threadDied = (e: unknown): boolean => e instanceof InferenceThreadError && e.fatal;

export async function createScoringSession(bytes: Uint8Array, options: ScoringSessionOptions): Promise<ScoringSession> {
  const uri = options.modelUri;
  const sha256 = sha256Hex(bytes);
  if (options.expectedSha256 !== undefined && options.expectedSha256.toLowerCase() !== sha256) {
    throw new BadInputError(`model at ${uri} has sha256 ${sha256}, but ${options.expectedFrom ?? 'spec.model.sha256'} is ${options.expectedSha256.toLowerCase()}: the bytes differ from the model expected`);
  }
  const intraOpThreads = options.intraOpThreads ?? availableCpus();
  const common: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    // Idle intra-op threads sleep instead of spinning: the decoder and the Parquet encoder run on the
    // same cores between runs, and spinning threads starve them (measured: npm run bench).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  const cuda: ort.InferenceSession.SessionOptions = {
    ...common, executionProviders: [{ name: 'cuda', deviceId: options.deviceId ?? 0 }],
  };
  const cpu: ort.InferenceSession.SessionOptions = { ...common, executionProviders: ['cpu'] };

  let engine: Engine;
  let threadFallbackReason: string | undefined;
  let thread: InferenceThread | undefined;
  if (options.thread) {
    const started = await startThread(bytes, options);
    threadFallbackReason = started.reason;
    thread = started.thread;
    engine = thread ? threadEngine(thread) : inProcessEngine(bytes);
  } else {
    engine = inProcessEngine(bytes);
  }
  const inThread = thread !== undefined;

  const createCpu = async (): Promise<Model> => {
    try {
      return await engine.create(cpu);
    } catch (e) {
      if (threadDied(e)) throw e;
      throw new BadInputError(`model at ${uri} is not a valid ONNX model: onnxruntime cannot load it: ${errorMessage(e)}`, { cause: e });
    }
  };
  const createCuda = (): Promise<Model> => engine.create(cuda);

  let model: Model;
  let provider: ExecutionProvider = 'cpu';
  let fallbackReason: string | undefined;
  const lib = cudaProviderLibrary();
  try {
    switch (options.executionProvider) {
      case 'cpu':
        model = await createCpu();
        break;
      case 'cuda':
        try {
          model = await createCuda();
          provider = 'cuda';
        } catch (e) {
          if (threadDied(e)) throw e; // the thread died: not CUDA's fault, nor the model's
          // Is it CUDA, or the model? A CPU session tells (and throws the invalid-model error if it is the model).
          await (await createCpu()).release();
          const why = `executionProvider is cuda, but CUDA could not be loaded: ${errorMessage(e)}`;
          if (!lib.installed) {
            throw new BadInputError(`${why} (onnxruntime-node's CUDA provider is not installed in this image: ${lib.path} is missing). ${CUDA_FIX}`, { cause: e });
          }
          throw new CudaUnavailableError(`${why}. ${CUDA_FIX}`, { cause: e });
        }
        break;
      case 'auto':
        if (!lib.installed && options.cudaLibraryCheck !== false) {
          fallbackReason = `onnxruntime-node's CUDA provider is not installed (${lib.path} is missing)`;
          model = await createCpu();
          break;
        }
        try {
          model = await createCuda();
          provider = 'cuda';
        } catch (e) {
          if (threadDied(e)) throw e; // the thread died: not CUDA's fault, nor the model's
          fallbackReason = `CUDA could not be loaded: ${errorMessage(e)}`;
          model = await createCpu();
        }
        break;
      default:
        throw new BadInputError(`unknown executionProvider ${String(options.executionProvider)}: use cuda, cpu or auto`);
    }
    await engine.loaded();
  } catch (e) {
    await engine.close().catch(() => undefined);
    throw e;
  }

  let released = false;
  const live = (): void => {
    if (released) throw new Error(`the session for ${uri} was released`);
  };

  return {
    provider, fallbackReason, sha256, modelUri: uri, intraOpThreads, inThread, threadFallbackReason, thread,
    inputs: model.inputs, outputs: model.outputs,
    run: async (feeds, outputNames) => {
      live();
      return await model.run(feeds, outputNames);
    },
    score: async (plan, packed, scoreOptions = {}) => {
      live();
      return await model.score(plan, packed, scoreOptions);
    },
    release: async () => {
      if (released) return;
      released = true;
      try {
        await model.release();
      } catch (e) {
        // A thread that died has nothing left to release; the error that killed it was reported to the caller.
        if (!threadDied(e)) throw e;
      } finally {
        await engine.close();
      }
    },
  };
}
