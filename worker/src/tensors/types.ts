/** Types shared by the tensor packing, the unpacking and the session. */
import type { Schema, Vector } from 'apache-arrow';

/** Element types the worker feeds to and reads from a model. */
export type ElementType = 'float32' | 'float64' | 'int64' | 'int32';
export const ELEMENT_TYPES: readonly ElementType[] = ['float32', 'float64', 'int64', 'int32'];
export const isElementType = (t: unknown): t is ElementType => ELEMENT_TYPES.includes(t as ElementType);

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array;

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

/** spec.model.inputs / spec.model.outputs (structurally; see operator/src/api/spec.ts). */
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
