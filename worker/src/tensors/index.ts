/** Arrow columns <-> ONNX tensors, following spec.model.inputs/outputs. */
export * from '../../../core/src/tensors/types.js';
export * from '../../../core/src/tensors/type-rules.js';
export * from '../../../core/src/tensors/scoring-plan.js';
export { packInputs, summarizeBadRows, type BadRows, type PackedBatch, type PackOptions } from '../../../core/src/tensors/pack.js';
export * from './unpack.js';
export * from './batch.js';
