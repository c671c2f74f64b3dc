/** @jest-environment ./worker/src/session/jest-ort-environment.js */
import ort from 'onnxruntime-node';
import { ortTensor } from './session.js';
import { GraphBuilder, linearModel, mlpModel, prng, ProtoWriter, twoInputModel, type InputElementType } from '../../../core/src/modelgen/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Largest |a[i] - b[i]|. */
function maxDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(Number(a[i]) - b[i]));
  return d;
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('ProtoWriter', () => {
  test.each([
    [0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [300, 'ac02'], [2 ** 35, '8080808080' + '01'],
    [-1, 'ffffffffffffffffff01'], [-2n, 'feffffffffffffffff01'], [2n ** 63n, '80808080808080808001'],
  ])('varint(%p)', (v, expected) => {
    expect(hex(new ProtoWriter().varint(v).finish())).toBe(expected);
  });

  test('fields: tags, length-delimited, packed, fixed-width', () => {
    const w = new ProtoWriter().int(1, 150).string(2, 'hi').packedVarints(4, [3, 270]).float(5, 1).message(6, (m) => m.int(1, 1));
    // 08 96 01 | 12 02 'h' 'i' | 22 03 03 8e 02 | 2d 0000803f | 32 02 08 01
    expect(hex(w.finish())).toBe('089601' + '12026869' + '2203038e02' + '2d0000803f' + '32020801');
    expect(() => new ProtoWriter().varint(0.5)).toThrow('varint needs a safe integer');
  });
});

describe('ready-made models run in onnxruntime and match the JS reference', () => {
  const weights = [[0.5, -1], [2, 0.25], [-0.75, 1]];
  const bias = [0.1, -0.2];
  const rows = [[1, 2, 3], [-1, 0, 4], [10, -20, 7], [0, 0, 0]];

  test.each<[InputElementType, (v: number[]) => ort.Tensor['data']]>([
    ['float32', (v) => Float32Array.from(v)],
    ['float64', (v) => Float64Array.from(v)],
    ['int64', (v) => BigInt64Array.from(v.map(BigInt))],
    ['int32', (v) => Int32Array.from(v)],
    ['int16', (v) => Int16Array.from(v)],
    ['int8', (v) => Int8Array.from(v)],
    ['float16', (v) => new Uint16Array(Float16Array.from(v).buffer)], // the bits; every value here is exact in float16
  ])('linearModel with %s input (Cast for non-float32), sigmoid', async (inputType, make) => {
    const m = linearModel({ features: 3, weights, bias, sigmoid: true, inputType, inputName: 'feat', outputName: 'p' });
    const x = rows.flat();
    const out = await run(m.bytes, { feat: ortTensor(inputType, make(x) as Float32Array, [4, 3]) });
    expect(out.p.dims).toEqual([4, 2]);
    expect(maxDiff(out.p.data as Float32Array, m.reference(rows))).toBeLessThan(1e-6);
    expect(m.params).toEqual({ weights, bias, sigmoid: true });
  });

  test('linearModel with float16 input and output: the float16 nearest of the float32 computation', async () => {
    const m = linearModel({ features: 3, weights, bias, sigmoid: true, inputType: 'float16', outputType: 'float16', inputName: 'feat', outputName: 'p' });
    const x = rows.flat();
    const out = await run(m.bytes, { feat: ortTensor('float16', new Uint16Array(Float16Array.from(x).buffer), [4, 3]) });
    expect(out.p.type).toBe('float16');
    expect(out.p.dims).toEqual([4, 2]);
    const got = Array.from(out.p.data as unknown as ArrayLike<number>); // a Float16Array where the runtime has one
    const ref = m.reference(rows);
    // Within float16 precision of the reference (the inputs are exact in float16; the output is rounded
    // once to float16, after float32 arithmetic).
    got.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThanOrEqual(Math.abs(ref[i]) * 2 ** -11 + 1e-6));
    expect(got).toEqual(Array.from(ref, (v) => Math.f16round(v)));
  });

  test('linearModel with a fixed batch declares it and runs it', async () => {
    const m = linearModel({ features: 3, weights, bias, batch: 4 });
    const s = await ort.InferenceSession.create(m.bytes);
    expect(s.inputMetadata[0]).toMatchObject({ name: 'X', type: 'float32', shape: [4, 3] });
    const out = await s.run({ X: new ort.Tensor('float32', Float32Array.from(rows.flat()), [4, 3]) });
    await s.release();
    expect(maxDiff(out.Y.data as Float32Array, m.reference(rows.flat()))).toBeLessThan(1e-5);
  });

  test('linearModel checks its weight shapes', () => {
    expect(() => linearModel({ features: 2, weights, bias })).toThrow('weights must be 2 x 2 (features x outputs)');
  });

  test('mlpModel 16 -> 64 -> 64 -> 2 with softmax is deterministic per seed', async () => {
    const m = mlpModel({ features: 16, hidden: [64, 64], outputs: 2, seed: 42, softmax: true });
    const same = (b: Uint8Array) => Buffer.from(b).equals(Buffer.from(m.bytes));
    expect(same(mlpModel({ features: 16, hidden: [64, 64], outputs: 2, seed: 42, softmax: true }).bytes)).toBe(true);
    expect(same(mlpModel({ features: 16, hidden: [64, 64], outputs: 2, seed: 43, softmax: true }).bytes)).toBe(false);
    expect(m.params.layers.map((l) => [l.weights.length, l.bias.length])).toEqual([[16, 64], [64, 64], [64, 2]]);
    const rand = prng(1);
    const x = Float32Array.from({ length: 32 * 16 }, () => rand() * 4 - 2);
    const out = await run(m.bytes, { X: new ort.Tensor('float32', x, [32, 16]) });
    const ref = m.reference(x);
    expect(maxDiff(out.Y.data as Float32Array, ref)).toBeLessThan(1e-5);
    for (let r = 0; r < 32; r++) expect(ref[2 * r] + ref[2 * r + 1]).toBeCloseTo(1, 12);
  });

  test('twoInputModel: X [b, k] and E [b, dim] give score, proj and an int64 argmax', async () => {
    const m = twoInputModel({ k: 3, dim: 5, proj: 4, seed: 9, xType: 'int64' });
    const rand = prng(2);
    const x = BigInt64Array.from({ length: 6 * 3 }, () => BigInt(Math.floor(rand() * 10 - 5)));
    const e = Float32Array.from({ length: 6 * 5 }, () => rand() * 2 - 1);
    const out = await run(m.bytes, { X: new ort.Tensor('int64', x, [6, 3]), E: new ort.Tensor('float32', e, [6, 5]) });
    const ref = m.reference(x, e);
    expect(out.score.dims).toEqual([6, 1]);
    expect(out.proj.dims).toEqual([6, 4]);
    expect(out.argmax.dims).toEqual([6]);
    expect(out.argmax.type).toBe('int64');
    expect(maxDiff(out.score.data as Float32Array, ref.score)).toBeLessThan(1e-6);
    expect(maxDiff(out.proj.data as Float32Array, ref.proj)).toBeLessThan(1e-5);
    expect(Array.from(out.argmax.data as BigInt64Array, Number)).toEqual(Array.from(ref.argmax));
  });

  test('GraphBuilder: any graph, e.g. two inputs and two outputs with renamed values', async () => {
    const g = new GraphBuilder('custom');
    const a = g.input('A', 'float32', ['batch', 2]);
    const b = g.input('B', 'float64', ['batch', 2]);
    const sum = g.node('Add', [a, g.node('Cast', [b], { to: { i: 1 } })]);
    g.output('sum', 'float32', ['batch', 2], sum);
    g.output('total', 'float32', ['batch', 1], g.node('ReduceSum', [sum, g.init('axes', 'int64', [1], [1])], { keepdims: { i: 1 } }));
    const out = await run(g.encode(), {
      A: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]),
      B: new ort.Tensor('float64', new Float64Array([10, 20, 30, 40]), [2, 2]),
    });
    expect(Array.from(out.sum.data as Float32Array)).toEqual([11, 22, 33, 44]);
    expect(Array.from(out.total.data as Float32Array)).toEqual([33, 77]);
  });
});
