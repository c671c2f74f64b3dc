/**
 * Ready-made models for tests, the benchmark and the quickstart. Each builder returns the encoded
 * ONNX bytes, the parameters it used, and a plain-JS `reference` that computes the expected outputs
 * (in float64) independently of ONNX Runtime.
 */
import type { ElementType } from '../tensors/type-rules.js';
import { GraphBuilder, ONNX_DATA_TYPE, type Dim, type OnnxElementType } from './onnx.js';

/** Input types the ready-made models take: any the worker feeds (a Cast to float32 follows). */
export type InputElementType = ElementType;

/** mulberry32: a tiny deterministic PRNG. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rows x cols matrix of uniform values in [-scale, scale). */
export function randomMatrix(rand: () => number, rows: number, cols: number, scale = 1): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => (rand() * 2 - 1) * scale));
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** out[r, :] = x[r, :] @ w + b, for a row-major x of `rows` rows. */
export function affine(x: ArrayLike<number>, rows: number, w: readonly (readonly number[])[], b: readonly number[]): Float64Array {
  const inW = w.length;
  const outW = b.length;
  const out = new Float64Array(rows * outW);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outW; o++) {
      let s = b[o];
      for (let i = 0; i < inW; i++) s += Number(x[r * inW + i]) * w[i][o];
      out[r * outW + o] = s;
    }
  }
  return out;
}

function softmaxRows(v: Float64Array, width: number): Float64Array {
  for (let r = 0; r < v.length; r += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) max = Math.max(max, v[r + j]);
    let sum = 0;
    for (let j = 0; j < width; j++) sum += (v[r + j] = Math.exp(v[r + j] - max));
    for (let j = 0; j < width; j++) v[r + j] /= sum;
  }
  return v;
}

const flat = (m: readonly (readonly number[])[]): number[] => m.flat();
const batchDim = (batch: number | 'dynamic' | undefined): Dim => (typeof batch === 'number' ? batch : 'batch');

/** Reads rows from a flat array or an array of rows. */
function toFlat(x: ArrayLike<number> | BigInt64Array | readonly (readonly number[])[]): ArrayLike<number> {
  if (x instanceof BigInt64Array) return Float64Array.from(x, Number);
  if (x.length > 0 && Array.isArray((x as readonly unknown[])[0])) return (x as number[][]).flat();
  return x as ArrayLike<number>;
}

export interface LinearModelOptions {
  inputName?: string;
  outputName?: string;
  features: number;
  /** features x outputs. */
  weights: number[][];
  /** One per output. */
  bias: number[];
  sigmoid?: boolean;
  /** A fixed batch size, or 'dynamic' (the default): a symbolic 'batch' dimension. */
  batch?: number | 'dynamic';
  /** Element type of the input; anything but float32 goes through a Cast to float. */
  inputType?: InputElementType;
  /** Element type of the output: float32 (the default), or float16 through a final Cast (a mixed
   * precision model's output). */
  outputType?: 'float32' | 'float16';
}

export interface BuiltModel<P, R> {
  bytes: Uint8Array;
  params: P;
  /** Expected outputs for the given input rows, computed in plain JS (float64). */
  reference: R;
}

export type LinearReference = (x: ArrayLike<number> | BigInt64Array | readonly (readonly number[])[]) => Float64Array;

/** Y = X @ W + b (then Sigmoid): X [batch, features] -> Y [batch, outputs]. */
export function linearModel(o: LinearModelOptions): BuiltModel<Required<Pick<LinearModelOptions, 'weights' | 'bias' | 'sigmoid'>>, LinearReference> {
  const { features, weights, bias } = o;
  const outputs = bias.length;
  if (weights.length !== features || weights.some((r) => r.length !== outputs)) {
    throw new Error(`weights must be ${features} x ${outputs} (features x outputs)`);
  }
  const inputName = o.inputName ?? 'X';
  const outputName = o.outputName ?? 'Y';
  const inputType = o.inputType ?? 'float32';
  const b = batchDim(o.batch);
  const g = new GraphBuilder('linear');
  let x = g.input(inputName, inputType, [b, features]);
  if (inputType !== 'float32') x = g.node('Cast', [x], { to: { i: ONNX_DATA_TYPE.float32 } });
  const w = g.init('W', 'float32', [features, outputs], flat(weights));
  const bb = g.init('B', 'float32', [outputs], bias);
  let y = g.node('Add', [g.node('MatMul', [x, w]), bb]);
  if (o.sigmoid) y = g.node('Sigmoid', [y]);
  const outputType = o.outputType ?? 'float32';
  if (outputType !== 'float32') y = g.node('Cast', [y], { to: { i: ONNX_DATA_TYPE[outputType] } });
  g.output(outputName, outputType, [b, outputs], y);
  const sig = o.sigmoid ?? false;
  return {
    bytes: g.encode(),
    params: { weights, bias, sigmoid: sig },
    reference: (input) => {
      const xs = toFlat(input);
      const out = affine(xs, xs.length / features, weights, bias);
      if (sig) for (let i = 0; i < out.length; i++) out[i] = sigmoid(out[i]);
      return out;
    },
  };
}

export interface MlpModelOptions {
  features: number;
  hidden: number[];
  outputs: number;
  seed: number;
  /** Softmax over the last axis of the output. */
  softmax?: boolean;
  inputName?: string;
  outputName?: string;
  batch?: number | 'dynamic';
}

export interface DenseLayer {
  weights: number[][];
  bias: number[];
}

/** features -> hidden[0] -> ... -> outputs, ReLU between layers, optional Softmax; seeded weights. */
export function mlpModel(o: MlpModelOptions): BuiltModel<{ layers: DenseLayer[]; softmax: boolean }, LinearReference> {
  const rand = prng(o.seed);
  const sizes = [o.features, ...o.hidden, o.outputs];
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const scale = 1 / Math.sqrt(sizes[l]);
    layers.push({
      weights: randomMatrix(rand, sizes[l], sizes[l + 1], scale),
      bias: Array.from({ length: sizes[l + 1] }, () => (rand() * 2 - 1) * 0.1),
    });
  }
  const b = batchDim(o.batch);
  const g = new GraphBuilder('mlp');
  let h = g.input(o.inputName ?? 'X', 'float32', [b, o.features]);
  layers.forEach((layer, l) => {
    const w = g.init(`W${l}`, 'float32', [sizes[l], sizes[l + 1]], flat(layer.weights));
    const bias = g.init(`B${l}`, 'float32', [sizes[l + 1]], layer.bias);
    h = g.node('Add', [g.node('MatMul', [h, w]), bias]);
    if (l + 1 < layers.length) h = g.node('Relu', [h]);
  });
  const softmax = o.softmax ?? false;
  if (softmax) h = g.node('Softmax', [h], { axis: { i: -1 } });
  g.output(o.outputName ?? 'Y', 'float32', [b, o.outputs], h);
  return {
    bytes: g.encode(),
    params: { layers, softmax },
    reference: (input) => {
      let v: ArrayLike<number> = toFlat(input);
      const rows = v.length / o.features;
      layers.forEach((layer, l) => {
        const out = affine(v, rows, layer.weights, layer.bias);
        if (l + 1 < layers.length) for (let i = 0; i < out.length; i++) out[i] = Math.max(0, out[i]);
        v = out;
      });
      return softmax ? softmaxRows(v as Float64Array, o.outputs) : (v as Float64Array);
    },
  };
}

export interface TwoInputModelOptions {
  /** Width of X (scalar feature columns). */
  k: number;
  /** Width of E (an embedding column). */
  dim: number;
  /** Width of the `proj` output. */
  proj: number;
  seed: number;
  xName?: string;
  eName?: string;
  batch?: number | 'dynamic';
  /** Element type of X (E is always float32); non-float32 goes through a Cast. */
  xType?: InputElementType;
}

export interface TwoInputParams {
  wx: number[][];
  we: number[][];
  b: number[];
  m: number[][];
  c: number[];
}

export interface TwoInputOutputs {
  /** [rows, 1]: sigmoid(X @ wx + E @ we + b). */
  score: Float64Array;
  /** [rows, proj]: E @ m + c. */
  proj: Float64Array;
  /** [rows]: argmax of proj over its last axis (int64 in the model). */
  argmax: Int32Array;
}

/**
 * Two inputs, X [batch, k] and E [batch, dim], and three outputs: `score` [batch, 1] (float32),
 * `proj` [batch, proj] (float32) and `argmax` [batch] (int64).
 */
export function twoInputModel(o: TwoInputModelOptions): BuiltModel<TwoInputParams, (x: ArrayLike<number> | BigInt64Array, e: ArrayLike<number>) => TwoInputOutputs> {
  const rand = prng(o.seed);
  const p: TwoInputParams = {
    wx: randomMatrix(rand, o.k, 1, 0.5),
    we: randomMatrix(rand, o.dim, 1, 0.5),
    b: [rand() - 0.5],
    m: randomMatrix(rand, o.dim, o.proj),
    c: Array.from({ length: o.proj }, () => rand() - 0.5),
  };
  const bd = batchDim(o.batch);
  const xType: OnnxElementType = o.xType ?? 'float32';
  const g = new GraphBuilder('two_input');
  let x = g.input(o.xName ?? 'X', xType, [bd, o.k]);
  if (xType !== 'float32') x = g.node('Cast', [x], { to: { i: ONNX_DATA_TYPE.float32 } });
  const e = g.input(o.eName ?? 'E', 'float32', [bd, o.dim]);
  const sx = g.node('MatMul', [x, g.init('WX', 'float32', [o.k, 1], flat(p.wx))]);
  const se = g.node('MatMul', [e, g.init('WE', 'float32', [o.dim, 1], flat(p.we))]);
  const logit = g.node('Add', [g.node('Add', [sx, se]), g.init('B', 'float32', [1], p.b)]);
  g.output('score', 'float32', [bd, 1], g.node('Sigmoid', [logit]));
  const proj = g.node('Add', [g.node('MatMul', [e, g.init('M', 'float32', [o.dim, o.proj], flat(p.m))]), g.init('C', 'float32', [o.proj], p.c)]);
  g.output('proj', 'float32', [bd, o.proj], proj);
  g.output('argmax', 'int64', [bd], g.node('ArgMax', [proj], { axis: { i: 1 }, keepdims: { i: 0 } }));
  return {
    bytes: g.encode(),
    params: p,
    reference: (xIn, eIn) => {
      const xs = toFlat(xIn);
      const rows = xs.length / o.k;
      const a = affine(xs, rows, p.wx, [0]);
      const bb = affine(eIn, rows, p.we, p.b);
      const score = a.map((v, i) => sigmoid(v + bb[i]));
      const pr = affine(eIn, rows, p.m, p.c);
      const argmax = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let j = 1; j < o.proj; j++) if (pr[r * o.proj + j] > pr[r * o.proj + best]) best = j;
        argmax[r] = best;
      }
      return { score, proj: pr, argmax };
    },
  };
}
