/**
 * Fault case 9: the spec is edited mid-run.
 * - An output-defining field (model.version): a new run id; the old run's Jobs are stopped and
 *   deleted, its attempt files removed, and a new run planned and committed. The committed output is
 *   exactly once and is the NEW run's (manifest, _SUCCESS and every file's key-value metadata).
 * - A field that does not define the output (parallelism): the same run goes on, with the new
 *   parallelism in effect.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIJ_REF } from '../../operator/src/kube/clients.js';
import { mergePatch } from '../../operator/src/kube/clients.js';
import { Duck, sqlString } from '../../core/testing/fixtures.js';
import { NAMESPACE, TestCluster, expectExactlyOnce, fixtureJob, sleep } from '../support/cluster.js';
import { DATA, filesUnder, recordCluster, writeFixtures, type ClusterRecord } from '../support/operator-process.js';

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

/** bij.* key-value metadata of every committed data file: one row per distinct (key, value). */
async function committedMetadata(out: string): Promise<Record<string, string[]>> {
  const duck = await Duck.open();
  try {
    const rows = await duck.all(`SELECT DISTINCT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlString(join(out, '*.parquet'))}) WHERE decode(key) IN ('bij.run_id', 'bij.model_version')`);
    const byKey: Record<string, string[]> = {};
    for (const r of rows) (byKey[String(r.k)] ??= []).push(String(r.v));
    return byKey;
  } finally {
    duck.close();
  }
}

describe('spec edited mid-run', () => {
  let root: string;
  let data: { model: string; input: string };
  let cluster: TestCluster;
  let rec: ClusterRecord;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-op-spec-'));
    data = await writeFixtures(root);
    cluster = await TestCluster.start({ workerEnv: { BIJ_FAULT: 'slow-rows:250' } });
    rec = recordCluster(cluster);
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const patchSpec = (name: string, spec: Record<string, unknown>) =>
    cluster.clients.custom.patchNamespacedCustomObject({ ...BIJ_REF, namespace: NAMESPACE, name, body: { spec } }, mergePatch);

  test('model.version changed: new run id, old Jobs and attempt files gone, the new run committed exactly once', async () => {
    const name = 'edit-version';
    const out = join(root, 'out-version') + '/';
    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 2, batchSize: 512 }));
    // Mid-run: at least one shard of the old run done (so it has attempt files and a manifest), more to go.
    const old = await cluster.waitFor(name, (s) => s?.phase === 'Running' && (s.shards?.succeeded ?? 0) >= 1 && (s.shards?.succeeded ?? 0) < 4, 60_000);
    const oldRun = old!.runId!;
    expect(filesUnder(join(out, '_bij', oldRun, 'shards')).some((f) => f.endsWith('manifest.json'))).toBe(true);
    await cluster.waitForRunningPod(name, 30_000);

    await patchSpec(name, { model: { version: 'v2' } });
    const status = await cluster.waitFor(name, (s) => s?.runId !== oldRun && s?.phase === 'Succeeded', 90_000);
    const newRun = status!.runId!;
    expect(newRun).not.toBe(oldRun);
    expect(status).toMatchObject({ observedGeneration: 2, shards: { total: 4, succeeded: 4 }, rows: { total: DATA.total, processed: DATA.total } });

    // The old run: every Job it had was deleted, none is left, and its attempt files are gone.
    const oldJobs = rec.jobsCreated.filter((j) => j.run === oldRun).map((j) => j.name);
    expect(oldJobs.length).toBeGreaterThanOrEqual(2);
    const deleted = new Set(rec.jobsDeleted.map((j) => j.name));
    for (const j of oldJobs) expect(deleted.has(j)).toBe(true);
    expect((await cluster.jobs(name)).filter((j) => j.metadata?.labels?.['batchinference.dev/run'] === oldRun)).toEqual([]);
    expect(cluster.runner.running().filter((p) => oldJobs.includes(p.job))).toEqual([]);
    expect(filesUnder(join(out, '_bij', oldRun, 'shards'))).toEqual([]);
    // The abandoned run is discarded whole: changing the spec back would plan afresh.
    expect(filesUnder(join(out, '_bij', oldRun))).toEqual([]);
    expect(filesUnder(join(out, '_bij', newRun, 'shards'))).toEqual([]);
    // The new run ran every shard itself.
    expect(rec.jobsCreated.filter((j) => j.run === newRun).map((j) => j.shard).sort()).toEqual(['0', '1', '2', '3']);

    // The committed output is the new run's, exactly once.
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(manifest).toMatchObject({ runId: newRun, model: { version: 'v2' } });
    expect(await committedMetadata(out)).toEqual({ 'bij.run_id': [newRun], 'bij.model_version': ['v2'] });
    const reasons = await cluster.waitForEvent(name, 'Committed'); // events follow the status write
    expect(count(reasons, 'SpecChanged')).toBe(1);
    expect(count(reasons, 'Committed')).toBe(1);
  }, 120_000);

  test('parallelism changed: the same run goes on with the new parallelism', async () => {
    const name = 'edit-parallelism';
    const out = join(root, 'out-parallelism') + '/';
    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 1, batchSize: 512 }));
    const running = await cluster.waitForPhase(name, 'Running', 30_000);
    const runId = running!.runId!;
    await cluster.waitForRunningPod(name, 30_000);
    const mine = () => cluster.runner.running().filter((p) => p.job.startsWith(name)).length;
    expect(mine()).toBe(1);

    await patchSpec(name, { parallelism: 3 });
    // Sample how many shards run at once, and which run id the status names, until the run ends.
    let maxRunning = 0;
    const runIds = new Set<string>();
    const deadline = Date.now() + 60_000;
    for (;;) {
      maxRunning = Math.max(maxRunning, mine());
      const s = (await cluster.get(name))?.status;
      if (s?.runId) runIds.add(s.runId);
      if (s?.phase === 'Succeeded' || s?.phase === 'Failed') break;
      if (Date.now() > deadline) throw new Error(`timed out; last status ${JSON.stringify(s)}`);
      await sleep(20);
    }
    expect([...runIds]).toEqual([runId]);
    expect(maxRunning).toBeGreaterThanOrEqual(2);
    expect(maxRunning).toBeLessThanOrEqual(3);
    const status = (await cluster.get(name))?.status;
    expect(status).toMatchObject({ phase: 'Succeeded', runId, observedGeneration: 2, shards: { total: 4, succeeded: 4 } });
    const mineCreated = rec.jobsCreated.filter((j) => j.name.startsWith(name));
    expect(mineCreated.map((j) => j.run)).toEqual([runId, runId, runId, runId]);
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(manifest.runId).toBe(runId);
    expect(await cluster.eventReasons(name)).not.toContain('SpecChanged');
  }, 120_000);
});
