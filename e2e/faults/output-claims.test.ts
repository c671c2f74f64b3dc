/**
 * One run owns an output at a time (operator/src/commit/claim.ts). Two `bij run`s, each with its own
 * embedded cluster and operator (as two clusters would be), aim different BatchInferenceJobs at one
 * output: the first claims it; the second fails at once naming the owner, and writes nothing there;
 * the first commits a complete output. Then, once the first has ended, a third run may take it.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../../cluster/src/embedded/run-local.js';
import { silentLogger } from '../../operator/src/log.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { expectExactlyOnce } from '../support/cluster.js';
import { faultEnv } from '../support/fault-env.js';

const ROWS = 3 * 4_096;

function job(root: string, name: string, shards: number) {
  return {
    apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name },
    spec: {
      model: { uri: join(root, 'model.onnx'), inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
      input: { uri: join(root, 'in') + '/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: join(root, 'out') + '/' },
      shards, parallelism: 2, batchSize: 512, worker: { executionProvider: 'cpu' },
    },
  };
}

test('a second run into an output another run owns fails at once, naming the owner; the owner commits a complete output', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-claims-'));
  writeModel(root);
  await writeDataset(join(root, 'in'), { files: 3, rowsPerFile: ROWS / 3, rowGroupRows: 1_024 });

  let firstRunning!: () => void;
  const running = new Promise<void>((r) => { firstRunning = r; });
  let firstRunId: string | undefined;
  const first = runLocal(job(root, 'nightly', 6), {
    log: silentLogger(), timeoutMs: 120_000, workerEnv: faultEnv({ BIJ_FAULT: 'slow-rows:400' }),
    onStatus: (s) => {
      if (s?.phase === 'Running') {
        firstRunId = s.runId;
        firstRunning();
      }
    },
  });
  await running;

  const second = await runLocal(job(root, 'backfill', 3), { log: silentLogger(), timeoutMs: 60_000 });
  expect(second.phase).toBe('Failed');
  const cond = second.status?.conditions?.find((c) => c.type === 'Failed');
  expect(cond?.reason).toBe('OutputInUse');
  expect(cond?.message).toContain(`belongs to run ${firstRunId} of BatchInferenceJob default/nightly (claimed at`);
  expect(second.status?.shards).toBeUndefined(); // it never planned, so it never ran a shard
  expect(readdirSync(join(root, 'out', '_bij')).sort()).toEqual(['claims', firstRunId]);

  const done = await first;
  expect(done.phase).toBe('Succeeded');
  const manifest = await expectExactlyOnce(join(root, 'out'), ROWS);
  expect(manifest.runId).toBe(firstRunId);
  expect(manifest.shards).toHaveLength(6);

  // The first run released the output when it committed: a new run of another job may take it now.
  const third = await runLocal(job(root, 'backfill', 3), { log: silentLogger(), timeoutMs: 120_000 });
  expect(third.phase).toBe('Succeeded');
  const again = await expectExactlyOnce(join(root, 'out'), ROWS);
  expect(again.shards).toHaveLength(3);
  expect(existsSync(join(root, 'out', '_SUCCESS'))).toBe(true);
}, 240_000);
