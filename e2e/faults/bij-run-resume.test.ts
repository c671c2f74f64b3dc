/**
 * `bij run` resumes an interrupted run (cluster/src/embedded/resume.ts): the same job over the same
 * output gets the same run id, so the second invocation keeps the shards the first one scored and
 * runs only the rest. A committed run is not resumed: running the job again scores it afresh.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../../cluster/src/embedded/run-local.js';
import type { JobDocument } from '../../operator/src/cli/job-file.js';
import { silentLogger } from '../../operator/src/log.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import { faultEnv } from '../support/fault-env.js';

const ROWS = 3 * 4_096;

test('an interrupted bij run is resumed by the next one, keeping the shards already scored; a committed one runs afresh', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-resume-'));
  const model = writeModel(join(root, 'models'));
  await writeDataset(join(root, 'in'), { files: 3, rowsPerFile: ROWS / 3, rowGroupRows: 1_024 });
  const job = fixtureJob('nightly', { model, input: join(root, 'in') + '/', output: join(root, 'out') + '/' }, { shards: 6, parallelism: 2 }) as JobDocument;

  // First: shards 4 and 5 are very slow; stop the run once the other four are scored.
  const stop = new AbortController();
  const first = await runLocal(job, {
    log: silentLogger(), timeoutMs: 120_000, signal: stop.signal,
    workerEnv: faultEnv({ BIJ_FAULT: 'slow-rows:60000:4,slow-rows:60000:5' }),
    onStatus: (s) => { if ((s?.shards?.succeeded ?? 0) >= 4) stop.abort(); },
  });
  expect(first.phase).toBe('Interrupted');
  const runId = first.status?.runId;
  expect(runId).toBeDefined();
  const resumedAt = new Date().toISOString();

  // Second: same job, no slow shards. It picks up the run and starts workers for shards 4 and 5 only
  // (the local runner leaves one log file per pod it starts in its work folder).
  let told: string | undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'bij-resume-pods-'));
  const second = await runLocal(job, { log: silentLogger(), timeoutMs: 120_000, workDir, onResume: (id) => { told = id; } });
  expect(second.phase).toBe('Succeeded');
  expect(told).toBe(runId);
  expect(second.resumed).toBe(runId);
  const pods = readdirSync(workDir).filter((f) => f.endsWith('.log'));
  expect(pods.map((f) => /-s(\d+)-a\d+/.exec(f)?.[1]).sort()).toEqual(['4', '5']);
  const manifest = await expectExactlyOnce(join(root, 'out'), ROWS);
  expect(manifest.runId).toBe(runId);
  expect(manifest.shards).toHaveLength(6);

  // Third: the run is committed, so the job runs afresh under a new run id.
  const third = await runLocal(job, { log: silentLogger(), timeoutMs: 120_000 });
  expect(third.phase).toBe('Succeeded');
  expect(third.resumed).toBeUndefined();
  expect(third.status?.runId).not.toBe(runId);
  await expectExactlyOnce(join(root, 'out'), ROWS);
}, 300_000);
