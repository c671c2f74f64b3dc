/** Arrow columns <-> ONNX tensors, following spec.model.inputs/outputs. */
export * from './types.js';
export * from './type-rules.js';
export * from './plan.js';
export { packInputs, summarizeBadRows, type BadRows, type PackedBatch, type PackOptions } from './pack.js';
export * from './unpack.js';
export * from './batch.js';
