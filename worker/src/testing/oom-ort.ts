/**
 * TEST-ONLY: onnxruntime-node as the inference thread loads it (ScoringSessionOptions.threadOrtPath),
 * with a device too small for big batches: a run of more than `oomAbove` rows (the first input's first
 * dimension) fails as onnxruntime's allocator does when memory runs out; smaller runs are real runs.
 * The limit comes from the thread's workerData.test (ScoringSessionOptions.threadTest).
 */
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';

export interface OomCue {
  oomAbove: number;
}

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
const cue = (workerData as { test?: OomCue } | null)?.test;
if (!cue) throw new Error('oom-ort.js needs workerData.test.oomAbove');
const limit = cue.oomAbove;

const proto = (ort.InferenceSession as unknown as { prototype: unknown }).prototype as { run: (feeds: Record<string, Ort.Tensor>, ...rest: unknown[]) => Promise<unknown> };
const run = proto.run;
proto.run = function (this: unknown, feeds: Record<string, Ort.Tensor>, ...rest: unknown[]) {
  const rows = Number(Object.values(feeds)[0]?.dims[0] ?? 0);
  if (rows > limit) {
    return Promise.reject(new Error(`Non-zero status code returned while running MatMul node. Name:'matmul' Status Message: `
      + `Failed to allocate memory for requested buffer of size ${rows * 4096}`));
  }
  return run.call(this, feeds, ...rest);
};

export const { InferenceSession, Tensor } = ort;
