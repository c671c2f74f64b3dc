/**
 * onnxruntime tensors over dense tensors' data (no copy), for the session in process (session.ts) and
 * in the inference thread (inference-thread-main.ts), each with the onnxruntime-node it loaded.
 */
import type * as Ort from 'onnxruntime-node';
import type { DenseTensor } from '../../../core/src/tensors/types.js';

/** What of onnxruntime-node is used: the module as imported (session.ts) or as required (the thread). */
export type OrtModule = Pick<typeof Ort, 'Tensor' | 'InferenceSession'>;

/**
 * float16 data goes to the binding as a Uint16Array of the bits: onnxruntime-common turns float16
 * data into a Float16Array where the runtime has one, and onnxruntime-node 1.30's binding then reads
 * that array's byte length as 0 on Node 24 ("not enough space: expected 24, got 0";
 * microsoft/onnxruntime#32323). The binding takes a Uint16Array.
 */
export function ortTensorOf(ort: OrtModule, type: string, data: DenseTensor['data'], dims: readonly number[]): Ort.Tensor {
  const t = new ort.Tensor(type as 'float32', data as Float32Array, dims);
  if (type === 'float16') (t as unknown as { cpuData: Uint16Array }).cpuData = new Uint16Array(data.buffer, data.byteOffset, data.length);
  return t;
}
