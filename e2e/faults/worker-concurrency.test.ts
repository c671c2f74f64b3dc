/**
 * Exactly once when attempts overlap or the world changes under a run (fault suite, part A2): two
 * attempts of one shard, two copies of one attempt, a shard Job deleted by someone else, an input
 * file replaced after planning. Real jobs, as in worker-crashes.test.ts.
 */
import type * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync,
} from 'node:fs';
import { join } from 'node:path';
import { NAMESPACE, expectExactlyOnce } from '../support/cluster.js';
import {
  attemptDir, listFiles, readPlan, sha256File, shardJobName, waitForMidShard, waitForRunId, waitUntil,
} from '../support/faults-helpers.js';
import { workerEntry } from '../../cluster/src/embedded/run-local.js';
import { LABEL_ATTEMPT } from '../../operator/src/reconciler/names.js';
import { ENV } from '../../core/src/contract/index.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import {
  BAD_EVERY, ROW_GROUP_ROWS, SLOW, TEST_TIMEOUT, TOTAL, pause, resume, pidOf, waitForEvent,
  failedCondition, committedAttempts, expectOnlyCommitted, jobByName, envOf, useFaultRuns, type Run,
} from '../support/worker-fault-run.js';
import { faultEnv } from '../support/fault-env.js';

const suite = useFaultRuns();
const { start } = suite;

describe('exactly once when attempts overlap or the input changes', () => {
  test('two attempts of one shard both write manifests: the commit takes the lowest attempt, not the first to finish', async () => {
    // A running operator stops the other attempts of a shard once one has a manifest, so for both to
    // finish it must not be looking: it is down while they run (as in an operator restart). Attempt 0
    // is paused until attempt 7 has written its manifest, so attempt 7 finishes first.
    const r = await start('twins', { spec: { parallelism: 1 }, capture: /manifest\.json$/ });
    const runId = await waitForRunId(r.c, r.name);
    const a0 = shardJobName(r.name, runId, 0, 0);
    await r.c.waitForRunningPod(a0);
    const a0pid = pidOf(r, a0)!;
    pause(r, a0pid);
    await r.c.killOperator(r.c.operators[0]);

    // A second Job for shard 0 (attempt 7), copied from the operator's own: same owner, same plan.
    const twinName = shardJobName(r.name, runId, 0, 7);
    await r.c.clients.batch.createNamespacedJob({ namespace: NAMESPACE, body: twinOf(await jobByName(r, a0), twinName, 7) });
    const m0 = `${attemptDir(r.out, runId, 0, 0)}/manifest.json`;
    const m7 = `${attemptDir(r.out, runId, 0, 7)}/manifest.json`;
    await waitUntil(`${twinName} to write its manifest`, () => r.watcher.firstSeen.has(m7), 60_000);
    expect(r.watcher.firstSeen.has(m0)).toBe(false);
    resume(r, a0pid);
    await waitUntil(`${a0} to write its manifest`, () => r.watcher.firstSeen.has(m0), 60_000);
    await waitUntil('both attempts to end', () => pidOf(r, a0) === undefined && pidOf(r, twinName) === undefined, 30_000);
    expect(r.started).toEqual([a0, twinName]);

    await r.c.startOperator();
    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 0 } });
    expect(r.watcher.firstSeen.get(m7)!).toBeLessThan(r.watcher.firstSeen.get(m0)!);
    expect(r.watcher.firstSeen.get(m0)!).toBeLessThan(r.watcher.firstSeen.get('_manifest.json')!);

    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.find((s) => s.shard === 0)?.attempt).toBe(0);
    expect((await committedAttempts(r.out, runId)).get(0)).toEqual(new Set([0]));
    // The committed files of shard 0 are exactly those attempt 0's manifest listed, none of attempt 7's.
    const listed0 = JSON.parse(r.watcher.text.get(m0)!) as { files: { sha256: string }[] };
    const listed7 = JSON.parse(r.watcher.text.get(m7)!) as { files: { sha256: string }[] };
    const committed0 = manifest.files.filter((f) => f.shard === 0).map((f) => f.sha256);
    expect(committed0).toEqual(listed0.files.map((f) => f.sha256));
    for (const f of listed7.files) expect(committed0).not.toContain(f.sha256);
    expectOnlyCommitted(r.out, runId, manifest);
    const evs = await waitForEvent(r, 'Committed');
    expect(evs.some((e) => e.reason === 'ShardFailed' || e.reason === 'ShardDisrupted')).toBe(false);
    // The run's Jobs, the copy included, are deleted after the commit.
    await waitUntil('the shard Jobs to be deleted', async () => (await r.c.jobs(r.name)).length === 0, 20_000, 100);
  }, TEST_TIMEOUT);

  test('two copies of the same attempt at once: the first manifest wins, the other copy\'s files are discarded', async () => {
    // Parallelism 1, so nothing is committed while the pod's copy runs. The pod's copy is paused until
    // the second copy has written the manifest: the pod's copy finishes second, and must lose.
    const r = await start('copies', { spec: { parallelism: 1 }, capture: /manifest\.json$/ });
    const runId = await waitForRunId(r.c, r.name);
    const a0 = shardJobName(r.name, runId, 0, 0);
    await r.c.waitForRunningPod(a0);
    const { pod, pid } = r.c.runner.running().find((p) => p.job === a0)!;
    pause(r, pid);

    // A second process of shard 0 attempt 0, with the pod's own assignment (as Kubernetes may run one).
    const copy = spawnCopy(r, await jobByName(r, a0), 'copy');
    const code = await copy.exit;
    const copyLog = copy.log();
    expect({ code, log: code === 0 ? '' : copyLog }).toEqual({ code: 0, log: '' });
    const dir = attemptDir(r.out, runId, 0, 0);
    const winner = JSON.parse(readFileSync(join(r.out, dir, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
    const tokenOf = (path: string) => /-([0-9a-f]+)\.parquet$/.exec(path)![1];
    const copyTokens = new Set(winner.files.map((f) => tokenOf(f.path)));
    expect(copyTokens.size).toBe(1);
    resume(r, pid!);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 0 } });
    // Both copies wrote their parts (two writer tokens); the pod's copy found the manifest there and
    // gave up its own files.
    const tokens = new Set(r.watcher.seen(new RegExp(`^${dir}/part-\\d{5}-[0-9a-f]+\\.parquet$`)).map(tokenOf));
    expect(tokens.size).toBe(2);
    expect([...tokens].filter((t) => !copyTokens.has(t))).toHaveLength(1); // the pod's own
    const duplicate = /another copy of this attempt already wrote its manifest/;
    expect(duplicate.test(copyLog)).toBe(false);
    expect(r.c.runner.log(pod)).toMatch(duplicate);
    expect(r.watcher.text.get(`${dir}/manifest.json`)).toBe(JSON.stringify(winner, null, 2) + '\n');

    // The one manifest is what was committed: the copy's files, not the pod's.
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    const shard0 = manifest.files.filter((f) => f.shard === 0);
    expect(shard0.map((f) => f.sha256)).toEqual(winner.files.map((f) => f.sha256));
    for (const f of shard0) expect(sha256File(join(r.out, f.path))).toBe(f.sha256);
    expectOnlyCommitted(r.out, runId, manifest);
    await waitForEvent(r, 'Committed');
  }, TEST_TIMEOUT);

  test('copies of a shard that finish, or start, after the commit leave nothing behind', async () => {
    const r = await start('late', { spec: { parallelism: 3 } });
    const runId = await waitForRunId(r.c, r.name);
    const a0 = shardJobName(r.name, runId, 0, 0);
    await r.c.waitForRunningPod(a0);
    const job = await jobByName(r, a0);
    // A slow copy of shard 0 attempt 0 (a pod Kubernetes ran twice), stopped mid-shard.
    const slow = spawnCopy(r, job, 'slow', { BIJ_FAULT: SLOW });
    await waitUntil('the slow copy to start its shard', () => /shard started/.test(slow.log()), 30_000);
    pause(r, slow.pid);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st?.phase).toBe('Succeeded');
    await waitForEvent(r, 'Committed');
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    await waitUntil('the commit to clean up the attempts', () => listFiles(join(r.out, '_bij', runId, 'shards')).length === 0, 20_000, 100);

    // It wakes up after the commit: it finishes, writes its parts and manifest, sees _SUCCESS, and
    // removes them again.
    resume(r, slow.pid);
    expect(await slow.exit).toBe(0);
    expect(slow.log()).toMatch(/the run was committed while this attempt ran; removing its files/);
    expect(r.watcher.seen(new RegExp(`^_bij/${runId}/shards/00000/a0/manifest\\.json$`)).length).toBeGreaterThan(0);
    expectOnlyCommitted(r.out, runId, manifest);

    // One that starts after the commit does nothing at all.
    const late = spawnCopy(r, job, 'late');
    expect(await late.exit).toBe(0);
    expect(late.log()).toMatch(/the run is already committed; nothing to do/);
    expect(JSON.parse(readFileSync(late.terminationLog, 'utf8'))).toMatchObject({ outcome: 'succeeded', message: `run ${runId} is already committed; nothing to do` });
    expectOnlyCommitted(r.out, runId, manifest);
    await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
  }, TEST_TIMEOUT);

  test('a shard Job deleted by someone else mid-run is run again, and the run succeeds exactly once', async () => {
    const r = await start('deleted', { env: { BIJ_FAULT: SLOW } });
    const runId = await waitForRunId(r.c, r.name);
    const rows = readPlan(r.out, runId).shards.map((s) => s.rows);
    const victim = await waitForMidShard(r.c, r.name, r.out, runId, 1, 0, rows[1]);
    const pid = pidOf(r, victim);
    // The pod is slow to terminate (paused: only the runner's SIGKILL after the grace period ends
    // it), so the operator's replacement Job exists while the old process still runs.
    pause(r, pid);
    const startsBefore = r.started.length;
    await r.c.clients.batch.deleteNamespacedJob({ namespace: NAMESPACE, name: victim, propagationPolicy: 'Background' });
    await waitUntil(`the process of ${victim} (pid ${pid}) to end (SIGKILL after the pod's 30 s grace period)`, () => !r.c.runner.running().some((p) => p.pid === pid), 45_000);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0 } });
    // Shard 1 was started again after the deletion, by a new Job.
    const again = r.started.slice(startsBefore).filter((j) => j.startsWith(`${r.name}-${runId}-s1-`));
    expect(again.length).toBeGreaterThanOrEqual(1);
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    const chosen = manifest.shards.find((s) => s.shard === 1)!;
    expect((await committedAttempts(r.out, runId)).get(1)).toEqual(new Set([chosen.attempt]));
    expectOnlyCommitted(r.out, runId, manifest);
    const evs = await waitForEvent(r, 'Committed');
    // Deleting a Job is neither a crash nor a disruption of a pod the operator knows about.
    expect(st?.shards?.retries).toBe(0);
    expect(evs.some((e) => e.reason === 'ShardFailed' || e.reason === 'ShardDisrupted')).toBe(false);
  }, TEST_TIMEOUT);

  test('an input file replaced after planning fails the run, naming the file, and commits nothing', async () => {
    // Own copy of the input (it gets replaced); one shard at a time, so the last shard starts late.
    const own = join(suite.fx.root, 'in-replaced');
    mkdirSync(own, { recursive: true });
    for (const f of readdirSync(suite.fx.input)) copyFileSync(join(suite.fx.input, f), join(own, f));
    // The replacement (other rows, another size) is written beforehand, so replacing takes a rename.
    const scratch = mkdtempSync(join(suite.fx.root, 'replacement-'));
    await writeDataset(scratch, { files: 1, rowsPerFile: 2 * ROW_GROUP_ROWS, rowGroupRows: ROW_GROUP_ROWS });
    const r = await start('replaced', { env: { BIJ_FAULT: SLOW }, spec: { parallelism: 1 }, input: own });
    const runId = await waitForRunId(r.c, r.name);
    const plan = readPlan(r.out, runId);
    const target = join(own, 'part-2.parquet');
    const fileIndex = plan.files.findIndex((f) => f.uri === target);
    expect(fileIndex).toBeGreaterThanOrEqual(0);
    const readers = plan.shards.filter((s) => s.ranges.some((g) => g.file === fileIndex)).map((s) => s.index);
    expect(readers.length).toBeGreaterThan(0);
    // No shard that reads the file has started yet.
    const started = (await r.c.jobs(r.name)).map((j) => Number(j.metadata!.labels!['batchinference.dev/shard']));
    expect(started.filter((s) => readers.includes(s))).toEqual([]);

    // Replace it (atomically, as a re-upload would).
    const before = statSync(target).size;
    renameSync(join(scratch, 'part-0.parquet'), target);
    expect(statSync(target).size).not.toBe(before);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st?.phase).toBe('Failed');
    const cond = failedCondition(st);
    expect(cond?.reason).toBe('BadInput');
    expect(cond?.message).toContain(target);
    expect(cond?.message).toContain('changed after the run was planned');
    expect(st?.message).toContain(target);
    // One attempt of the reading shard failed and was not retried (bad input).
    expect(st?.shards).toEqual({ total: 3, pending: 0, running: 0, queued: 0, succeeded: 2, failed: 1, retries: 1 });
    const jobs = await r.c.jobs(r.name);
    const readerAttempts = jobs.filter((j) => readers.includes(Number(j.metadata!.labels!['batchinference.dev/shard'])))
      .map((j) => j.metadata!.labels![LABEL_ATTEMPT]);
    expect(readerAttempts).toEqual(['0']);

    expect(existsSync(join(r.out, '_SUCCESS'))).toBe(false);
    expect(existsSync(join(r.out, '_manifest.json'))).toBe(false);
    expect(listFiles(r.out).filter((f) => !f.startsWith('_bij/'))).toEqual([]);
    const evs = await waitForEvent(r, 'BadInput');
    expect(evs.find((e) => e.reason === 'BadInput')?.message).toContain(target);
    expect(evs.some((e) => e.reason === 'Committed')).toBe(false);
  }, TEST_TIMEOUT);

  test('a model replaced after planning is refused by every later attempt, naming both hashes; nothing is committed', async () => {
    // Own copy of the model; one shard at a time, so later shards start after the replacement.
    const modelDir = join(suite.fx.root, 'model-replaced');
    const model = writeModel(modelDir);
    const other = writeModel(modelDir, 'other.onnx', 1024); // the same graph with a fixed batch: other bytes
    const r = await start('model-replaced', { env: { BIJ_FAULT: SLOW }, spec: { parallelism: 1 }, model });
    const runId = await waitForRunId(r.c, r.name);
    const plan = readPlan(r.out, runId);
    expect(plan.model).toEqual(expect.objectContaining({ uri: model, sha256: sha256File(model), size: statSync(model).size }));
    const frozen = plan.model!.sha256;
    renameSync(other, model);
    const replaced = sha256File(model);
    expect(replaced).not.toBe(frozen);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st?.phase).toBe('Failed');
    const cond = failedCondition(st);
    expect({ reason: cond?.reason, message: cond?.message }).toEqual({ reason: 'BadInput', message: expect.stringContaining(`has sha256 ${replaced}`) });
    expect(cond?.message).toContain(`is ${frozen}`);
    expect(existsSync(join(r.out, '_SUCCESS'))).toBe(false);
    expect(listFiles(r.out).filter((f) => !f.startsWith('_bij/'))).toEqual([]);
  }, TEST_TIMEOUT);
});

/** A second worker process with a shard Job's own assignment, outside the runner (as Kubernetes may
 * run one): its pid, its output so far, its exit code. */
function spawnCopy(r: Run, job: k8s.V1Job, label: string, extraEnv: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const terminationLog = join(r.c.workDir, `${label}.termination`);
  Object.assign(env, envOf(job), { BIJ_PROGRESS_INTERVAL: '0.2', BIJ_TERMINATION_LOG: terminationLog }, extraEnv);
  const child = spawn(process.execPath, [workerEntry()], { env: faultEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exit = new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`worker copy ${label} did not exit within 60 s:\n${out}`)); }, 60_000);
    child.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  return { pid: child.pid!, exit, log: () => out, terminationLog };
}

/** A copy of an operator-made shard Job for another attempt number (what a second actor might create). */
function twinOf(job: k8s.V1Job, name: string, attempt: number): k8s.V1Job {
  const relabel = (labels: Record<string, string> | undefined): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels ?? {})) if (!k.includes('controller-uid') && k !== 'job-name' && !k.endsWith('/job-name')) out[k] = v;
    out[LABEL_ATTEMPT] = String(attempt);
    return out;
  };
  const template = JSON.parse(JSON.stringify(job.spec!.template)) as k8s.V1PodTemplateSpec;
  template.metadata = { ...(template.metadata ?? {}), labels: relabel(template.metadata?.labels) };
  const container = template.spec!.containers[0];
  container.env = (container.env ?? []).map((e) => (e.name === ENV.attempt ? { name: e.name, value: String(attempt) } : e));
  const spec: k8s.V1JobSpec = { ...job.spec!, template };
  delete spec.selector;
  delete (spec as { manualSelector?: boolean }).manualSelector;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: job.metadata!.namespace, labels: relabel(job.metadata!.labels), ownerReferences: job.metadata!.ownerReferences },
    spec,
  };
}
