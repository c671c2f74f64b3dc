/**
 * Encodes ONNX protos (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) with the
 * minimal protobuf writer. Field numbers follow onnx/onnx.proto3. Defaults: ir_version 8, opset 17 of
 * the default domain.
 */
import { ProtoWriter, littleEndianBytes } from './protobuf.js';

/** TensorProto.DataType values, under onnxruntime's names for them. */
export const ONNX_DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
} as const;
export type OnnxElementType = keyof typeof ONNX_DATA_TYPE;

/** A dimension: a fixed size, a symbolic name (e.g. 'batch'), or null for "unknown, unnamed". */
export type Dim = number | string | null;

export interface TensorInit {
  name: string;
  type: OnnxElementType;
  dims: readonly number[];
  /** Row-major values; BigInt64Array (or numbers) for int64. */
  data: ArrayLike<number> | BigInt64Array;
}

export interface ValueInfo {
  name: string;
  type: OnnxElementType;
  /** Dims; null: no shape declared at all. */
  shape: readonly Dim[] | null;
  /** A sequence of such tensors rather than a tensor (what SequenceConstruct gives). */
  sequence?: boolean;
}

export type AttrValue =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { t: TensorInit };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

export interface GraphSpec {
  name?: string;
  nodes: readonly NodeSpec[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly TensorInit[];
}

export interface ModelOptions {
  irVersion?: number;
  opset?: number;
  producerName?: string;
  docString?: string;
}

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function typedArrayFor(t: TensorInit): ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number } {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new Error(`initializer ${t.name}: dims [${t.dims.join(', ')}] need ${n} values, got ${t.data.length}`);
  }
  const numbers = t.data as ArrayLike<number>;
  switch (t.type) {
    case 'float32': return Float32Array.from(numbers);
    case 'float64': return Float64Array.from(numbers);
    // float16 values go in as their bits (the nearest float16 of each number).
    case 'float16': return new Uint16Array(Float16Array.from(numbers).buffer);
    case 'int32': return Int32Array.from(numbers);
    case 'int16': return Int16Array.from(numbers);
    case 'int8': return Int8Array.from(numbers);
    case 'uint32': return Uint32Array.from(numbers);
    case 'uint16': return Uint16Array.from(numbers);
    case 'uint8': case 'bool': return Uint8Array.from(numbers);
    case 'int64':
      return t.data instanceof BigInt64Array ? t.data : BigInt64Array.from(Array.from(numbers, (v) => BigInt(v)));
    case 'uint64': return BigUint64Array.from(Array.from(numbers, (v) => BigInt(v)));
    default: throw new Error(`initializer ${t.name}: the generator does not write ${t.type} values`);
  }
}

/** TensorProto, with the values in raw_data (little-endian). */
export function writeTensor(w: ProtoWriter, t: TensorInit): void {
  w.packedVarints(1, t.dims);
  w.int(2, ONNX_DATA_TYPE[t.type]);
  w.string(8, t.name);
  w.bytes(9, littleEndianBytes(typedArrayFor(t)));
}

/** ValueInfoProto: name and a tensor type with its shape (or a sequence of such tensors). */
export function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  const tensorType = (type: ProtoWriter) =>
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_DATA_TYPE[v.type]);
      if (v.shape === null) return;
      tensor.message(2, (shape) => {
        for (const d of v.shape ?? []) {
          shape.message(1, (dim) => {
            if (typeof d === 'number') dim.int(1, d);
            else if (typeof d === 'string') dim.string(2, d);
          });
        }
      });
    });
  w.message(2, (type) => (v.sequence ? type.message(4, (seq) => seq.message(1, tensorType)) : tensorType(type)));
}

function writeAttr(w: ProtoWriter, name: string, a: AttrValue): void {
  w.string(1, name);
  if ('i' in a) w.int(3, a.i).int(20, ATTR.INT);
  else if ('f' in a) w.float(2, a.f).int(20, ATTR.FLOAT);
  else if ('s' in a) w.string(4, a.s).int(20, ATTR.STRING);
  else if ('ints' in a) w.packedVarints(8, a.ints).int(20, ATTR.INTS);
  else if ('floats' in a) w.packedFloats(7, a.floats).int(20, ATTR.FLOATS);
  else w.message(5, (t) => writeTensor(t, a.t)).int(20, ATTR.TENSOR);
}

export function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, (a) => writeAttr(a, k, v));
  if (n.domain) w.string(7, n.domain);
}

export function writeGraph(w: ProtoWriter, g: GraphSpec): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name ?? 'graph');
  for (const t of g.initializers ?? []) w.message(5, (m) => writeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/** Encodes a whole ModelProto. */
export function encodeModel(g: GraphSpec, options: ModelOptions = {}): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, options.irVersion ?? 8);
  w.string(2, options.producerName ?? 'bij-modelgen');
  w.string(3, '0.1.0');
  if (options.docString) w.string(6, options.docString);
  w.message(7, (m) => writeGraph(m, g));
  w.message(8, (op) => op.string(1, '').int(2, options.opset ?? 17));
  return w.finish();
}

/**
 * A small fluent graph builder: values are referred to by name; `node` returns the name of its
 * (first) output, so expressions chain: `g.node('Add', [g.node('MatMul', [x, w]), b])`.
 */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: TensorInit[] = [];
  private counter = 0;

  constructor(private readonly name = 'graph') {}

  input(name: string, type: OnnxElementType, shape: readonly Dim[] | null): string {
    this.inputs.push({ name, type, shape });
    return name;
  }

  init(name: string, type: OnnxElementType, dims: readonly number[], data: TensorInit['data']): string {
    this.initializers.push({ name, type, dims, data });
    return name;
  }

  /** Adds a node; its outputs are named `outputs`, or generated when omitted. Returns the first output. */
  node(op: string, inputs: readonly string[], attrs?: Record<string, AttrValue>, outputs?: readonly string[]): string {
    const id = this.counter++;
    const outs = outputs ?? [`${op.toLowerCase()}_${id}`];
    this.nodes.push({ op, inputs, outputs: outs, name: `${op}_${id}`, attrs });
    return outs[0];
  }

  /** Declares a graph output. When `from` differs from `name`, an Identity node renames it. */
  output(name: string, type: OnnxElementType, shape: readonly Dim[] | null, from: string = name, sequence = false): string {
    if (from !== name) this.node('Identity', [from], undefined, [name]);
    this.outputs.push({ name, type, shape, ...(sequence ? { sequence } : {}) });
    return name;
  }

  spec(): GraphSpec {
    return { name: this.name, nodes: this.nodes, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers };
  }

  encode(options?: ModelOptions): Uint8Array {
    return encodeModel(this.spec(), options);
  }
}
