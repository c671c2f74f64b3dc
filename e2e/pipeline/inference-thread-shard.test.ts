/**
 * A whole shard, with the model in its own thread (runShard's default, which keeps a second batch
 * queued in the thread) and in process: the same rows, the same scores, the same failed rows.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../core/src/storage/index.js';
import { runShard } from '../../worker/src/pipeline/run-shard.js';
import { planRun, freezePlan } from '../../operator/src/planner/plan-run.js';
import { BatchInferenceJobSpecSchema } from '../../core/src/contract/job-spec.js';
import { writeDataset, writeModel, readScores, scoreProblems } from '../../core/testing/fixtures.js';

const storage = openStorage();

test('runShard scores a shard identically with and without the inference thread', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-infer-thread-'));
  const modelPath = writeModel(join(root, 'models'));
  await writeDataset(join(root, 'in'), { files: 2, rowsPerFile: 3000, rowGroupRows: 500, badEvery: 89 });
  const spec = BatchInferenceJobSpecSchema.parse({
    model: { uri: modelPath, inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
    input: { uri: join(root, 'in') + '/', idColumn: 'id', passthroughColumns: ['region'] },
    output: { uri: join(root, 'out') + '/' },
    // Small model batches: many runs per decoded batch, and many decoded batches queued at the thread.
    shards: 1, batchSize: 128, maxFailedRows: 1000, worker: { executionProvider: 'cpu' },
  });
  const plan = await freezePlan(storage, await planRun(storage, { namespace: 'ns', name: 'j', uid: 'u', generation: 1 }, spec, 'r1', new Date()));

  const results = [];
  for (const [attempt, inferenceThread] of [[0, true], [1, false]] as const) {
    const logged: Record<string, unknown>[] = [];
    const r = await runShard({
      storage, plan, shard: 0, attempt, writerToken: `w${attempt}`, inferenceThread, queueDepth: 1,
      log: (msg, fields) => { if (msg === 'model loaded') logged.push(fields ?? {}); },
    });
    expect(logged).toEqual([expect.objectContaining({ inferenceThread, threadFallback: undefined })]);
    const scores = await readScores(join(root, 'out', '_bij', 'r1', 'shards', '00000', `a${attempt}`, 'part-*.parquet'));
    expect(scoreProblems(scores, 6000, 89)).toEqual([]);
    results.push({ rows: r.manifest.rows, scores: [...scores.entries()].sort((a, b) => a[0] - b[0]) });
  }
  expect(results[0].rows).toEqual({ read: 6000, scored: results[0].rows.scored, failed: 6000 - results[0].rows.scored });
  expect(results[0].rows.failed).toBeGreaterThan(0);
  expect(results[0]).toEqual(results[1]);
}, 60_000);
