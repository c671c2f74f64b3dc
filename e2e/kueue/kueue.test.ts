/**
 * Kueue with the real Kueue controller (sigs.k8s.io/kueue v0.17.0, tools/kueue) on the real control plane,
 * the process kubelet advertising 4 fake GPUs, and the operator under the chart's RBAC:
 * - a ClusterQueue with a GPU quota of 2 (smaller than the job's parallelism of 4), a LocalQueue, two
 *   WorkloadPriorityClasses, preemption within the ClusterQueue by priority;
 * - a low-priority job of 8 one-GPU shards is admitted in waves: never more than 2 shard pods at once,
 *   and shards counted as queued (status.shards.queued, the SHARDS column) while they wait;
 * - mid-run, a high-priority job preempts it: Kueue evicts the low job's running shards (their Jobs
 *   suspended again, their pods stopped mid-shard). Kubernetes does not count a pod it stops for a
 *   suspension, so the Jobs wait, queued again, and the same attempts start over in new pods when Kueue
 *   admits them again. The operator records ShardEvicted once per eviction and charges nothing against
 *   maxRetries, which is 0 here: one charged eviction would fail the run;
 * - both succeed, and every input row of each is scored exactly once.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, NAMESPACE, expectExactlyOnce, fixtureJob, type Pods } from '../support/cluster.js';
import { progressOf, waitUntil } from '../support/faults-helpers.js';
import { KueueObjects, startKueue, type KueueManager } from '../support/kueue.js';
import { LABEL_KUEUE_PRIORITY_CLASS, LABEL_KUEUE_QUEUE } from '../../operator/src/reconciler/names.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { dryRunCreate, type Obj } from '../helm/helm.js';
import YAML from 'yaml';

const GPUS = 4;
const QUOTA = 2;
const ROW_GROUP_ROWS = 2_048;
const ROWS_PER_FILE = 3 * ROW_GROUP_ROWS;
const BAD_EVERY = 97;
const LOW = { name: 'scores-low', files: 8, shards: 8 };
const HIGH = { name: 'scores-high', files: 2, shards: 2 };
/** Each shard is three row groups; a pause after each batch makes one last a few seconds, so waves and a
 * mid-shard preemption can be observed (the worker's test-only fault hook, worker/src/faults.ts). */
const SLOW = 'slow-rows:1200';

let c: TestCluster | undefined;
let kueue: KueueManager | undefined;
let root = '';
let model = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bij-kueue-test-'));
  model = writeModel(join(root, 'models'));
  for (const j of [LOW, HIGH]) {
    await writeDataset(join(root, `in-${j.name}`), { files: j.files, rowsPerFile: ROWS_PER_FILE, rowGroupRows: ROW_GROUP_ROWS, badEvery: BAD_EVERY });
  }
  c = await TestCluster.start({ gpus: GPUS, workerEnv: { BIJ_FAULT: SLOW } });
  kueue = await startKueue(c.controlPlane);
  const k = new KueueObjects(c.controlPlane.kubeConfig());
  await k.create('resourceflavors', { kind: 'ResourceFlavor', metadata: { name: 'default-flavor' } });
  await k.create('clusterqueues', {
    kind: 'ClusterQueue',
    metadata: { name: 'gpu-cq' },
    spec: {
      namespaceSelector: {},
      preemption: { withinClusterQueue: 'LowerPriority' },
      resourceGroups: [{
        coveredResources: ['cpu', 'memory', 'nvidia.com/gpu'],
        flavors: [{ name: 'default-flavor', resources: [
          { name: 'cpu', nominalQuota: '4' }, { name: 'memory', nominalQuota: '8Gi' }, { name: 'nvidia.com/gpu', nominalQuota: QUOTA },
        ] }],
      }],
    },
  });
  await k.create('localqueues', { kind: 'LocalQueue', metadata: { name: 'team-a', namespace: NAMESPACE }, spec: { clusterQueue: 'gpu-cq' } }, NAMESPACE);
  await k.create('workloadpriorityclasses', { kind: 'WorkloadPriorityClass', metadata: { name: 'e2e-low' }, value: 100, description: 'backfill' });
  await k.create('workloadpriorityclasses', { kind: 'WorkloadPriorityClass', metadata: { name: 'e2e-high' }, value: 1000, description: 'urgent' });
  await waitUntil('ClusterQueue gpu-cq to be Active', async () => {
    const cq = await k.get<{ status?: { conditions?: { type: string; status: string }[] } }>('clusterqueues', 'gpu-cq');
    return cq.status?.conditions?.some((x) => x.type === 'Active' && x.status === 'True');
  }, 30_000, 200);
}, 240_000);

afterAll(async () => {
  const pid = kueue?.process.pid;
  await kueue?.stop();
  await c?.close();
  // Nothing left behind: Kueue's manager (and its process group) is gone.
  if (pid !== undefined) expect(() => process.kill(-pid, 0)).toThrow();
}, 60_000);

const job = (j: typeof LOW, priority: string) => {
  const o = fixtureJob(j.name, { model, input: join(root, `in-${j.name}`) + '/', output: join(root, `out-${j.name}`) + '/' }, {
    shards: j.shards, parallelism: 4, maxRetries: 0, batchSize: 500,
    worker: { executionProvider: 'cpu', gpus: 1, resources: { requests: { cpu: '100m', memory: '64Mi' } } },
  }) as { metadata: Record<string, unknown> };
  o.metadata.labels = { [LABEL_KUEUE_QUEUE]: 'team-a', [LABEL_KUEUE_PRIORITY_CLASS]: priority };
  return o;
};

/** `<bij>-<run>-s<shard>-a<attempt>` -> shard and attempt. */
const parseJob = (name: string): { shard: number; attempt: number } => {
  const m = /-s(\d+)-a(\d+)$/.exec(name);
  if (!m) throw new Error(`not a shard Job name: ${name}`);
  return { shard: Number(m[1]), attempt: Number(m[2]) };
};

const podsOf = (runner: Pods, bij: string) => runner.running().filter((p) => p.job.startsWith(`${bij}-`));

interface Observed {
  maxRunning: Record<string, number>;
  maxTogether: number;
  queued: Record<string, number>;
  evictedWorkloads: Map<string, string>;
}

test('admitted in waves within the GPU quota, preempted by a higher priority, every row scored once', async () => {
  const cl = c!;
  const k = new KueueObjects(cl.controlPlane.kubeConfig());
  for (const d of [LOW, HIGH]) mkdirSync(join(root, `out-${d.name}`), { recursive: true });
  const seen: Observed = { maxRunning: {}, maxTogether: 0, queued: {}, evictedWorkloads: new Map() };
  let preempting = false;
  const started: string[] = [];
  cl.runner.onPodStarted = (jobName) => started.push(jobName);
  let sampling = true;
  // What the cluster does, sampled all along: shard pods at once (per job and together), queued counts.
  const sampler = (async () => {
    let n = 0;
    while (sampling) {
      const pods = cl.runner.running();
      const together = pods.filter((p) => p.job.startsWith(`${LOW.name}-`) || p.job.startsWith(`${HIGH.name}-`)).length;
      if (!preempting) seen.maxTogether = Math.max(seen.maxTogether, together);
      for (const d of [LOW, HIGH]) seen.maxRunning[d.name] = Math.max(seen.maxRunning[d.name] ?? 0, podsOf(cl.runner, d.name).length);
      if (n++ % 5 === 0) {
        for (const d of [LOW, HIGH]) {
          const st = (await cl.get(d.name))?.status;
          if (st?.shards?.queued) seen.queued[d.name] = Math.max(seen.queued[d.name] ?? 0, st.shards.queued);
        }
        // Kueue's own record of an eviction: the Workload's Evicted condition (Workloads go with their Jobs).
        for (const w of await k.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string; reason: string }[] } }>('workloads', NAMESPACE)) {
          const ev = w.status?.conditions?.find((x) => x.type === 'Evicted' && x.status === 'True');
          if (ev) seen.evictedWorkloads.set(w.metadata.name, ev.reason);
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  try {
    await cl.apply(job(LOW, 'e2e-low'));
    // Waves: two shards admitted and running, the other Jobs the operator made (parallelism 4) queued.
    const waiting = await cl.waitFor(LOW.name, (s) => (s?.shards?.queued ?? 0) >= 2 && (s?.shards?.running ?? 0) >= 1, 60_000);
    expect(waiting?.shardsSummary).toMatch(/^\d\/8 \([2-4] queued\)$/);
    expect(waiting?.message).toMatch(/queued by Kueue in LocalQueue team-a/);

    // After a first wave is done, wait for two shards of a later wave to be mid-way, then preempt them.
    const runId = (await cl.waitFor(LOW.name, (s) => (s?.shards?.succeeded ?? 0) >= 2, 90_000))!.runId!;
    const victims = await waitUntil('two low-priority shards running mid-way', () => {
      const mid = podsOf(cl.runner, LOW.name).map((p) => ({ job: p.job, ...parseJob(p.job) }))
        .filter((p) => (progressOf(join(root, `out-${LOW.name}`), runId, p.shard, p.attempt) ?? 0) > 0);
      return mid.length === QUOTA ? mid : undefined;
    }, 60_000, 20);
    preempting = true;
    await cl.apply(job(HIGH, 'e2e-high'));

    const high = await cl.waitForPhase(HIGH.name, ['Succeeded', 'Failed'], 90_000);
    expect(high).toMatchObject({ phase: 'Succeeded', shards: { total: HIGH.shards, succeeded: HIGH.shards, queued: 0 } });
    const low = await cl.waitForPhase(LOW.name, ['Succeeded', 'Failed'], 120_000);
    // maxRetries is 0: a single eviction charged as a failure would have failed the run (RetriesExhausted).
    expect(low).toMatchObject({ phase: 'Succeeded', shards: { total: LOW.shards, succeeded: LOW.shards, queued: 0, failed: 0 } });

    // Waves: never more GPU pods than the quota before the preemption, and the quota was used.
    expect(seen.maxTogether).toBe(QUOTA);
    expect(seen.maxRunning[LOW.name]).toBeLessThanOrEqual(QUOTA);
    expect(seen.queued[LOW.name]).toBeGreaterThanOrEqual(2);

    // Kueue preempted the low job's workloads (its own record: the Workloads' Evicted condition), and the
    // operator reported each eviction once: a shard that was mid-way when preempted.
    expect([...seen.evictedWorkloads.values()]).toContain('Preempted');
    const evs = (await cl.events(LOW.name)).map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '' }));
    const evicted = evs.filter((e) => e.reason === 'ShardEvicted').map((e) => {
      expect(e.type).toBe('Normal');
      // The rows are the progress file as the operator last read it: by then the pod that starts the
      // attempt over may have rewritten it at 0 (seen once in CI), so the count is not checked here;
      // that the victims were mid-way is (their progress files, above).
      expect(e.message).toMatch(/^shard \d+ attempt \d+ was evicted by Kueue from LocalQueue team-a \(preempted by a higher-priority workload, or its quota reclaimed\) after \d+ of \d+ rows: its pod was stopped, and the attempt starts over when the Job is admitted again; not counted as a failure$/);
      const m = /^shard (\d+) attempt (\d+)/.exec(e.message)!;
      return { shard: Number(m[1]), attempt: Number(m[2]) };
    });
    expect(evicted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(evicted.map((e) => `${e.shard}/${e.attempt}`)).size).toBe(evicted.length);
    for (const e of evicted) expect(victims.map((v) => `${v.shard}/${v.attempt}`)).toContain(`${e.shard}/${e.attempt}`);
    // Nothing failed or was charged: no Warning at all, no ShardFailed, no new attempt for an evicted shard.
    expect(evs.filter((e) => e.type === 'Warning')).toEqual([]);
    expect(low?.shards?.retries).toBe(0);
    expect(evs.map((e) => e.reason)).toContain('Queued');
    expect(evs.find((e) => e.reason === 'Queued')?.message).toMatch(/^\d shards queued by Kueue in LocalQueue team-a: waiting for quota in the ClusterQueue$/);
    expect(started.filter((j) => j.startsWith(`${LOW.name}-`) && !j.endsWith('-a0'))).toEqual([]);

    // The same attempt went on when Kueue admitted its Job again: a second pod of that Job ran it.
    for (const e of evicted) {
      const jobName = victims.find((v) => v.shard === e.shard && v.attempt === e.attempt)!.job;
      expect(started.filter((j) => j === jobName)).toHaveLength(2);
    }

    // Exactly once: every row of each job once. The stopped pod had scored rows (the event says how
    // many) that it never committed; the shard was committed from the pod that ran it again.
    const lowManifest = await expectExactlyOnce(join(root, `out-${LOW.name}`), LOW.files * ROWS_PER_FILE, BAD_EVERY);
    await expectExactlyOnce(join(root, `out-${HIGH.name}`), HIGH.files * ROWS_PER_FILE, BAD_EVERY);
    const committed = new Map(lowManifest.shards.map((x) => [x.shard, x.attempt]));
    for (const e of evicted) expect(committed.get(e.shard)).toBe(e.attempt);
  } finally {
    sampling = false;
    await sampler;
  }
}, 300_000);

test('the README\'s Kueue objects and examples/kueue.yaml are what the real API server takes, with Kueue\'s CRDs', async () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Kueue'), readme.indexOf('### Editors'));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  const setup = blocks.find((b) => b.includes('kind: ClusterQueue'));
  expect(setup).toBeDefined();
  const objs = YAML.parseAllDocuments(setup!).map((d) => d.toJSON() as Obj);
  expect(objs.map((o) => o.kind)).toEqual(['ResourceFlavor', 'ClusterQueue', 'LocalQueue', 'WorkloadPriorityClass', 'WorkloadPriorityClass']);
  const example = YAML.parse(readFileSync(join(repoRoot(), 'examples', 'kueue.yaml'), 'utf8')) as Obj;
  expect(example.metadata.labels).toEqual({ [LABEL_KUEUE_QUEUE]: 'team-a', [LABEL_KUEUE_PRIORITY_CLASS]: 'batch-low' });
  const kc = c!.controlPlane.kubeConfig();
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: 'ml-batch' } } });
  expect(await dryRunCreate(kc, [...objs, example])).toEqual([]);
  // The check can fail: a field Kueue's schema does not have is refused.
  const broken = structuredClone(objs[1]) as Obj & { spec: Record<string, unknown> };
  broken.spec.preemption = { withinClusterQueue: 'Sometimes' };
  expect(await dryRunCreate(kc, [broken])).toEqual([expect.stringContaining('withinClusterQueue')]);
}, 60_000);
