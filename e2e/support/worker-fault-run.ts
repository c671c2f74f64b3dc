/**
 * The worker fault suites' shared setup (e2e/faults/worker-*.test.ts): one DuckDB dataset and model
 * per suite, a run (cluster + job + a watcher of every file the output ever holds), pausing workers
 * with SIGSTOP, and checks of events, committed attempts and what is left after the commit.
 */
import type * as k8s from '@kubernetes/client-node';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, NAMESPACE, fixtureJob } from './cluster.js';
import { TreeWatcher, committedPartMetadata, listFiles, waitUntil } from './faults-helpers.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
export const FILES = 3;
/** DuckDB writes row groups of at least 2048 rows: three per file. */
export const ROW_GROUP_ROWS = 2_048;
export const ROWS_PER_FILE = 3 * ROW_GROUP_ROWS;
export const TOTAL = FILES * ROWS_PER_FILE;
export const BAD_EVERY = 97;
/** One file (three row groups) per shard. The worker's batches never span row groups, so a shard is
 * at least three batches however the decoder batches, and slow-rows:600 makes it last about 2 s. */
export const SLOW = 'slow-rows:600';
export const BASE_SPEC = { shards: 3, parallelism: 2, batchSize: 250, maxRetries: 3 };
export const TEST_TIMEOUT = 120_000;

/** Where a suite's model, input and outputs live. */
export interface Fixture {
  root: string;
  model: string;
  input: string;
}

/** The model and the DuckDB-written dataset every case of a suite shares. */
export async function makeFixture(): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'bij-worker-faults-'));
  const model = writeModel(join(root, 'models'));
  const input = join(root, 'in');
  await writeDataset(input, { files: FILES, rowsPerFile: ROWS_PER_FILE, rowGroupRows: ROW_GROUP_ROWS, badEvery: BAD_EVERY });
  return { root, model, input };
}

export interface Run {
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
export function pause(r: Run, pid: number | undefined): void {
  expect(pid).toBeDefined();
  process.kill(pid!, 'SIGSTOP');
  r.paused.add(pid!);
}

export function resume(r: Run, pid: number): void {
  r.paused.delete(pid);
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    /* it has exited */
  }
}

export const pidOf = (r: Run, job: string): number | undefined => r.c.runner.running().find((p) => p.job === job)?.pid;

export interface StartOptions {
  env?: Record<string, string>;
  spec?: Record<string, unknown>;
  input?: string;
  /** A model file other than the suite's. */
  model?: string;
  capture?: RegExp;
}

/** Starts a cluster and applies the suite's job (BASE_SPEC plus `o.spec`) named `name`. */
export async function startRun(fx: Fixture, name: string, o: StartOptions = {}): Promise<Run> {
  const c = await TestCluster.start({ workerEnv: o.env ?? {} });
  const out = join(fx.root, `out-${name}`);
  mkdirSync(out, { recursive: true });
  const watcher = new TreeWatcher(out, o.capture).start();
  const started: string[] = [];
  c.runner.onPodStarted = (job) => started.push(job);
  const r: Run = { c, name, out, watcher, started, paused: new Set() };
  await c.apply(fixtureJob(name, { model: o.model ?? fx.model, input: (o.input ?? fx.input) + '/', output: out + '/' }, { ...BASE_SPEC, ...(o.spec ?? {}) }));
  return r;
}

/** Resumes paused workers and stops the run's cluster. */
export async function stopRun(r: Run | undefined): Promise<void> {
  if (!r) return;
  for (const pid of [...r.paused]) resume(r, pid);
  r.watcher.stop();
  await r.c.close();
}

export type Events = { reason: string; message: string; type: string }[];

async function events(r: Run): Promise<Events> {
  return (await r.c.events(r.name)).map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '' }));
}

/** Waits for the event that the final status write is followed by (events are written after it). */
export async function waitForEvent(r: Run, reason: string): Promise<Events> {
  return waitUntil(`event ${reason} on ${r.name}`, async () => {
    const evs = await events(r);
    return evs.some((e) => e.reason === reason) ? evs : undefined;
  }, 10_000, 100);
}

export const failedCondition = (s: { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined) =>
  s?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');

/** Shard -> attempt of the committed parts, from their bij.* key-value metadata. */
export async function committedAttempts(out: string, runId: string): Promise<Map<number, Set<number>>> {
  const byShard = new Map<number, Set<number>>();
  for (const m of await committedPartMetadata(out)) {
    expect(m.runId).toBe(runId);
    if (!byShard.has(m.shard)) byShard.set(m.shard, new Set());
    byShard.get(m.shard)!.add(m.attempt);
  }
  return byShard;
}

/** After a commit, only the committed files, the manifest, _SUCCESS and the frozen plan remain. */
export function expectOnlyCommitted(out: string, runId: string, manifest: { files: { path: string }[] }): void {
  const expected = [...manifest.files.map((f) => f.path), '_SUCCESS', '_manifest.json', `_bij/${runId}/plan.json`, '_bij/claims/0000000001.json'].sort();
  expect(listFiles(out)).toEqual(expected);
}

export async function jobByName(r: Run, name: string): Promise<k8s.V1Job> {
  return r.c.clients.batch.readNamespacedJob({ namespace: NAMESPACE, name });
}

export const envOf = (job: k8s.V1Job): Record<string, string> =>
  Object.fromEntries((job.spec!.template.spec!.containers[0].env ?? []).map((e) => [e.name, e.value ?? '']));

/**
 * Registers a suite's hooks (the dataset before all cases, the run stopped after each) and returns
 * the fixture and a start function that remembers the run to stop.
 */
export function useFaultRuns(): { readonly fx: Fixture; start: (name: string, o?: StartOptions) => Promise<Run> } {
  const state: { fx?: Fixture; current?: Run } = {};
  beforeAll(async () => {
    state.fx = await makeFixture();
  }, 60_000);
  afterEach(async () => {
    await stopRun(state.current);
    state.current = undefined;
  });
  return {
    get fx(): Fixture {
      if (!state.fx) throw new Error('the fault fixture is made in beforeAll');
      return state.fx;
    },
    start: async (name, o) => (state.current = await startRun(state.fx!, name, o)),
  };
}
