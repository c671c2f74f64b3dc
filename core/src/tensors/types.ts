/** Types shared by the tensor packing, the unpacking and the session. */
import type { Schema, Vector } from 'apache-arrow';
import type { ElementType } from './type-rules.js';

export { ELEMENT_TYPES, isElementType, type ElementType } from './type-rules.js';

/** A tensor's values. float16 tensors hold their values' bits in a Uint16Array (onnxruntime-node takes
 * that, and may hand back a Float16Array, which is read through the same bits). */
export type TensorData = Float32Array | Float64Array | BigInt64Array | BigUint64Array
  | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array;

/**
 * What the model says about one input or output (onnxruntime's ValueMetadata, normalised).
 * A dim is a fixed size (number) or symbolic (a string; '' when unnamed).
 */
export interface ValueMeta {
  name: string;
  isTensor: boolean;
  /** onnxruntime's element type name ('float32', 'int64', 'string', ...); undefined for non-tensors. */
  type?: string;
  /** Empty when the model does not declare a shape. */
  dims: readonly (number | string)[];
}

export interface ModelMeta {
  inputs: readonly ValueMeta[];
  outputs: readonly ValueMeta[];
}

/** spec.model.inputs / spec.model.outputs (structurally; see core/src/contract/job-spec.ts). */
export interface InputMappingLike {
  columns?: readonly string[];
  column?: string;
}
export interface OutputMappingLike {
  column: string;
  select?: number;
}
export interface ModelMappingLike {
  inputs: Readonly<Record<string, InputMappingLike>>;
  outputs: Readonly<Record<string, OutputMappingLike>>;
}

/** A dense tensor: `data` holds prod(dims) values, row-major. Structurally compatible with ort.Tensor. */
export interface DenseTensor {
  type: string;
  dims: readonly number[];
  data: TensorData;
}

export interface PackedTensor extends DenseTensor {
  /** The ONNX input name. */
  name: string;
  type: ElementType;
}

/** An Arrow RecordBatch or Table (both have these). */
export interface ColumnSource {
  readonly schema: Schema;
  readonly numRows: number;
  getChild(name: string): Vector | null;
}
