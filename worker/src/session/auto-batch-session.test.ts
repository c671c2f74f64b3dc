/** @jest-environment ./worker/src/session/jest-ort-environment.js */
import { fileURLToPath } from 'node:url';
import * as A from 'apache-arrow';
import { mlpModel, prng } from '../../../core/src/modelgen/index.js';
import { packInputs, planScoring, type DenseTensor, type ModelMappingLike } from '../tensors/index.js';
import { threadModuleUrl } from '../../../core/src/threads/module-file.js';
import type { OomCue } from '../testing/oom-ort.js';
import { createScoringSession, type ScoreReport, type ScoringSessionOptions } from './session.js';

// A real model, in the real inference thread, on an onnxruntime whose runs of more than 100 rows fail
// as its allocator does when memory runs out (testing/oom-ort.ts).
const oomOrt = fileURLToPath(threadModuleUrl('../testing/oom-ort.js', import.meta.url));
const cpu: ScoringSessionOptions = { executionProvider: 'cpu', modelUri: 'file:///models/m.onnx', intraOpThreads: 1 };
const small: ScoringSessionOptions = { ...cpu, thread: true, threadOrtPath: oomOrt, threadTest: { oomAbove: 100 } satisfies OomCue };
const m = mlpModel({ features: 4, hidden: [16], outputs: 2, seed: 3 });

function table(n: number): A.Table {
  const rand = prng(n);
  const cols: Record<string, A.Vector> = {};
  for (let j = 0; j < 4; j++) cols[`c${j}`] = A.vectorFromArray(Array.from({ length: n }, () => rand() * 2 - 1), new A.Float32());
  return new A.Table(cols);
}
const mapping: ModelMappingLike = { inputs: { X: { columns: ['c0', 'c1', 'c2', 'c3'] } }, outputs: { Y: { column: 'out' } } };
const values = (out: Record<string, DenseTensor>) => ({ dims: [...out.Y.dims], data: Array.from(out.Y.data as Float32Array) });

test('out of memory in the thread: the run is retried with half the rows until it fits, every row scored once', async () => {
  const reference = await createScoringSession(m.bytes, cpu);
  const s = await createScoringSession(m.bytes, small);
  try {
    expect(s.inThread).toBe(true);
    expect(s.threadFallbackReason).toBeUndefined();
    const t = table(1000);
    const plan = planScoring(mapping, s, t.schema);
    const expected = values(await reference.score(plan, packInputs(t, plan)));
    expect(expected.dims).toEqual([1000, 2]);

    const reports: ScoreReport[] = [];
    const out = await s.score(plan, packInputs(t, plan), { maxBatch: 512, shrinkOnOom: true, onReport: (r) => reports.push(r) });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ rows: 1000, size: 512, oom: [512, 256, 128] });
    expect(reports[0].ms).toBeGreaterThan(0);
    // Same values, same rows, once each (the 64-row runs after the back-off cover all 1000).
    const got = values(out);
    expect(got.dims).toEqual([1000, 2]);
    expect(Math.max(...got.data.map((v, i) => Math.abs(v - expected.data[i])))).toBeLessThan(1e-6);

    // Without shrinkOnOom (a fixed batchSize) the error is the caller's, with onnxruntime's message.
    await expect(s.score(plan, packInputs(t, plan), { maxBatch: 512 })).rejects.toThrow(/Failed to allocate memory for requested buffer/);
    // Runs that fit are not retried.
    const fits: ScoreReport[] = [];
    await s.score(plan, packInputs(t, plan), { maxBatch: 100, shrinkOnOom: true, onReport: (r) => fits.push(r) });
    expect(fits[0]).toMatchObject({ rows: 1000, size: 100, oom: [] });
  } finally {
    await reference.release();
    await s.release();
  }
});

test('in process, the report gives the rows per run and the model time', async () => {
  const s = await createScoringSession(m.bytes, cpu);
  try {
    const t = table(300);
    const plan = planScoring(mapping, s, t.schema);
    const reports: ScoreReport[] = [];
    const out = await s.score(plan, packInputs(t, plan), { maxBatch: 128, shrinkOnOom: true, onReport: (r) => reports.push(r) });
    expect(out.Y.dims).toEqual([300, 2]);
    expect(reports).toEqual([{ rows: 300, size: 128, ms: expect.any(Number), oom: [] }]);
  } finally {
    await s.release();
  }
});
