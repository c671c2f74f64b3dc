/**
 * Exactly once under worker failures (part A of the fault suite). Every case runs a real job: the
 * embedded API server, an in-process operator, the local Job runner and real worker processes, over a
 * DuckDB-written dataset. Faults come from the runner's hooks (kill, evict), the API (a Job deleted,
 * a Job copied), the file system (an input replaced) and the worker's test-only BIJ_FAULT hook
 * (worker/src/faults.ts). Each case checks that the fault really happened, then the committed output
 * row by row (expectExactlyOnce), the final status and the Events.
 */
import type * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, NAMESPACE, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import {
  TreeWatcher, attemptDir, committedPartMetadata, listFiles, readPlan, sha256File, shardJobName, waitForMidShard, waitForRunId, waitUntil,
} from '../support/faults-helpers.js';
import { workerEntry } from '../../operator/src/local/run-local.js';
import { LABEL_ATTEMPT } from '../../operator/src/reconciler/names.js';
import { ENV } from '../../operator/src/contract/index.js';
import { writeDataset, writeModel, Duck, sqlString } from '../../worker/src/testing/fixtures.js';

const FILES = 3;
/** DuckDB writes row groups of at least 2048 rows: three per file. */
const ROW_GROUP_ROWS = 2_048;
const ROWS_PER_FILE = 3 * ROW_GROUP_ROWS;
const TOTAL = FILES * ROWS_PER_FILE;
const BAD_EVERY = 97;
/** One file (three row groups) per shard. The worker's batches never span row groups, so a shard is
 * at least three batches however the decoder batches, and slow-rows:600 makes it last about 2 s. */
const SLOW = 'slow-rows:600';
const BASE_SPEC = { shards: 3, parallelism: 2, batchSize: 250, maxRetries: 3 };
const TEST_TIMEOUT = 120_000;

let root: string;
let model: string;
let input: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bij-worker-faults-'));
  model = writeModel(join(root, 'models'));
  input = join(root, 'in');
  await writeDataset(input, { files: FILES, rowsPerFile: ROWS_PER_FILE, rowGroupRows: ROW_GROUP_ROWS, badEvery: BAD_EVERY });
}, 60_000);

interface Run {
  c: TestCluster;
  name: string;
  out: string;
  watcher: TreeWatcher;
  /** Job names of every pod the runner started, in order. */
  started: string[];
  /** Worker processes this test stopped with SIGSTOP (resumed after the test, so they can end). */
  paused: Set<number>;
}

/** Stops a worker process where it is (SIGSTOP), so the test decides when it goes on. */
function pause(r: Run, pid: number | undefined): void {
  expect(pid).toBeDefined();
  process.kill(pid!, 'SIGSTOP');
  r.paused.add(pid!);
}

function resume(r: Run, pid: number): void {
  r.paused.delete(pid);
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    /* it has exited */
  }
}

const pidOf = (r: Run, job: string): number | undefined => r.c.runner.running().find((p) => p.job === job)?.pid;

let current: Run | undefined;

afterEach(async () => {
  const r = current;
  current = undefined;
  if (!r) return;
  for (const pid of [...r.paused]) resume(r, pid);
  r.watcher.stop();
  await r.c.close();
});

async function start(name: string, o: { env?: Record<string, string>; spec?: Record<string, unknown>; input?: string; capture?: RegExp } = {}): Promise<Run> {
  const c = await TestCluster.start({ workerEnv: o.env ?? {} });
  const out = join(root, `out-${name}`);
  mkdirSync(out, { recursive: true });
  const watcher = new TreeWatcher(out, o.capture).start();
  const started: string[] = [];
  c.runner.onPodStarted = (job) => started.push(job);
  current = { c, name, out, watcher, started, paused: new Set() };
  await c.apply(fixtureJob(name, { model, input: (o.input ?? input) + '/', output: out + '/' }, { ...BASE_SPEC, ...(o.spec ?? {}) }));
  return current;
}

type Events = { reason: string; message: string; type: string }[];

async function events(r: Run): Promise<Events> {
  return (await r.c.events(r.name)).map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '' }));
}

/** Waits for the event that the final status write is followed by (events are written after it). */
async function waitForEvent(r: Run, reason: string): Promise<Events> {
  return waitUntil(`event ${reason} on ${r.name}`, async () => {
    const evs = await events(r);
    return evs.some((e) => e.reason === reason) ? evs : undefined;
  }, 10_000, 100);
}

const failedCondition = (s: { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined) =>
  s?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');

/** Shard -> attempt of the committed parts, from their bij.* key-value metadata. */
async function committedAttempts(out: string, runId: string): Promise<Map<number, Set<number>>> {
  const byShard = new Map<number, Set<number>>();
  for (const m of await committedPartMetadata(out)) {
    expect(m.runId).toBe(runId);
    if (!byShard.has(m.shard)) byShard.set(m.shard, new Set());
    byShard.get(m.shard)!.add(m.attempt);
  }
  return byShard;
}

/** After a commit, only the committed files, the manifest, _SUCCESS and the frozen plan remain. */
function expectOnlyCommitted(out: string, runId: string, manifest: { files: { path: string }[] }): void {
  const expected = [...manifest.files.map((f) => f.path), '_SUCCESS', '_manifest.json', `_bij/${runId}/plan.json`].sort();
  expect(listFiles(out)).toEqual(expected);
}

async function jobByName(r: Run, name: string): Promise<k8s.V1Job> {
  return r.c.clients.batch.readNamespacedJob({ namespace: NAMESPACE, name });
}

const envOf = (job: k8s.V1Job): Record<string, string> =>
  Object.fromEntries((job.spec!.template.spec!.containers[0].env ?? []).map((e) => [e.name, e.value ?? '']));

describe('exactly once under worker faults', () => {
  test('workers SIGKILLed mid-shard three times in one run: each attempt is retried, every row comes out once', async () => {
    // Shard 1's first attempt is slower still: it must still be mid-way after shard 0's kill is recorded.
    const r = await start('kills', { env: { BIJ_FAULT: `${SLOW},slow-rows:1500:1:0` }, spec: { maxRetries: 5 } });
    const runId = await waitForRunId(r.c, r.name);
    const rows = readPlan(r.out, runId).shards.map((s) => s.rows);
    // Shard 0's first attempt, shard 1's first attempt, then shard 0's retry: each provably mid-way.
    // One at a time: the next kill comes once the operator has recorded the last. (ShardFailed events
    // go by the growth of status.shards.retries and the failures' finish times; two failures that
    // the operator observes in the other order than they finished can give one event twice.)
    const kills: [number, number][] = [[0, 0], [1, 0], [0, 1]];
    for (const [i, [shard, attempt]] of kills.entries()) {
      const job = await waitForMidShard(r.c, r.name, r.out, runId, shard, attempt, rows[shard]);
      expect(r.c.runner.kill(job)).toBe(true);
      await r.c.waitFor(r.name, (st) => (st?.shards?.retries ?? 0) >= i + 1, 30_000);
    }

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, running: 0, retries: kills.length } });
    expect(failedCondition(st)).toBeUndefined();
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.map((s) => [s.shard, s.attempt])).toEqual([[0, 2], [1, 1], [2, 0]]);
    const committed = await committedAttempts(r.out, runId);
    expect([...committed.entries()].sort(([a], [b]) => a - b).map(([s, as]) => [s, [...as]])).toEqual([[0, [2]], [1, [1]], [2, [0]]]);
    expectOnlyCommitted(r.out, runId, manifest);

    const evs = await waitForEvent(r, 'Committed');
    const failed = evs.filter((e) => e.reason === 'ShardFailed');
    expect(failed.map((e) => `${e.type} ${/^shard \d+ attempt \d+ failed: exit \d+/.exec(e.message)?.[0] ?? e.message}`).sort())
      .toEqual(kills.map(([shard, attempt]) => `Warning shard ${shard} attempt ${attempt} failed: exit 137`).sort());
    // One ShardRetried per retry Job, emitted right after its creation (not after the status write).
    expect(evs.filter((x) => x.reason === 'ShardRetried').map((e) => e.message).sort())
      .toEqual(['shard 0: starting attempt 1', 'shard 0: starting attempt 2', 'shard 1: starting attempt 1']);
    const retries = [[0, 1], [0, 2], [1, 1]].map(([sh, at]) => shardJobName(r.name, runId, sh, at));
    expect(r.started.filter((j) => !j.endsWith('-a0')).sort()).toEqual(retries.sort());
    expect(evs.some((e) => e.reason === 'ShardDisrupted')).toBe(false);
  }, TEST_TIMEOUT);

  test('a worker that dies after writing its data but before its manifest is retried; its orphan files are never committed', async () => {
    // Shard 1 attempt 0 writes every file, then exits 137 instead of writing its manifest. Attempt 1
    // is slowed down so the orphans can be inspected before the commit cleans them up.
    const r = await start('orphans', { env: { BIJ_FAULT: 'exit-before-manifest:1:0,slow-rows:600:1:1' }, spec: { parallelism: 3 } });
    const runId = await waitForRunId(r.c, r.name);
    const plannedRows = readPlan(r.out, runId).shards[1].rows;
    const a0 = shardJobName(r.name, runId, 1, 0);
    await waitUntil(`${a0} to fail`, async () => {
      const job = (await r.c.jobs(r.name)).find((j) => j.metadata?.name === a0);
      return failedCondition(job?.status as never) !== undefined;
    }, 60_000, 50);

    // The orphans: complete Parquet files holding every row of the shard, and no manifest.
    const dir = join(r.out, attemptDir(r.out, runId, 1, 0));
    const files = listFiles(dir);
    expect(files).not.toContain('manifest.json');
    const parts = files.filter((f) => /^(part|errors)-\d{5}-[0-9a-f]+\.parquet$/.test(f));
    expect(parts.some((f) => f.startsWith('part-'))).toBe(true);
    const duck = await Duck.open();
    try {
      const n = await duck.one(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(join(dir, '*.parquet'))})`);
      expect(n.n).toBe(plannedRows); // scored rows plus error rows: the whole shard was written
    } finally {
      duck.close();
    }
    const orphanSha = new Set(parts.map((f) => sha256File(join(dir, f))));
    expect(r.c.runner.running().some((p) => p.job === a0)).toBe(false);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 1 } });
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.find((s) => s.shard === 1)?.attempt).toBe(1);
    expect((await committedAttempts(r.out, runId)).get(1)).toEqual(new Set([1]));
    for (const f of manifest.files) {
      expect(orphanSha.has(f.sha256)).toBe(false);
      expect(orphanSha.has(sha256File(join(r.out, f.path)))).toBe(false);
    }
    // The attempt files (orphans included) are gone after the commit.
    expectOnlyCommitted(r.out, runId, manifest);

    const evs = await waitForEvent(r, 'Committed');
    const failed = evs.filter((e) => e.reason === 'ShardFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0].message).toMatch(/^shard 1 attempt 0 failed: exit 137/);
    expect(r.started).toContain(shardJobName(r.name, runId, 1, 1));
  }, TEST_TIMEOUT);

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
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, envOf(await jobByName(r, a0)), {
      BIJ_PROGRESS_INTERVAL: '0.2', BIJ_TERMINATION_LOG: join(r.c.workDir, 'copy.termination'),
    });
    const copy = spawn(process.execPath, [workerEntry()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let copyLog = '';
    copy.stdout.on('data', (d: Buffer) => (copyLog += d.toString('utf8')));
    copy.stderr.on('data', (d: Buffer) => (copyLog += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => { copy.kill('SIGKILL'); reject(new Error(`the second copy did not exit within 60 s:\n${copyLog}`)); }, 60_000);
      copy.on('exit', (c) => { clearTimeout(t); resolve(c); });
    });
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
    expect(readFileSync(join(r.c.workDir, `${pod}.log`), 'utf8')).toMatch(duplicate);
    expect(r.watcher.text.get(`${dir}/manifest.json`)).toBe(JSON.stringify(winner, null, 2) + '\n');

    // The one manifest is what was committed: the copy's files, not the pod's.
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    const shard0 = manifest.files.filter((f) => f.shard === 0);
    expect(shard0.map((f) => f.sha256)).toEqual(winner.files.map((f) => f.sha256));
    for (const f of shard0) expect(sha256File(join(r.out, f.path))).toBe(f.sha256);
    expectOnlyCommitted(r.out, runId, manifest);
    await waitForEvent(r, 'Committed');
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
    await waitUntil(`the process of ${victim} (pid ${pid}) to end`, () => !r.c.runner.running().some((p) => p.pid === pid), 15_000);

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
    const own = join(root, 'in-replaced');
    mkdirSync(own, { recursive: true });
    for (const f of readdirSync(input)) copyFileSync(join(input, f), join(own, f));
    // The replacement (other rows, another size) is written beforehand, so replacing takes a rename.
    const scratch = mkdtempSync(join(root, 'replacement-'));
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
    expect(st?.shards).toEqual({ total: 3, pending: 0, running: 0, succeeded: 2, failed: 1, retries: 1 });
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

  test('a disruption of the last allowed attempt is retried without counting: killed, evicted, then succeeded', async () => {
    const r = await start('disrupted', { env: { BIJ_FAULT: SLOW }, spec: { maxRetries: 1 } });
    const runId = await waitForRunId(r.c, r.name);
    const rows = readPlan(r.out, runId).shards.map((s) => s.rows);
    // Attempt 0 crashes (counted: maxRetries 1 is now used up); attempt 1 is evicted (not counted).
    const a0 = await waitForMidShard(r.c, r.name, r.out, runId, 0, 0, rows[0]);
    expect(r.c.runner.kill(a0)).toBe(true);
    const a1 = await waitForMidShard(r.c, r.name, r.out, runId, 0, 1, rows[0]);
    expect(r.c.runner.evict(a1)).toBe(true);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 2 } });
    expect(failedCondition(st)).toBeUndefined();
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.find((s) => s.shard === 0)?.attempt).toBe(2);
    expect((await committedAttempts(r.out, runId)).get(0)).toEqual(new Set([2]));
    expectOnlyCommitted(r.out, runId, manifest);

    const evs = await waitForEvent(r, 'Committed');
    const failed = evs.filter((e) => e.reason === 'ShardFailed');
    expect(failed.map((e) => e.message)).toEqual([expect.stringMatching(/^shard 0 attempt 0 failed: exit 137/)]);
    const disrupted = evs.filter((e) => e.reason === 'ShardDisrupted');
    expect(disrupted.map((e) => e.message)).toEqual([expect.stringMatching(/^shard 0 attempt 1 was disrupted\b[^]*; retrying without counting it$/)]);
    expect(disrupted[0].type).toBe('Normal');
  }, TEST_TIMEOUT);

  test('retries exhausted: every attempt of one shard crashes, the run fails naming the shard and commits nothing', async () => {
    // Shard 2: attempt 0 exits 1 mid-shard, attempt 1 dies (137) after writing all its data, attempt 2
    // exits 137 mid-shard. maxRetries 2 allows three attempts. Parallelism 1: shards 0 and 1 are done
    // before shard 2 starts, so nothing else is running when the run fails.
    const fault = 'exit-at-batch:1:2:0,exit-before-manifest:2:1,exit-at-batch:137:2:2';
    const r = await start('exhausted', { env: { BIJ_FAULT: fault }, spec: { parallelism: 1, maxRetries: 2 } });
    const runId = await waitForRunId(r.c, r.name);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st?.phase).toBe('Failed');
    const cond = failedCondition(st);
    expect(cond?.reason).toBe('RetriesExhausted');
    expect(cond?.message).toMatch(/^shard 2 failed 3 times \(attempts 0, 1, 2\), more than maxRetries=2; last: exit 137/);
    expect(st?.shards).toEqual({ total: 3, pending: 0, running: 0, succeeded: 2, failed: 1, retries: 3 });

    expect(existsSync(join(r.out, '_SUCCESS'))).toBe(false);
    expect(existsSync(join(r.out, '_manifest.json'))).toBe(false);
    expect(listFiles(r.out).filter((f) => !f.startsWith('_bij/'))).toEqual([]);
    // Attempt 1 really wrote its data before dying; none of it was committed (checked above).
    expect(r.watcher.seen(new RegExp(`^${attemptDir(r.out, runId, 2, 1)}/part-\\d{5}-[0-9a-f]+\\.parquet$`)).length).toBeGreaterThan(0);
    expect(r.watcher.seen(/\/shards\/00002\/a\d+\/manifest\.json$/)).toEqual([]);

    // The failed Jobs stay (for kubectl logs), and no fourth attempt was started.
    const jobs = await r.c.jobs(r.name);
    const shard2 = jobs.filter((j) => j.metadata!.labels!['batchinference.dev/shard'] === '2');
    expect(shard2.map((j) => j.metadata!.labels![LABEL_ATTEMPT]).sort()).toEqual(['0', '1', '2']);
    for (const j of shard2) expect(failedCondition(j.status as never)).toBeDefined();

    const evs = await waitForEvent(r, 'RetriesExhausted');
    const failed = evs.filter((e) => e.reason === 'ShardFailed').map((e) => e.message).sort();
    expect(failed).toEqual([
      expect.stringMatching(/^shard 2 attempt 0 failed: exit 1\b/),
      expect.stringMatching(/^shard 2 attempt 1 failed: exit 137/),
      expect.stringMatching(/^shard 2 attempt 2 failed: exit 137/),
    ]);
    expect(evs.find((e) => e.reason === 'RetriesExhausted')?.type).toBe('Warning');
    expect(evs.some((e) => e.reason === 'Committed')).toBe(false);
  }, TEST_TIMEOUT);
});

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
