/**
 * What an ONNX model says about its graph's inputs and outputs (names, element types, shapes), read
 * from the ModelProto itself, without onnxruntime: the planner checks a job's mapping with it before
 * any pod starts (operator images do not ship onnxruntime-node), and the worker reads the same from
 * onnxruntime's session metadata. Both give a ModelMeta, and scoring-plan.ts checks it the same way.
 *
 * Only what is needed is read. The decoder walks ModelProto.graph field by field, and only the
 * graph's inputs and outputs (ValueInfoProto) and the names of its initializers are decoded. Nodes and
 * weights are skipped over by their lengths. Initializers come before the inputs in the file, and a
 * graph input that is also an initializer is an overridable weight, not an input to feed (onnxruntime
 * leaves those out as well). A model of up to WHOLE_READ_BYTES is read in one request. A larger one is
 * read in ranges: WINDOW_BYTES at a time around each field's key, so the weights are never fetched.
 * That costs about one small ranged read per large initializer.
 */
import { BadInputError, NotFoundError } from '../contract/index.js';
import { ONNX_DATA_TYPE } from '../modelgen/onnx.js';
import { ProtoError, ProtoReader, WIRE_LEN, WIRE_VARINT, type ProtoField } from '../modelgen/protobuf.js';
import type { ModelMeta, ValueMeta } from './types.js';

/** Models up to this size are read with one request. */
export const WHOLE_READ_BYTES = 16 << 20;
/** Larger models are read in ranges of this size. */
export const WINDOW_BYTES = 64 << 10;

/** ModelProto, GraphProto, TensorProto, SparseTensorProto, ValueInfoProto and TypeProto field numbers
 * (onnx/onnx.proto3). */
const MODEL = { graph: 7 };
const GRAPH = { initializer: 5, input: 11, output: 12, sparseInitializer: 15 };
const TENSOR = { name: 8 };
const SPARSE_TENSOR = { values: 1 };
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIM = { value: 1, param: 2 };

const TYPE_NAMES = new Map<number, string>(Object.entries(ONNX_DATA_TYPE).map(([name, n]) => [n, name]));
const typeName = (n: number): string => TYPE_NAMES.get(n) ?? `ONNX data type ${n}`;

/** Random access to a model's bytes. */
export interface ModelBytes {
  size: number;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<Uint8Array>;
}

export const bytesSource = (bytes: Uint8Array): ModelBytes => ({ size: bytes.length, read: async (s, e) => bytes.subarray(s, e) });

/** Serves reads from one cached window of the source, fetching WINDOW_BYTES (or what is asked) at a time. */
class Window {
  private at = 0;
  private buf: Uint8Array = new Uint8Array(0);
  reads = 0;

  constructor(private readonly src: ModelBytes, private readonly windowBytes: number) {}

  /** Bytes [start, end); fewer only past the end of the source. */
  async bytes(start: number, end: number): Promise<Uint8Array> {
    const stop = Math.min(end, this.src.size);
    if (start < this.at || stop > this.at + this.buf.length) {
      const fetchEnd = Math.min(this.src.size, Math.max(stop, start + this.windowBytes));
      this.buf = await this.src.read(start, fetchEnd);
      this.at = start;
      this.reads++;
      if (this.buf.length !== fetchEnd - start) throw new ProtoError(`read ${this.buf.length} bytes at ${start}, expected ${fetchEnd - start}`);
    }
    return this.buf.subarray(start - this.at, stop - this.at);
  }

  /** The fields of the message at [start, end), keys read through the window, values not fetched. */
  async* fields(start: number, end: number): AsyncGenerator<ProtoField> {
    let pos = start;
    while (pos < end) {
      // A key and a length (or a varint value) take at most 20 bytes.
      const f = new ProtoReader(await this.bytes(pos, Math.min(end, pos + 20))).header();
      const field: ProtoField = { field: f.field, wire: f.wire, start: pos + f.start, end: pos + f.end };
      if (field.end > end) throw new ProtoError(`field ${field.field} at byte ${pos} runs past the end of its message (byte ${end})`);
      yield field;
      pos = field.end;
    }
  }
}

/** Calls `visit` with each field of r's message that has number `field` and wire type `wire`. */
function each(r: ProtoReader, field: number, wire: number, visit: (f: ProtoField) => void): void {
  while (!r.done) {
    const f = r.next();
    if (f.field === field && f.wire === wire) visit(f);
  }
}

/** A ValueInfoProto: its name, and a tensor type's element type and dims (a dim with neither a value
 * nor a name is ''), as onnxruntime reports them. */
function decodeValueInfo(bytes: Uint8Array): ValueMeta {
  let name = '';
  let tensor: ProtoReader | undefined;
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const f = r.next();
    if (f.field === VALUE_INFO.name && f.wire === WIRE_LEN) name = r.stringAt(f);
    else if (f.field === VALUE_INFO.type && f.wire === WIRE_LEN) {
      const type = r.messageAt(f);
      each(type, TYPE.tensorType, WIRE_LEN, (tf) => { tensor = type.messageAt(tf); });
    }
  }
  if (!tensor) return { name, isTensor: false, dims: [] };
  const t: ProtoReader = tensor;
  let elemType = 0;
  const dims: (number | string)[] = [];
  while (!t.done) {
    const f = t.next();
    if (f.field === TENSOR_TYPE.elemType && f.wire === WIRE_VARINT) elemType = t.varintAt(f);
    else if (f.field === TENSOR_TYPE.shape && f.wire === WIRE_LEN) {
      const shape = t.messageAt(f);
      each(shape, SHAPE.dim, WIRE_LEN, (sf) => {
        const dim = shape.messageAt(sf);
        let d: number | string = '';
        while (!dim.done) {
          const df = dim.next();
          if (df.field === DIM.value && df.wire === WIRE_VARINT) d = dim.varintAt(df);
          else if (df.field === DIM.param && df.wire === WIRE_LEN) d = dim.stringAt(df);
        }
        dims.push(d);
      });
    }
  }
  return { name, isTensor: true, type: typeName(elemType), dims };
}

/** The name of the TensorProto at [start, end), without fetching its values. */
async function tensorName(win: Window, start: number, end: number): Promise<string | undefined> {
  for await (const f of win.fields(start, end)) {
    if (f.field === TENSOR.name && f.wire === WIRE_LEN) {
      const bytes = await win.bytes(f.start, f.end);
      return new ProtoReader(bytes).stringAt({ ...f, start: 0, end: bytes.length });
    }
  }
  return undefined;
}

export interface ReadModelOptions {
  /** Default WHOLE_READ_BYTES. */
  wholeReadBytes?: number;
  /** Default WINDOW_BYTES. */
  windowBytes?: number;
}

/** Reads the graph's inputs (initializers left out) and outputs, and says how many reads it took.
 * ProtoError when the bytes are not a model. */
export async function readModelInfo(src: ModelBytes, options: ReadModelOptions = {}): Promise<ModelMeta & { reads: number }> {
  const whole = src.size <= (options.wholeReadBytes ?? WHOLE_READ_BYTES);
  const win = new Window(src, whole ? src.size : options.windowBytes ?? WINDOW_BYTES);
  let graph: ProtoField | undefined;
  for await (const f of win.fields(0, src.size)) {
    if (f.field === MODEL.graph && f.wire === WIRE_LEN) graph = f;
  }
  if (!graph) throw new ProtoError('it has no graph');
  const initializers = new Set<string>();
  const inputs: ValueMeta[] = [];
  const outputs: ValueMeta[] = [];
  for await (const f of win.fields(graph.start, graph.end)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.field === GRAPH.initializer) {
      const name = await tensorName(win, f.start, f.end);
      if (name !== undefined) initializers.add(name);
    } else if (f.field === GRAPH.sparseInitializer) {
      for await (const sf of win.fields(f.start, f.end)) {
        if (sf.field !== SPARSE_TENSOR.values || sf.wire !== WIRE_LEN) continue;
        const name = await tensorName(win, sf.start, sf.end);
        if (name !== undefined) initializers.add(name);
        break;
      }
    } else if (f.field === GRAPH.input || f.field === GRAPH.output) {
      const v = decodeValueInfo(await win.bytes(f.start, f.end));
      (f.field === GRAPH.input ? inputs : outputs).push(v);
    }
  }
  return { inputs: inputs.filter((v) => !initializers.has(v.name)), outputs, reads: win.reads };
}

/** The error for a model that cannot be read from spec.model.uri, for both planes. */
export function modelReadError(uri: string, err: unknown): Error {
  if (err instanceof NotFoundError) return new BadInputError(`model not found at ${uri} (spec.model.uri)`, { cause: err });
  if (err instanceof BadInputError) return new BadInputError(`cannot read the model at ${uri} (spec.model.uri): ${err.message}`, { cause: err });
  if (err instanceof ProtoError) {
    return new BadInputError(`cannot read the model at ${uri} (spec.model.uri): not a valid ONNX model (${err.message})`, { cause: err });
  }
  return new Error(`cannot read the model at ${uri}`, { cause: err });
}
