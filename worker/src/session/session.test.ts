/** @jest-environment ./worker/src/session/jest-ort-environment.js */
import { createHash } from 'node:crypto';
import * as A from 'apache-arrow';
import { BadInputError } from '../../../core/src/contract/index.js';
import { linearModel, mlpModel, prng, twoInputModel } from '../../../core/src/modelgen/index.js';
import { packInputs, planScoring, unpackOutputs, type ModelMappingLike } from '../tensors/index.js';
import { decimalVector } from '../../../core/testing/tensors.js';
import { availableCpus } from './threads.js';
import { createScoringSession, cudaProviderLibrary, CudaUnavailableError, type ScoringSessionOptions } from './session.js';

const cpu: ScoringSessionOptions = { executionProvider: 'cpu', modelUri: 'file:///models/m.onnx' };
const linear = linearModel({ features: 3, weights: [[1, -1], [0.5, 2], [-2, 0.25]], bias: [0.1, 0.2], sigmoid: true });

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function maxDiff(a: ArrayLike<number | bigint | null>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(Number(a[i]) - b[i]));
  return d;
}

describe('createScoringSession', () => {
  test('loads the bytes on the CPU and reports provider, sha256, threads and metadata', async () => {
    const s = await createScoringSession(linear.bytes, cpu);
    try {
      expect(s.provider).toBe('cpu');
      expect(s.sha256).toBe(createHash('sha256').update(linear.bytes).digest('hex'));
      expect(s.intraOpThreads).toBe(availableCpus());
      expect(s.inputs).toEqual([{ name: 'X', isTensor: true, type: 'float32', dims: ['batch', 3] }]);
      expect(s.outputs).toEqual([{ name: 'Y', isTensor: true, type: 'float32', dims: ['batch', 2] }]);
      const x = new Float32Array([1, 2, 3, -1, 0, 0.5]);
      const out = await s.run({ X: { type: 'float32', dims: [2, 3], data: x } });
      expect(maxDiff(out.Y.data as Float32Array, linear.reference(x))).toBeLessThan(1e-6);
    } finally {
      await s.release();
    }
    await s.release(); // idempotent
    await expect(s.run({})).rejects.toThrow('the session for file:///models/m.onnx was released');
  });

  test('run computes only the outputs asked for', async () => {
    const m = twoInputModel({ k: 2, dim: 2, proj: 3, seed: 1 });
    const s = await createScoringSession(m.bytes, { ...cpu, intraOpThreads: 1 });
    const out = await s.run({ X: { type: 'float32', dims: [1, 2], data: new Float32Array(2) }, E: { type: 'float32', dims: [1, 2], data: new Float32Array(2) } }, ['argmax']);
    expect(Object.keys(out)).toEqual(['argmax']);
    expect(s.intraOpThreads).toBe(1);
    await s.release();
  });

  test('a sha256 mismatch is a BadInputError naming the uri and both hashes; case does not matter', async () => {
    const actual = createHash('sha256').update(linear.bytes).digest('hex');
    const wrong = 'AB'.repeat(32);
    const e = await caught(createScoringSession(linear.bytes, { ...cpu, expectedSha256: wrong }));
    expect(e).toBeInstanceOf(BadInputError);
    expect(e.message).toBe(`model at file:///models/m.onnx has sha256 ${actual}, but spec.model.sha256 is ${'ab'.repeat(32)}: the bytes differ from the model expected`);
    const ok = await createScoringSession(linear.bytes, { ...cpu, expectedSha256: actual.toUpperCase() });
    await ok.release();
  });

  test.each(['cpu', 'auto', 'cuda'] as const)('bytes that are not an ONNX model are a BadInputError (%s)', async (executionProvider) => {
    const garbage = [new Uint8Array([1, 2, 3, 4, 5]), new TextEncoder().encode('<html>not found</html>'), new Uint8Array(0)];
    // Each CUDA attempt makes onnxruntime log an error line: one kind of garbage is enough there.
    for (const bytes of executionProvider === 'cpu' ? garbage : garbage.slice(0, 1)) {
      const e = await caught(createScoringSession(bytes, { executionProvider, modelUri: 's3://models/churn.onnx' }));
      expect(e).toBeInstanceOf(BadInputError);
      expect(e.message).toMatch(/^model at s3:\/\/models\/churn\.onnx is not a valid ONNX model: onnxruntime cannot load it: ./);
      // The cause is onnxruntime's own error (from the native binding's realm, so not `instanceof Error` here).
      expect(String(((e as Error & { cause?: { message?: unknown } }).cause)?.message)).toMatch(/./);
      expect(e.message).not.toContain('Error: ');
    }
  });
});

describe('execution providers', () => {
  const lib = cudaProviderLibrary();

  test('the CUDA provider library is looked up next to the onnxruntime-node binding', () => {
    expect(lib.path).toMatch(/onnxruntime-node\/bin\/napi-v6\/.+onnxruntime_providers_cuda/);
  });

  test("'cuda' either runs on CUDA or fails saying CUDA could not be loaded and how to fix it", async () => {
    const r = await createScoringSession(linear.bytes, { ...cpu, executionProvider: 'cuda' }).then((s) => s, (e: Error) => e);
    if (!(r instanceof Error)) {
      expect(r.provider).toBe('cuda'); // a machine with the CUDA provider and a GPU
      await r.release();
      return;
    }
    expect(r.message).toMatch(/^executionProvider is cuda, but CUDA could not be loaded: .+/);
    expect(r.message).toContain('Use executionProvider: cpu, or auto (which falls back to the CPU), or run the CUDA worker image');
    if (!lib.installed) {
      // This image: onnxruntime-node installed without its CUDA provider. Retrying cannot help.
      expect(r).toBeInstanceOf(BadInputError);
      expect(r.message).toContain(`onnxruntime-node's CUDA provider is not installed in this image: ${lib.path} is missing`);
      expect(r.message).toContain('Failed to load shared library');
    } else {
      expect(r).toBeInstanceOf(CudaUnavailableError);
    }
  });

  test.each([true, false])("'auto' uses CUDA when it loads, else the CPU, and says why (library check %p)", async (cudaLibraryCheck) => {
    const s = await createScoringSession(linear.bytes, { ...cpu, executionProvider: 'auto', cudaLibraryCheck });
    try {
      if (s.provider === 'cuda') {
        expect(s.fallbackReason).toBeUndefined();
        return;
      }
      expect(s.provider).toBe('cpu');
      if (!lib.installed && cudaLibraryCheck) {
        expect(s.fallbackReason).toBe(`onnxruntime-node's CUDA provider is not installed (${lib.path} is missing)`);
      } else {
        // A real attempt: onnxruntime refuses ['cuda'] outright (it would refuse ['cuda', 'cpu'] too).
        expect(s.fallbackReason).toMatch(/^CUDA could not be loaded: ./);
      }
      const out = await s.run({ X: { type: 'float32', dims: [1, 3], data: new Float32Array([1, 1, 1]) } });
      expect(maxDiff(out.Y.data as Float32Array, linear.reference([1, 1, 1]))).toBeLessThan(1e-6);
    } finally {
      await s.release();
    }
  });
});

describe('scoring Arrow data end to end: plan, pack, score, unpack', () => {
  test('two inputs, three outputs (select, FixedSizeList, int64), with bad rows', async () => {
    const m = twoInputModel({ k: 3, dim: 4, proj: 3, seed: 5 });
    const n = 50;
    const rand = prng(3);
    const f = (j: number) => Array.from({ length: n }, (_, i) => (i === 7 && j === 1 ? null : i === 20 && j === 2 ? NaN : rand() * 2 - 1));
    const emb = Array.from({ length: n }, (_, i) => (i === 33 ? null : Array.from({ length: 4 }, () => rand() - 0.5)));
    const t = new A.Table({
      id: A.vectorFromArray(Array.from({ length: n }, (_, i) => `row-${i}`), new A.Utf8()),
      f0: A.vectorFromArray(f(0), new A.Float64()), f1: A.vectorFromArray(f(1), new A.Float32()), f2: A.vectorFromArray(f(2), new A.Float64()),
      emb: A.vectorFromArray(emb, new A.FixedSizeList(4, new A.Field('item', new A.Float32(), true))),
    });
    const mapping: ModelMappingLike = {
      inputs: { X: { columns: ['f0', 'f1', 'f2'] }, E: { column: 'emb' } },
      outputs: { score: { column: 'score', select: 0 }, proj: { column: 'proj' }, argmax: { column: 'best' } },
    };
    const s = await createScoringSession(m.bytes, cpu);
    const plan = planScoring(mapping, s, t.schema);
    const packed = packInputs(t, plan, { idColumn: 'id' });
    expect(Array.from(packed.bad.rows)).toEqual([7, 20, 33]);
    expect(packed.bad.reasons).toEqual(['null in column f1', 'NaN in column f2', 'null in column emb']);
    const outputs = await s.score(plan, packed);
    await s.release();
    const cols = Object.fromEntries(unpackOutputs(outputs, plan, { positions: packed.goodRows, length: n }));
    expect(Object.keys(cols)).toEqual(['score', 'proj', 'best']);
    expect(String(cols.proj.type)).toBe('FixedSizeList[3]<Float32>');
    expect(String(cols.best.type)).toBe('Int64');
    const [x, e] = packed.tensors;
    const ref = m.reference(x.data as Float32Array, e.data as Float32Array);
    const good = Array.from(packed.goodRows);
    expect(maxDiff(good.map((r) => cols.score.get(r)), ref.score)).toBeLessThan(1e-6);
    expect(maxDiff(good.flatMap((r) => Array.from(cols.proj.get(r) as A.Vector, Number)), ref.proj)).toBeLessThan(1e-5);
    expect(good.map((r) => Number(cols.best.get(r)))).toEqual(Array.from(ref.argmax));
    for (const r of [7, 20, 33]) expect([cols.score.get(r), cols.proj.get(r), cols.best.get(r)]).toEqual([null, null, null]);
  });

  test.each([[10, 4], [4, 4], [3, 4], [0, 4]])('a fixed batch model: %i rows in batches of %i, padding dropped', async (n, batch) => {
    const m = mlpModel({ features: 5, hidden: [8], outputs: 2, seed: 11, softmax: true, batch });
    const rand = prng(n);
    const cols: Record<string, A.Vector> = {};
    for (let j = 0; j < 5; j++) cols[`c${j}`] = A.vectorFromArray(Float32Array.from({ length: n }, () => rand()));
    const t = new A.Table(cols);
    const s = await createScoringSession(m.bytes, cpu);
    const plan = planScoring({ inputs: { X: { columns: Object.keys(cols) } }, outputs: { Y: { column: 'p1', select: 1 } } }, s, t.schema);
    expect(plan.fixedBatch).toBe(batch);
    const packed = packInputs(t, plan);
    const out = await s.score(plan, packed);
    await s.release();
    const [p1] = unpackOutputs(out, plan);
    expect(p1[1].length).toBe(n);
    const ref = m.reference(packed.tensors[0].data as Float32Array);
    expect(maxDiff(p1[1].toArray() as Float32Array, Array.from({ length: n }, (_, r) => ref[2 * r + 1]))).toBeLessThan(1e-6);
  });

  test('a float16 model: float and decimal columns packed as float16, float16 outputs as a float32 column', async () => {
    const weights = [[0.5, -1], [2, 0.25], [-0.75, 1]];
    const bias = [0.1, -0.2];
    const m = linearModel({ features: 3, weights, bias, sigmoid: true, inputType: 'float16', outputType: 'float16' });
    const n = 200;
    const rand = prng(8);
    const a = Array.from({ length: n }, () => rand() * 8 - 4);
    const b = Array.from({ length: n }, () => rand() * 8 - 4);
    const cents = Array.from({ length: n }, () => BigInt(Math.round(rand() * 2000 - 1000)));
    const t = new A.Table({ a: A.vectorFromArray(a, new A.Float64()), b: A.vectorFromArray(b, new A.Float32()), d: decimalVector(cents, 12, 2) });
    const s = await createScoringSession(m.bytes, cpu);
    const plan = planScoring({ inputs: { X: { columns: ['a', 'b', 'd'] } }, outputs: { Y: { column: 'p', select: 1 } } }, s, t.schema);
    const packed = packInputs(t, plan);
    expect(packed.tensors[0].type).toBe('float16');
    const [[, p]] = unpackOutputs(await s.score(plan, packed), plan);
    await s.release();
    expect(String(p.type)).toBe('Float32');
    // The reference: float64 arithmetic on the columns' exact values (no float16 anywhere).
    const ref = m.reference(a.map((v, i) => [v, Math.fround(b[i]), Number(cents[i]) / 100]));
    const got = Array.from({ length: n }, (_, i) => p.get(i) as number);
    // Within float16 precision: each input is rounded to 11 significant bits (relative error 2^-11, at
    // most 4 * 2^-11 here), the sum of |w| is at most 3.25, the sigmoid's slope at most 1/4, and the
    // output is rounded to float16 once more (2^-11 relative, below 1).
    const bound = 0.25 * 3.25 * 4 * 2 ** -11 + 2 ** -11;
    got.forEach((v, i) => expect(Math.abs(v - ref[2 * i + 1])).toBeLessThanOrEqual(bound));
    // ... and not a float32 computation that merely happens to be close: the outputs are float16 values.
    expect(got.every((v) => Math.f16round(v) === v)).toBe(true);
  });

  test('int64 feature columns feed an int64 model input exactly', async () => {
    const m = linearModel({ features: 2, weights: [[1], [1e-6]], bias: [0], inputType: 'int64' });
    const t = new A.Table({ a: A.vectorFromArray([1n, -3n, null], new A.Int64()), b: A.vectorFromArray([10, 20, 30], new A.Int32()) });
    const s = await createScoringSession(m.bytes, cpu);
    const plan = planScoring({ inputs: { X: { columns: ['a', 'b'] } }, outputs: { Y: { column: 'y' } } }, s, t.schema);
    const packed = packInputs(t, plan);
    expect(packed.tensors[0].data).toEqual(new BigInt64Array([1n, 10n, -3n, 20n]));
    const [[, y]] = unpackOutputs(await s.score(plan, packed), plan, { positions: packed.goodRows, length: 3 });
    await s.release();
    expect(maxDiff(Array.from({ length: 2 }, (_, i) => y.get(i) as number), [1 + 1e-5, -3 + 2e-5])).toBeLessThan(1e-6);
    expect(y.get(2)).toBeNull();
  });
});
