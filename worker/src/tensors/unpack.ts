/**
 * Output tensors -> Arrow vectors, following a ScoringPlan. [batch] and [batch, 1] give a scalar
 * column; `select: i` takes element i of the last axis; otherwise each row's values become a
 * FixedSizeList<k>. With `positions`, the tensor's rows are scattered into a longer column whose
 * other rows are null (the rows that could not be scored). Typed-array loops only. Each element type
 * gives the Arrow type of the same name, except float16, which gives Float32 (exactly: every float16
 * value is a float32 value; Parquet writers and readers handle float32 everywhere).
 */
import {
  Field, FixedSizeList, Float32, Float64, Int16, Int32, Int64, Int8, Uint16, Uint32, Uint64, Uint8, makeData, makeVector,
  type DataType, type Vector,
} from 'apache-arrow';
import { BadInputError } from '../../../core/src/contract/index.js';
import { formatDims, type OutputPlan, type ScoringPlan } from '../../../core/src/tensors/scoring-plan.js';
import { elementTypeProblem } from '../../../core/src/tensors/type-rules.js';
import { type DenseTensor, type ElementType, type TensorData } from '../../../core/src/tensors/types.js';

export interface UnpackOptions {
  /** For each tensor row, its row in the output column (e.g. PackedBatch.goodRows). */
  positions?: Int32Array;
  /** Length of the output column when `positions` is given; rows not in `positions` are null. */
  length?: number;
}

/** The Arrow type of an output column. */
export function arrowTypeOf(type: ElementType): DataType {
  switch (type) {
    case 'float16': return new Float32();
    case 'float32': return new Float32();
    case 'float64': return new Float64();
    case 'int64': return new Int64();
    case 'int32': return new Int32();
    case 'int16': return new Int16();
    case 'int8': return new Int8();
    case 'uint64': return new Uint64();
    case 'uint32': return new Uint32();
    case 'uint16': return new Uint16();
    case 'uint8': return new Uint8();
  }
}

type NumArray = Exclude<TensorData, BigInt64Array | BigUint64Array>;

/** A view with `f` words per element: 64-bit values are moved as two int32 words (no BigInts made). */
function words(a: TensorData): { a: NumArray; f: number } {
  return a instanceof BigInt64Array || a instanceof BigUint64Array ? { a: new Int32Array(a.buffer, a.byteOffset, a.length * 2), f: 2 } : { a, f: 1 };
}

/** A float16 tensor as float32 (exact). Its data may be the bits (Uint16Array) or a Float16Array. */
function widenFloat16(t: DenseTensor): DenseTensor {
  const d = t.data;
  const half = new Float16Array(d.buffer, d.byteOffset, d.length);
  const data = new Float32Array(d.length);
  data.set(half);
  return { type: 'float32', dims: t.dims, data };
}

function alloc(like: TensorData, n: number): TensorData {
  return new (like.constructor as new (n: number) => TensorData)(n);
}

/** dst row p (of width w) <- src values starting at s with step `step` (words moved per element: f). */
function gather(src: TensorData, rows: number, rowSize: number, w: number, step: number, first: number, dst: TensorData, positions?: Int32Array): void {
  const s = words(src);
  const d = words(dst);
  const f = s.f;
  for (let r = 0; r < rows; r++) {
    const to = (positions ? positions[r] : r) * w * f;
    const from = (r * rowSize + first) * f;
    for (let m = 0; m < w; m++) {
      for (let x = 0; x < f; x++) d.a[to + m * f + x] = s.a[from + m * step * f + x];
    }
  }
}

/** One output tensor -> one Arrow vector. */
export function unpackOutput(tensor: DenseTensor, out: OutputPlan, options: UnpackOptions = {}): Vector {
  const { name, select } = out;
  const problem = elementTypeProblem('output', name, tensor.type);
  if (problem) throw new BadInputError(problem);
  const t = tensor.type === 'float16' ? widenFloat16(tensor) : tensor;
  const dims = t.dims;
  if (dims.length === 0) throw new BadInputError(`model output '${name}' is a scalar; an output needs a batch dimension to map to a column`);
  const rows = dims[0];
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  let w = rowSize;
  if (select !== undefined) {
    if (dims.length < 2) {
      throw new BadInputError(`spec.model.outputs.${name}: select needs an output with an axis after the batch, but output '${name}' has shape ${formatDims(dims)}`);
    }
    const k = dims[dims.length - 1];
    if (select >= k) {
      throw new BadInputError(`spec.model.outputs.${name}: select ${select} is out of range: output '${name}' has ${k} values on its last axis (shape ${formatDims(dims)})`);
    }
    w = rowSize / k;
  }
  if (out.width !== undefined && w !== out.width) {
    throw new BadInputError(`model output '${name}' declares shape ${formatDims(out.dims)} but produced ${formatDims(dims)}`);
  }
  if (options.positions && options.positions.length !== rows) {
    throw new Error(`unpackOutput(${name}): ${options.positions.length} positions for ${rows} rows`);
  }
  const length = options.positions ? (options.length ?? rows) : rows;
  if (length < rows) throw new Error(`unpackOutput(${name}): length ${length} is less than the ${rows} rows`);
  // Ascending positions with as many rows as the column: the identity, nothing to scatter.
  const positions = length > rows ? options.positions : undefined;
  let values: TensorData;
  if (!positions && select === undefined) {
    values = t.data.length === rows * w ? t.data : t.data.subarray(0, rows * w);
  } else {
    values = alloc(t.data, length * w);
    const step = select === undefined ? 1 : dims[dims.length - 1];
    gather(t.data, rows, rowSize, w, step, select ?? 0, values, positions);
  }
  let nullBitmap: Uint8Array | undefined;
  let nullCount = 0;
  if (positions) {
    nullBitmap = new Uint8Array(((length + 63) >> 6) << 3);
    for (let r = 0; r < rows; r++) nullBitmap[positions[r] >> 3] |= 1 << (positions[r] & 7);
    nullCount = length - rows;
  }
  const type = arrowTypeOf(t.type as ElementType);
  if (w === 1) {
    return makeVector(makeData({ type, length, nullCount, nullBitmap, data: values } as Parameters<typeof makeData>[0]));
  }
  const child = makeData({ type, length: length * w, nullCount: 0, data: values } as Parameters<typeof makeData>[0]);
  return makeVector(makeData({ type: new FixedSizeList(w, new Field('item', type, true)), length, nullCount, nullBitmap, child }));
}

/** Every mapped output, in plan order, as [column name, vector]. */
export function unpackOutputs(results: Readonly<Record<string, DenseTensor>>, plan: ScoringPlan, options: UnpackOptions = {}): Array<[string, Vector]> {
  return plan.outputs.map((o: OutputPlan) => {
    const t = results[o.name];
    if (!t) throw new Error(`the model returned no output '${o.name}'`);
    return [o.column, unpackOutput(t, o, options)];
  });
}
