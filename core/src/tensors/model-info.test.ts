import ort from 'onnxruntime-node';
import { GraphBuilder, encodeModel, linearModel, mlpModel, twoInputModel } from '../modelgen/index.js';
import { bytesSource, readModelInfo, type ModelBytes } from './model-info.js';
import type { ModelMeta, ValueMeta } from './types.js';

/** What onnxruntime itself says about the model, in the worker's terms. */
async function ortMeta(bytes: Uint8Array): Promise<ModelMeta> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    const meta = (m: ort.InferenceSession.ValueMetadata): ValueMeta => (m.isTensor
      ? { name: m.name, isTensor: true, type: m.type, dims: [...(m.shape ?? [])] }
      : { name: m.name, isTensor: false, dims: [] });
    return { inputs: s.inputMetadata.map(meta), outputs: s.outputMetadata.map(meta) };
  } finally {
    await s.release();
  }
}

/** A graph with the odd cases: unknown and symbolic dims, no declared shape, an initializer that is
 * also a graph input (an overridable weight), several element types, and a sequence output. */
function oddGraph(): Uint8Array {
  const g = new GraphBuilder('odd');
  const a = g.input('A', 'float16', [null, 3]);
  const b = g.input('B', 'uint8', ['n', 3]);
  const w = g.init('W', 'float32', [3], [1, 2, 3]);
  const sum = g.node('Add', [g.node('Cast', [a], { to: { i: 1 } }), g.node('Cast', [b], { to: { i: 1 } })]);
  const y = g.node('Mul', [sum, w]);
  g.output('Y', 'float32', null, y);
  g.output('H', 'float16', ['n', 3], g.node('Cast', [y], { to: { i: 10 } }));
  g.output('S', 'float32', ['n', 3], g.node('SequenceConstruct', [y]), true);
  const spec = g.spec();
  return encodeModel({ ...spec, inputs: [...spec.inputs, { name: 'W', type: 'float32', shape: [3] }] });
}

const MODELS: Array<[string, () => Uint8Array]> = [
  ['a linear model', () => linearModel({ features: 4, weights: [[1], [2], [3], [4]], bias: [0] }).bytes],
  ['float16 in and out', () => linearModel({ features: 2, weights: [[1], [2]], bias: [0], inputType: 'float16', outputType: 'float16' }).bytes],
  ['uint64 input, fixed batch', () => linearModel({ features: 2, weights: [[1], [2]], bias: [0], inputType: 'uint64', batch: 8 }).bytes],
  ['an MLP with softmax', () => mlpModel({ features: 16, hidden: [32, 32], outputs: 3, seed: 1, softmax: true }).bytes],
  ['two inputs, three outputs, int64 among them', () => twoInputModel({ k: 3, dim: 4, proj: 2, seed: 2, xType: 'int16' }).bytes],
  ['odd shapes, an overridable initializer and a sequence output', oddGraph],
];

describe('readModelInfo: the graph\'s inputs and outputs, as onnxruntime reports them', () => {
  test.each(MODELS)('%s', async (name, make) => {
    const bytes = make();
    const { reads, ...info } = await readModelInfo(bytesSource(bytes));
    const ortInfo = await ortMeta(bytes);
    // onnxruntime fills in the shape it infers for an output that declares none (Y of the odd graph);
    // the planner sees no shape there, which lets it check less, never more.
    const declared = (m: ModelMeta) => ({ ...m, outputs: m.outputs.map((o) => (o.name === 'Y' && name.startsWith('odd') ? { ...o, dims: [] } : o)) });
    expect(info).toEqual(declared(ortInfo));
    expect(reads).toBe(1); // small: read whole
  });

  test('the odd graph, spelled out', async () => {
    expect((await ortMeta(oddGraph())).outputs[0]).toEqual({ name: 'Y', isTensor: true, type: 'float32', dims: ['', 3] });
    const { inputs, outputs } = await readModelInfo(bytesSource(oddGraph()));
    expect(inputs).toEqual([
      { name: 'A', isTensor: true, type: 'float16', dims: ['', 3] },
      { name: 'B', isTensor: true, type: 'uint8', dims: ['n', 3] },
    ]);
    expect(outputs).toEqual([
      { name: 'Y', isTensor: true, type: 'float32', dims: [] },
      { name: 'H', isTensor: true, type: 'float16', dims: ['n', 3] },
      { name: 'S', isTensor: false, dims: [] },
    ]);
  });
});

describe('readModelInfo on a large model: ranged reads that skip the weights', () => {
  // 8 layers of 256 x 256 float32 weights: about 1.8 MiB of initializers.
  const bytes = mlpModel({ features: 256, hidden: Array(7).fill(256), outputs: 2, seed: 3 }).bytes;
  const counting = (): ModelBytes & { fetched: number; reads: number } => {
    const src = { size: bytes.length, fetched: 0, reads: 0, read: async (s: number, e: number) => {
      src.fetched += e - s;
      src.reads++;
      return bytes.subarray(s, e);
    } };
    return src;
  };

  test('read whole when small enough, in windows otherwise; the same answer either way', async () => {
    expect(bytes.length).toBeGreaterThan(1_800_000);
    const whole = counting();
    const a = await readModelInfo(whole);
    expect([whole.reads, whole.fetched]).toEqual([1, bytes.length]);
    const ranged = counting();
    const b = await readModelInfo(ranged, { wholeReadBytes: 1 << 20, windowBytes: 4096 });
    expect(b.inputs).toEqual(a.inputs);
    expect(b.outputs).toEqual(a.outputs);
    expect(b.inputs).toEqual([{ name: 'X', isTensor: true, type: 'float32', dims: ['batch', 256] }]);
    // Per initializer about one window around its key, not its 256 KiB of values.
    expect(ranged.reads).toBeLessThan(40);
    expect(ranged.fetched).toBeLessThan(bytes.length / 10);
  });
});
