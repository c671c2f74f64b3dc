/**
 * Fault case 4: the operator process is SIGKILLed and a new process takes over the same cluster
 * state. The operators are real OS processes (`node bin/bij.js operator`) against the test's embedded
 * API server; workers are real processes run by the local Job runner.
 *   (a) killed while the run is Running: the shards it started finish without it, the new operator
 *       picks them up from what it observes and starts the rest, without a second copy of any Job;
 *   (b) killed inside the commit, after _manifest.json and before _SUCCESS (BIJ_TEST_COMMIT_EXIT_AFTER_STEP=6):
 *       the new operator runs the commit again and writes byte-for-byte the same manifest, then _SUCCESS.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import {
  DATA, filesUnder, withTimeout, killAll, recordCluster, startOperatorProcess, until, writeFixtures, writeKubeconfig, type OperatorProcess,
} from '../support/operator-process.js';

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

describe('operator process killed and replaced', () => {
  let root: string;
  let data: { model: string; input: string };
  let cluster: TestCluster | undefined;
  const procs: OperatorProcess[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-op-restart-'));
    data = await writeFixtures(root);
  }, 60_000);

  afterEach(async () => {
    await killAll(procs.splice(0));
    await cluster?.close();
    cluster = undefined;
  });

  test('(a) killed while Running: the new operator finishes the run, every row once, no Job twice', async () => {
    // Slow shards (4 batches x 300 ms), so the kill lands while the first wave runs.
    cluster = await TestCluster.start({ operators: 0, workerEnv: { BIJ_FAULT: 'slow-rows:300' } });
    const rec = recordCluster(cluster);
    const kubeconfig = writeKubeconfig(cluster, mkdtempSync(join(root, 'kc-')));
    const out = join(root, 'out-a') + '/';
    const name = 'restart-running';

    const op1 = startOperatorProcess({ kubeconfig, identity: 'op-1' });
    procs.push(op1);
    await op1.waitForLog((l) => l.msg === 'operator started');
    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 2, batchSize: 512 }));
    await cluster.waitForPhase(name, 'Running', 30_000);
    await until('the Started event', () => cluster!.eventReasons(name), (r) => r.includes('Started'), 10_000);
    await cluster.waitForRunningPod(name, 30_000);

    const exit = await op1.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    const atKill = (await cluster.get(name))?.status;
    expect(atKill?.phase).toBe('Running');
    const createdByOp1 = rec.jobsCreated.length;
    expect(createdByOp1).toBeGreaterThanOrEqual(1);
    expect(createdByOp1).toBeLessThan(4); // parallelism 2: shards remain for the next operator

    // With no operator, the started shards finish but nothing else happens.
    await until('the first operator\'s shards to finish', () => cluster!.runner.running().length, (n) => n === 0, 30_000);
    expect(rec.jobsCreated.length).toBe(createdByOp1);
    expect((await cluster.get(name))?.status?.phase).toBe('Running');
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);

    const op2 = startOperatorProcess({ kubeconfig, identity: 'op-2' });
    procs.push(op2);
    const status = await cluster.waitForPhase(name, 'Succeeded', 60_000);
    expect(status).toMatchObject({ phase: 'Succeeded', runId: atKill?.runId, shards: { total: 4, succeeded: 4, retries: 0 } });
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(manifest.runId).toBe(atKill?.runId);

    // No Job was created twice: one Job per shard, all attempt 0, the rest made by op-2.
    expect(rec.jobsCreated.map((j) => `${j.shard}/${j.attempt}`).sort()).toEqual(['0/0', '1/0', '2/0', '3/0']);
    expect(op2.lines.filter((l) => l.msg === 'created shard Job')).toHaveLength(4 - createdByOp1);
    expect(op1.lines.filter((l) => l.msg === 'created shard Job')).toHaveLength(createdByOp1);

    // Events are emitted on transitions of the stored status, so the restart repeats none.
    const events = await cluster.events(name);
    const reasons = events.map((e) => e.reason ?? '');
    expect(count(reasons, 'Started')).toBe(1);
    expect(count(reasons, 'Committed')).toBe(1);
    expect(events.find((e) => e.reason === 'Started')?.reportingInstance).toBe('op-1');
    expect(events.find((e) => e.reason === 'Committed')?.reportingInstance).toBe('op-2');
    expect(filesUnder(join(out, '_bij', manifest.runId, 'shards'))).toEqual([]);
  }, 120_000);

  test('(b) killed between _manifest.json and _SUCCESS: the new operator completes the same commit', async () => {
    cluster = await TestCluster.start({ operators: 0 });
    const rec = recordCluster(cluster);
    const kubeconfig = writeKubeconfig(cluster, mkdtempSync(join(root, 'kc-')));
    const out = join(root, 'out-b') + '/';
    const name = 'restart-commit';

    const op1 = startOperatorProcess({ kubeconfig, identity: 'op-1', env: { BIJ_TEST_COMMIT_EXIT_AFTER_STEP: '6' } });
    procs.push(op1);
    await op1.waitForLog((l) => l.msg === 'operator started');
    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 4, batchSize: 512 }));

    const exit = await withTimeout(op1.exited, 60_000, 'op-1 to crash in the commit');
    expect(exit.code).toBe(137);
    // The preloaded fault hook (e2e/support/fault-hooks.ts) says where it ended the process, on stderr.
    expect(op1.other.some((l) => l.includes('fault hook: commit step 6 done: exiting with code 137'))).toBe(true);

    // The crash point: _manifest.json written, _SUCCESS not. The commit runs in the pass that saw the
    // last shard finish, so the stored status is still the one before it (not Succeeded).
    const interrupted = (await cluster.get(name))?.status;
    // The status was written as Merging before the commit began, so the interruption is visible.
    expect(interrupted?.phase).toBe('Merging');
    const runId = interrupted!.runId!;
    expect(existsSync(join(out, '_manifest.json'))).toBe(true);
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
    const manifestBefore = readFileSync(join(out, '_manifest.json'), 'utf8');
    expect(JSON.parse(manifestBefore)).toMatchObject({ runId, rowCount: DATA.total });
    // the attempt files are still there (cleanup is step 7)
    expect(filesUnder(join(out, '_bij', runId, 'shards')).some((f) => f.endsWith('manifest.json'))).toBe(true);

    const op2 = startOperatorProcess({ kubeconfig, identity: 'op-2' });
    procs.push(op2);
    const status = await cluster.waitForPhase(name, 'Succeeded', 60_000);
    expect(status).toMatchObject({ runId, shards: { total: 4, succeeded: 4, retries: 0 }, rows: { total: DATA.total, processed: DATA.total } });
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(manifest.runId).toBe(runId);
    // Running the commit again wrote the very same manifest, and _SUCCESS names this run.
    expect(readFileSync(join(out, '_manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(JSON.parse(readFileSync(join(out, '_SUCCESS'), 'utf8'))).toMatchObject({ runId });
    expect(filesUnder(join(out, '_bij', runId, 'shards'))).toEqual([]);
    expect(rec.jobsCreated).toHaveLength(4);

    const events = await cluster.events(name);
    const reasons = events.map((e) => e.reason ?? '');
    expect(count(reasons, 'Committed')).toBe(1);
    expect(events.find((e) => e.reason === 'Committed')?.reportingInstance).toBe('op-2');
  }, 120_000);
});
