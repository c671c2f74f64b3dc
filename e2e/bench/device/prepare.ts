/**
 * GPU device check, step 0 (runs from the bundle, on the device and in the dry run): writes the bench's
 * Parquet data and the models the check scores, each with its weights in a plain file for the PyTorch
 * anchor (anchor.py), so both sides score the same rows with the same weights.
 *
 *   node dist/e2e/bench/device/prepare.js --out DIR --rows N --cmp-rows M --wide 16,4096,4096,4096,2
 *
 * DIR/data/      part-N.parquet and meta.json (bench-data.ts: id + f0..f15, float32 in [-1, 1))
 * DIR/data-cmp/  the first M rows' worth, same generator: the wide model's CUDA-vs-CPU comparison
 *                (the CPU scores the wide model thousands of times slower than the GPU)
 * DIR/models/    small.onnx (the bench's MLP 16-64-64-2), wide-fp32.onnx and wide-fp16.onnx (the
 *                --wide MLP; fp16 casts its float32 input to float16, computes every layer and the
 *                softmax in float16, and casts the probabilities back to float32), and for each
 *                weight set NAME.weights.json + NAME.weights.bin (float32, little-endian, each layer's
 *                W [in, out] row-major then its bias).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GraphBuilder, ONNX_DATA_TYPE, prng } from '../../../core/src/modelgen/index.js';
import { benchModel, writeBenchData } from '../bench-data.js';

export interface MlpWeights {
  sizes: number[];
  softmax: boolean;
  /** Per layer: W [sizes[l], sizes[l+1]] row-major, then B [sizes[l+1]]. */
  layers: { w: Float32Array; b: Float32Array }[];
}

/** Seeded weights of an MLP, scaled 1/sqrt(fan-in) so that activations stay near 1 at any width. */
export function wideWeights(sizes: number[], seed: number): MlpWeights {
  const rand = prng(seed);
  const layers = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const scale = 1 / Math.sqrt(sizes[l]);
    const w = new Float32Array(sizes[l] * sizes[l + 1]);
    for (let i = 0; i < w.length; i++) w[i] = (rand() * 2 - 1) * scale;
    const b = new Float32Array(sizes[l + 1]);
    for (let i = 0; i < b.length; i++) b[i] = (rand() * 2 - 1) * 0.1;
    layers.push({ w, b });
  }
  return { sizes, softmax: true, layers };
}

/** The MLP as ONNX: input X float32 [batch, in], output probs float32 [batch, out]; `dtype` is the
 * type the layers compute in. */
export function mlpOnnx(m: MlpWeights, dtype: 'float32' | 'float16'): Uint8Array {
  const { sizes } = m;
  const g = new GraphBuilder(`mlp_${dtype}`);
  let h = g.input('X', 'float32', ['batch', sizes[0]]);
  if (dtype === 'float16') h = g.node('Cast', [h], { to: { i: ONNX_DATA_TYPE.float16 } });
  m.layers.forEach((layer, l) => {
    const w = g.init(`W${l}`, dtype, [sizes[l], sizes[l + 1]], layer.w);
    const b = g.init(`B${l}`, dtype, [sizes[l + 1]], layer.b);
    h = g.node('Add', [g.node('MatMul', [h, w]), b]);
    if (l + 1 < m.layers.length) h = g.node('Relu', [h]);
  });
  if (m.softmax) h = g.node('Softmax', [h], { axis: { i: -1 } });
  if (dtype === 'float16') h = g.node('Cast', [h], { to: { i: ONNX_DATA_TYPE.float32 } });
  g.output('probs', 'float32', ['batch', sizes[sizes.length - 1]], h);
  return g.encode();
}

/** NAME.weights.json (shapes) and NAME.weights.bin (the floats), for anchor.py. */
export function writeWeights(dir: string, name: string, m: MlpWeights): void {
  writeFileSync(join(dir, `${name}.weights.json`), JSON.stringify({ sizes: m.sizes, softmax: m.softmax, file: `${name}.weights.bin` }));
  const parts: Buffer[] = [];
  for (const { w, b } of m.layers) parts.push(Buffer.from(w.buffer, w.byteOffset, w.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  writeFileSync(join(dir, `${name}.weights.bin`), Buffer.concat(parts));
}

/** FLOPs per row of an MLP (2 per multiply-add). */
export const flopsPerRow = (sizes: number[]): number => sizes.slice(1).reduce((s, out, l) => s + 2 * sizes[l] * out, 0);

function main(): void {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, rows: { type: 'string', default: String(1 << 20) }, 'cmp-rows': { type: 'string', default: String(1 << 16) }, wide: { type: 'string', default: '16,4096,4096,4096,2' } },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const rows = Number(values.rows);
  const wide = values.wide.split(',').map(Number);
  const features = 16;
  if (wide[0] !== features || wide[wide.length - 1] !== 2 || wide.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--wide must go from ${features} inputs to 2 outputs, e.g. 16,4096,4096,4096,2; got ${values.wide}`);
  }
  const t0 = performance.now();
  writeBenchData(join(values.out, 'data'), rows, features);
  writeBenchData(join(values.out, 'data-cmp'), Number(values['cmp-rows']), features);
  const models = join(values.out, 'models');
  mkdirSync(models, { recursive: true });
  const small = benchModel(features);
  writeFileSync(join(models, 'small.onnx'), small.bytes);
  writeWeights(models, 'small', {
    sizes: [features, 64, 64, 2], softmax: true,
    layers: small.params.layers.map((l) => ({ w: Float32Array.from(l.weights.flat()), b: Float32Array.from(l.bias) })),
  });
  const w = wideWeights(wide, 7);
  writeFileSync(join(models, 'wide-fp32.onnx'), mlpOnnx(w, 'float32'));
  writeFileSync(join(models, 'wide-fp16.onnx'), mlpOnnx(w, 'float16'));
  writeWeights(models, 'wide', w);
  console.log(`prepared ${rows} rows x ${features} features; models small (MLP 16-64-64-2, ${(flopsPerRow([features, 64, 64, 2]) / 1e3).toFixed(1)} kFLOP/row) `
    + `and wide (MLP ${wide.join('-')}, ${(flopsPerRow(wide) / 1e6).toFixed(1)} MFLOP/row, float32 and float16) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
