/**
 * The onnxruntime-node session: checks the model's sha256, picks the execution provider, reads the
 * model's input/output metadata, and runs packed tensors (fixed batch sizes included).
 *
 * Execution providers: onnxruntime-node does not fall back by itself. A session asked for
 * ['cuda', 'cpu'] fails outright when the CUDA provider cannot be loaded, so 'auto' tries CUDA alone
 * and, when that fails, creates a CPU session. The npm package ships its CUDA provider library
 * (libonnxruntime_providers_cuda.so) only when installed with ONNXRUNTIME_NODE_INSTALL=cuda12; 'auto'
 * skips the attempt when that library is missing (onnxruntime would log an error line for it).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { BadInputError } from '../../../operator/src/contract/index.js';
import { runInBatches } from '../tensors/batch.js';
import type { PackedBatch } from '../tensors/pack.js';
import type { ScoringPlan } from '../tensors/plan.js';
import type { DenseTensor, ModelMeta, PackedTensor, ValueMeta } from '../tensors/types.js';
import { availableCpus } from './threads.js';

export type ExecutionProviderChoice = 'cuda' | 'cpu' | 'auto';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface ScoringSessionOptions {
  executionProvider: ExecutionProviderChoice;
  /** Where the bytes came from; used in messages only. */
  modelUri: string;
  /** spec.model.sha256: the session refuses bytes with another hash. */
  expectedSha256?: string;
  /** Default: the CPUs available to the process (cgroup quota included). */
  intraOpThreads?: number;
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** 'auto' only: skip the CUDA attempt when the CUDA provider library is not installed (default true). */
  cudaLibraryCheck?: boolean;
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
  /** Runs the model. Only `outputNames` are computed (default: every output). */
  run(feeds: Readonly<Record<string, DenseTensor>>, outputNames?: readonly string[]): Promise<Record<string, DenseTensor>>;
  /**
   * Runs a packed batch through the model, following the plan: fixed batch sizes are honoured
   * (zero-padded), and zero rows still give outputs (with zero rows). Returns the mapped outputs.
   */
  score(plan: ScoringPlan, packed: PackedBatch, options?: { maxBatch?: number }): Promise<Record<string, DenseTensor>>;
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

function toMeta(m: ort.InferenceSession.ValueMetadata): ValueMeta {
  return m.isTensor
    ? { name: m.name, isTensor: true, type: m.type, dims: [...m.shape] }
    : { name: m.name, isTensor: false, dims: [] };
}

function toOrt(t: DenseTensor): ort.Tensor {
  return t instanceof ort.Tensor ? t : new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
}

export async function createScoringSession(bytes: Uint8Array, options: ScoringSessionOptions): Promise<ScoringSession> {
  const uri = options.modelUri;
  const sha256 = sha256Hex(bytes);
  if (options.expectedSha256 !== undefined && options.expectedSha256.toLowerCase() !== sha256) {
    throw new BadInputError(`model at ${uri} has sha256 ${sha256}, but spec.model.sha256 is ${options.expectedSha256.toLowerCase()}: the bytes differ from the model expected`);
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
  const createCpu = async (): Promise<ort.InferenceSession> => {
    try {
      return await ort.InferenceSession.create(bytes, cpu);
    } catch (e) {
      throw new BadInputError(`model at ${uri} is not a valid ONNX model: onnxruntime cannot load it: ${errorMessage(e)}`, { cause: e });
    }
  };

  let session: ort.InferenceSession;
  let provider: ExecutionProvider = 'cpu';
  let fallbackReason: string | undefined;
  const lib = cudaProviderLibrary();
  switch (options.executionProvider) {
    case 'cpu':
      session = await createCpu();
      break;
    case 'cuda':
      try {
        session = await ort.InferenceSession.create(bytes, cuda);
        provider = 'cuda';
      } catch (e) {
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
        session = await createCpu();
        break;
      }
      try {
        session = await ort.InferenceSession.create(bytes, cuda);
        provider = 'cuda';
      } catch (e) {
        fallbackReason = `CUDA could not be loaded: ${errorMessage(e)}`;
        session = await createCpu();
      }
      break;
    default:
      throw new BadInputError(`unknown executionProvider ${String(options.executionProvider)}: use cuda, cpu or auto`);
  }

  const inputs = session.inputMetadata.map(toMeta);
  const outputs = session.outputMetadata.map(toMeta);
  let released = false;

  const run = async (feeds: Readonly<Record<string, DenseTensor>>, outputNames?: readonly string[]): Promise<Record<string, DenseTensor>> => {
    if (released) throw new Error(`the session for ${uri} was released`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
    const result = outputNames ? await session.run(ortFeeds, [...outputNames]) : await session.run(ortFeeds);
    return result as Record<string, DenseTensor>;
  };

  return {
    provider, fallbackReason, sha256, modelUri: uri, intraOpThreads, inputs, outputs, run,
    score: (plan, packed, scoreOptions = {}) => {
      const names = plan.outputs.map((o) => o.name);
      return runInBatches(packed.tensors, packed.goodRows.length, { fixedBatch: plan.fixedBatch, maxBatch: scoreOptions.maxBatch },
        (feeds: PackedTensor[]) => run(Object.fromEntries(feeds.map((f) => [f.name, f])), names));
    },
    release: async () => {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
