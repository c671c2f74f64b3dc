/** @jest-environment ./worker/src/session/jest-ort-environment.js */
import { jest } from '@jest/globals';
import * as A from 'apache-arrow';
import { BadInputError } from '../../../core/src/contract/index.js';
import { GraphBuilder, linearModel, mlpModel, prng, twoInputModel } from '../../../core/src/modelgen/index.js';
import { packInputs, planScoring, type DenseTensor, type ModelMappingLike, type PackedBatch, type ScoringPlan } from '../tensors/index.js';
import { InferenceThread, InferenceThreadError, toWire } from './inference-thread.js';
import { createScoringSession, type ScoringSession, type ScoringSessionOptions } from './session.js';

const cpu: ScoringSessionOptions = { executionProvider: 'cpu', modelUri: 'file:///models/m.onnx' };
const threaded: ScoringSessionOptions = { ...cpu, thread: true };
const linear = linearModel({ features: 3, weights: [[1, -1], [0.5, 2], [-2, 0.25]], bias: [0.1, 0.2], sigmoid: true });

/** Rejects with `what` timed out rather than letting a test hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await within(p, 20_000, 'the call');
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Both paths, same bytes and options: the session in process and the one in a thread. */
async function both(bytes: Uint8Array, options: ScoringSessionOptions = cpu): Promise<[ScoringSession, ScoringSession]> {
  const local = await createScoringSession(bytes, { ...options, thread: false });
  const thread = await createScoringSession(bytes, { ...options, thread: true });
  expect(local.inThread).toBe(false);
  expect(thread.inThread).toBe(true);
  expect(thread.threadFallbackReason).toBeUndefined();
  return [local, thread];
}

/** Outputs as plain comparable values: exact equality (same kernels, same threads, same inputs). */
function plain(out: Record<string, DenseTensor>): Record<string, { type: string; dims: number[]; ctor: string; data: unknown[] }> {
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], ctor: t.data.constructor.name, data: Array.from(t.data as ArrayLike<unknown>) }]));
}

function table(n: number, features: number, seed: number, bad: number[] = []): A.Table {
  const rand = prng(seed);
  const cols: Record<string, A.Vector> = {};
  for (let j = 0; j < features; j++) {
    cols[`c${j}`] = A.vectorFromArray(Array.from({ length: n }, (_, i) => (bad.includes(i) && j === 0 ? null : rand() * 2 - 1)), new A.Float32());
  }
  return new A.Table(cols);
}

function mapping(features: number, output: string, select?: number): ModelMappingLike {
  return { inputs: { X: { columns: Array.from({ length: features }, (_, j) => `c${j}`) } }, outputs: { [output]: { column: 'out', select } } };
}

describe('the inference thread gives exactly what the in-process session gives', () => {
  test('metadata, provider, sha256, threads, run (all outputs and some)', async () => {
    const m = twoInputModel({ k: 2, dim: 3, proj: 4, seed: 9 });
    const [local, thread] = await both(m.bytes, { ...cpu, intraOpThreads: 1 });
    try {
      for (const key of ['provider', 'fallbackReason', 'sha256', 'modelUri', 'intraOpThreads', 'inputs', 'outputs'] as const) {
        expect(thread[key]).toEqual(local[key]);
      }
      const rand = prng(4);
      const feeds = {
        X: { type: 'float32', dims: [5, 2], data: Float32Array.from({ length: 10 }, () => rand()) },
        E: { type: 'float32', dims: [5, 3], data: Float32Array.from({ length: 15 }, () => rand()) },
      };
      const a = await local.run(feeds);
      const b = await thread.run(feeds);
      expect(Object.keys(b)).toEqual(Object.keys(a));
      expect(plain(b)).toEqual(plain(a));
      expect(b.argmax.data).toBeInstanceOf(BigInt64Array);
      expect(plain(await thread.run(feeds, ['argmax']))).toEqual(plain(await local.run(feeds, ['argmax'])));
      // run() copies its feeds: the caller's arrays are left alone.
      expect(feeds.X.data.length).toBe(10);
    } finally {
      await local.release();
      await thread.release();
    }
  });

  test.each([
    ['dynamic batch, one run', 1000, undefined, undefined],
    ['dynamic batch in runs of at most 128 rows', 1000, undefined, 128],
    ['zero rows still give typed outputs', 0, undefined, 64],
    ['fixed batch of 4, last run padded', 10, 4, undefined],
    ['fixed batch larger than the rows', 3, 8, undefined],
    ['fixed batch, zero rows', 0, 4, undefined],
  ])('score: %s', async (_, n, batch, maxBatch) => {
    const m = mlpModel({ features: 6, hidden: [16, 8], outputs: 3, seed: n + 1, softmax: true, batch: batch ?? 'dynamic' });
    const t = table(n, 6, n + 2, n > 5 ? [1, 5] : []);
    const [local, thread] = await both(m.bytes);
    try {
      const plan = planScoring(mapping(6, 'Y', 2), local, t.schema);
      expect(plan.fixedBatch).toBe(batch);
      const packed = packInputs(t, plan);
      const a = await local.score(plan, packed, { maxBatch });
      const b = await thread.score(plan, packed, { maxBatch });
      expect(b.Y.dims).toEqual([packed.goodRows.length, 3]);
      expect(plain(b)).toEqual(plain(a));
    } finally {
      await local.release();
      await thread.release();
    }
  });

  test('two inputs (one of them a list column), three outputs, int64 among them', async () => {
    const m = twoInputModel({ k: 3, dim: 4, proj: 3, seed: 5 });
    const n = 300;
    const rand = prng(3);
    const t = new A.Table({
      f0: A.vectorFromArray(Array.from({ length: n }, () => rand()), new A.Float64()),
      f1: A.vectorFromArray(Array.from({ length: n }, (_, i) => (i === 7 ? null : rand())), new A.Float32()),
      f2: A.vectorFromArray(Array.from({ length: n }, () => rand()), new A.Float64()),
      emb: A.vectorFromArray(Array.from({ length: n }, () => Array.from({ length: 4 }, () => rand() - 0.5)), new A.FixedSizeList(4, new A.Field('item', new A.Float32(), true))),
    });
    const map: ModelMappingLike = {
      inputs: { X: { columns: ['f0', 'f1', 'f2'] }, E: { column: 'emb' } },
      outputs: { score: { column: 'score', select: 0 }, proj: { column: 'proj' }, argmax: { column: 'best' } },
    };
    const [local, thread] = await both(m.bytes);
    try {
      const plan = planScoring(map, local, t.schema);
      const packed = packInputs(t, plan);
      expect(plain(await thread.score(plan, packed, { maxBatch: 64 }))).toEqual(plain(await local.score(plan, packed, { maxBatch: 64 })));
    } finally {
      await local.release();
      await thread.release();
    }
  });

  test('float16 inputs and outputs, with a fixed batch (slices and padding of float16 data)', async () => {
    const m = linearModel({ features: 3, weights: [[1, -1], [0.5, 2], [-2, 0.25]], bias: [0.1, 0.2], sigmoid: true, inputType: 'float16', outputType: 'float16', batch: 4 });
    const t = table(10, 3, 21, [4]);
    const [local, thread] = await both(m.bytes);
    try {
      const plan = planScoring(mapping(3, 'Y'), local, t.schema);
      expect(plan.inputs[0].type).toBe('float16');
      const packed = packInputs(t, plan);
      const a = plain(await local.score(plan, packed));
      expect(plain(await thread.score(plan, packed))).toEqual(a);
      expect(a.Y).toMatchObject({ type: 'float16', dims: [9, 2] });
    } finally {
      await local.release();
      await thread.release();
    }
  });

  test('int64 inputs', async () => {
    const m = linearModel({ features: 2, weights: [[1], [1e-6]], bias: [0], inputType: 'int64' });
    const t = new A.Table({ c0: A.vectorFromArray([1n, -3n, 5n], new A.Int64()), c1: A.vectorFromArray([10, 20, 30], new A.Int32()) });
    const [local, thread] = await both(m.bytes);
    try {
      const plan = planScoring(mapping(2, 'Y'), local, t.schema);
      const packed = packInputs(t, plan);
      expect(plain(await thread.score(plan, packed))).toEqual(plain(await local.score(plan, packed)));
    } finally {
      await local.release();
      await thread.release();
    }
  });

  test('an output without the batch as its first dimension is the same BadInputError', async () => {
    const g = new GraphBuilder('sum');
    g.input('X', 'float32', ['batch', 3]);
    g.output('S', 'float32', [], g.node('ReduceSum', ['X'], { keepdims: { i: 0 } }));
    const [local, thread] = await both(g.encode());
    try {
      const plan: ScoringPlan = { inputs: [], outputs: [{ name: 'S' }] as unknown as ScoringPlan['outputs'], fixedBatch: undefined };
      const packed = { numRows: 2, goodRows: new Int32Array([0, 1]), tensors: [{ name: 'X', type: 'float32', dims: [2, 3], data: new Float32Array(6) }] } as unknown as PackedBatch;
      const a = await caught(local.score(plan, packed));
      const b = await caught(thread.score(plan, packed));
      expect(a).toBeInstanceOf(BadInputError);
      expect(b).toBeInstanceOf(BadInputError);
      expect(b.message).toBe("model output 'S' has shape [] for a batch of 2 rows; mapped outputs must have the batch as their first dimension");
      expect(b.message).toBe(a.message);
    } finally {
      await local.release();
      await thread.release();
    }
  });
});

describe('errors on the thread path', () => {
  test.each(['cpu', 'auto', 'cuda'] as const)('bytes that are not an ONNX model: the same BadInputError, and no thread left (%s)', async (executionProvider) => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const options: ScoringSessionOptions = { executionProvider, modelUri: 's3://models/churn.onnx' };
    const a = await caught(createScoringSession(bytes, options));
    const terminate = jest.spyOn(InferenceThread.prototype, 'terminate');
    let b: Error;
    try {
      b = await caught(createScoringSession(bytes, { ...options, thread: true }));
      expect(terminate).toHaveBeenCalledTimes(1);
      const thread = terminate.mock.contexts[0] as InferenceThread;
      expect(thread.dead).toBe(true);
      expect(typeof thread.exitedWith).toBe('number');
    } finally {
      terminate.mockRestore();
    }
    expect(b).toBeInstanceOf(BadInputError);
    expect(b.message).toMatch(/^model at s3:\/\/models\/churn\.onnx is not a valid ONNX model: onnxruntime cannot load it: ./);
    expect(b.message).toBe(a.message);
    expect(String((b.cause as { message?: unknown } | undefined)?.message)).toMatch(/./);
  });

  test('a sha256 mismatch is the same BadInputError (checked before any thread starts)', async () => {
    const wrong = 'ab'.repeat(32);
    const a = await caught(createScoringSession(linear.bytes, { ...cpu, expectedSha256: wrong }));
    const b = await caught(createScoringSession(linear.bytes, { ...threaded, expectedSha256: wrong }));
    expect(b).toBeInstanceOf(BadInputError);
    expect(b.message).toBe(a.message);
    expect(b.message).toContain('but spec.model.sha256 is ' + wrong);
  });

  test("'cuda' fails (or runs) the same way in the thread", async () => {
    const a = await createScoringSession(linear.bytes, { ...cpu, executionProvider: 'cuda' }).then((s) => s, (e: Error) => e);
    const b = await createScoringSession(linear.bytes, { ...threaded, executionProvider: 'cuda' }).then((s) => s, (e: Error) => e);
    if (!(a instanceof Error) || !(b instanceof Error)) {
      // A machine with a GPU and the CUDA provider: both run on CUDA.
      expect(a instanceof Error ? a.message : a.provider).toBe('cuda');
      expect(b instanceof Error ? b.message : b.provider).toBe('cuda');
      if (!(a instanceof Error)) await a.release();
      if (!(b instanceof Error)) await b.release();
      return;
    }
    expect(b.constructor).toBe(a.constructor);
    expect(b.message).toBe(a.message);
  });

  test('where onnxruntime-node cannot be loaded in a thread, the session runs in process and says why', async () => {
    const s = await createScoringSession(linear.bytes, { ...threaded, threadOrtPath: '/nonexistent/onnxruntime-node/index.js' });
    try {
      expect(s.inThread).toBe(false);
      expect(s.thread).toBeUndefined();
      expect(s.threadFallbackReason).toMatch(/^cannot load onnxruntime-node \(\/nonexistent\/onnxruntime-node\/index\.js\) in a worker thread: .*Cannot find module/);
      const x = new Float32Array([1, 2, 3]);
      const out = await s.run({ X: { type: 'float32', dims: [1, 3], data: x } });
      const ref = linear.reference(x);
      expect(out.Y.data).toHaveLength(2);
      expect(Math.max(...Array.from(out.Y.data as Float32Array, (v, i) => Math.abs(v - ref[i])))).toBeLessThan(1e-6);
    } finally {
      await s.release();
    }
  });
});

describe('the thread itself', () => {
  test('release() ends the thread; the session is unusable afterwards', async () => {
    const s = await createScoringSession(linear.bytes, threaded);
    const thread = s.thread as InferenceThread;
    expect(thread.dead).toBe(false);
    expect(thread.exitedWith).toBeUndefined();
    await within(s.release(), 10_000, 'release');
    expect(thread.dead).toBe(true);
    expect(typeof thread.exitedWith).toBe('number');
    await s.release(); // idempotent
    await expect(s.run({})).rejects.toThrow('the session for file:///models/m.onnx was released');
  });

  test('a thread that crashes fails the requests in flight and later ones with an error (no hang)', async () => {
    const m = mlpModel({ features: 4, hidden: [8], outputs: 2, seed: 1 });
    const s = await createScoringSession(m.bytes, threaded);
    const t = table(50, 4, 1);
    const plan = planScoring(mapping(4, 'Y', 0), s, t.schema);
    const thread = s.thread as InferenceThread;
    thread.crashForTest();
    const inFlight = caught(s.score(plan, packInputs(t, plan)));
    const e = await inFlight;
    expect(e).toBeInstanceOf(InferenceThreadError);
    expect(e.message).toMatch(/^the inference thread (crashed: inference thread crash requested \(test\)|exited unexpectedly)/);
    expect(e).not.toBeInstanceOf(BadInputError); // a retry may work: not the input's fault
    const later = await caught(s.score(plan, packInputs(t, plan)));
    expect(later.message).toBe(e.message);
    await within(s.release(), 10_000, 'release after a crash');
    expect(thread.dead).toBe(true);
  });

  test('requests queue: at most two posted to the thread, answered in order', async () => {
    const m = mlpModel({ features: 8, hidden: [32], outputs: 2, seed: 2 });
    const [local, s] = await both(m.bytes);
    try {
      const batches = Array.from({ length: 6 }, (_, i) => table(2000 + i, 8, 10 + i));
      const plan = planScoring(mapping(8, 'Y', 1), s, batches[0].schema);
      const expected = await Promise.all(batches.map(async (b) => plain(await local.score(plan, packInputs(b, plan)))));
      const thread = s.thread as InferenceThread;
      const done: number[] = [];
      const results = await within(Promise.all(batches.map(async (b, i) => {
        const r = await s.score(plan, packInputs(b, plan), { maxBatch: 500 });
        done.push(i);
        return plain(r);
      })), 20_000, 'six scores');
      expect(results).toEqual(expected);
      expect(done).toEqual([0, 1, 2, 3, 4, 5]);
      expect(thread.peakPosted).toBe(2);
      expect(thread.busyMs).toBeGreaterThan(0);
    } finally {
      await local.release();
      await s.release();
    }
  });

  test('handed-over tensors and model bytes are transferred (detached), others are copied', async () => {
    const bytes = linear.bytes.slice();
    const s = await createScoringSession(bytes, { ...threaded, transferBytes: true });
    try {
      expect(bytes.byteLength).toBe(0); // transferred to the thread
      const t = table(20, 3, 5);
      const plan = planScoring(mapping(3, 'Y', 0), s, t.schema);
      const kept = packInputs(t, plan);
      const a = await s.score(plan, kept);
      expect(kept.tensors[0].data.length).toBe(60); // copied
      const handed = packInputs(t, plan);
      const b = await s.score(plan, handed, { transfer: true });
      expect(handed.tensors[0].data.length).toBe(0); // transferred
      expect(plain(b)).toEqual(plain(a));
    } finally {
      await s.release();
    }
    const unhanded = linear.bytes.slice();
    const u = await createScoringSession(unhanded, threaded);
    await u.release();
    expect(unhanded.byteLength).toBe(linear.bytes.byteLength); // copied
  });

  test('toWire never transfers a view on a larger buffer (a Buffer from the pool), nor one buffer twice', () => {
    const pool = Buffer.from([1, 2, 3, 4]);
    const shared = new Float32Array(8);
    const { feeds, transfer } = toWire([
      { name: 'a', type: 'uint8', dims: [4], data: pool as unknown as Float32Array },
      { name: 'b', type: 'float32', dims: [8], data: shared },
      { name: 'c', type: 'float32', dims: [8], data: shared },
      { name: 'd', type: 'float32', dims: [2], data: shared.subarray(0, 2) },
    ], true);
    expect(transfer).toHaveLength(4);
    expect(new Set(transfer).size).toBe(4);
    expect(transfer).toContain(shared.buffer);
    expect(transfer).not.toContain(pool.buffer);
    expect(feeds[0].data).toBeInstanceOf(Uint8Array);
    expect(Array.from(feeds[0].data as unknown as Uint8Array)).toEqual([1, 2, 3, 4]);
    expect(feeds[2].data).not.toBe(shared);
    expect(feeds[3].data.length).toBe(2);
  });
});
