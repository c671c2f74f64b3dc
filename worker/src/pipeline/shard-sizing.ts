/**
 * How one attempt sizes its work before it starts: where the model will run (for the decoder count),
 * rows per decoded batch, the most rows per run batchSize: auto may try; and the model's bytes.
 */
import type { Storage } from '../../../core/src/storage/types.js';
import { modelReadError } from '../../../core/src/tensors/model-info.js';
import { cudaProviderLibrary, type ExecutionProviderChoice } from '../session/index.js';

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
