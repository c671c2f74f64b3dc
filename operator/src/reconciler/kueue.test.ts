/**
 * Kueue, without Kueue: the shard Job constructor (queue and priority labels, created suspended),
 * observeAttempts on Jobs as Kueue and the Job controller leave them (waiting for admission, admitted,
 * evicted), and the reconciler's decisions on such attempts (queued counts, parallelism slots, evictions
 * not charged against maxRetries, the status message and events). The real Kueue is in e2e/kueue/.
 */
import { applyResult, attempt, currentRun, iso, makeBIJ, makeInput, makeJob, makePod } from '../testing/builders.js';
import { running, shardsOf } from '../testing/reconcile-helpers.js';
import { buildShardJob, kueueLabels } from './job.js';
import { LABEL_KUEUE_PRIORITY_CLASS, LABEL_KUEUE_QUEUE } from './names.js';
import { observeAttempts } from './observe.js';
import { reconcile } from './reconcile.js';
import { gpuSecondsOf } from './compute-status.js';

const QUEUE = { [LABEL_KUEUE_QUEUE]: 'team-a' };
const assignment = { runId: 'r0123456789', shard: 3, attempt: 1, planUri: 's3://scores/churn/_bij/r0123456789/plan.json' };
const shardJob = (labels?: Record<string, string>, worker?: Record<string, unknown>) => {
  const b = makeBIJ();
  if (labels) b.labels(labels);
  if (worker) b.withSpec({ worker });
  const o = b.obj();
  return buildShardJob({ metadata: o.metadata, spec: o.spec! }, assignment);
};

describe('shard Jobs for Kueue', () => {
  test.each<{ name: string; labels?: Record<string, string>; jobLabels: Record<string, string>; suspend?: boolean }>([
    { name: 'no Kueue labels: as before, not suspended', labels: undefined, jobLabels: {}, suspend: undefined },
    { name: 'a queue name: the label, created suspended', labels: QUEUE, jobLabels: QUEUE, suspend: true },
    {
      name: 'a queue name and a WorkloadPriorityClass: both labels',
      labels: { ...QUEUE, [LABEL_KUEUE_PRIORITY_CLASS]: 'high', team: 'x' },
      jobLabels: { ...QUEUE, [LABEL_KUEUE_PRIORITY_CLASS]: 'high' }, suspend: true,
    },
    { name: 'a priority class without a queue name: nothing (Kueue would not manage the Job)', labels: { [LABEL_KUEUE_PRIORITY_CLASS]: 'high' }, jobLabels: {}, suspend: undefined },
    { name: 'an empty queue name is none', labels: { [LABEL_KUEUE_QUEUE]: '' }, jobLabels: {}, suspend: undefined },
  ])('$name', ({ labels, jobLabels, suspend }) => {
    const j = shardJob(labels);
    expect(j.spec!.suspend).toBe(suspend);
    for (const k of [LABEL_KUEUE_QUEUE, LABEL_KUEUE_PRIORITY_CLASS]) {
      expect(j.metadata!.labels![k]).toBe(jobLabels[k]);
      // The pods never carry them: Kueue's pod integration must not take them for workloads of their own.
      expect(j.spec!.template.metadata!.labels![k]).toBeUndefined();
    }
    expect(kueueLabels(labels)).toEqual(jobLabels);
  });

  test('the pod priority class stays spec.worker.priorityClassName (Kueue reads it when no WorkloadPriorityClass is set)', () => {
    const j = shardJob(QUEUE, { priorityClassName: 'batch-high' });
    expect(j.spec!.template.spec!.priorityClassName).toBe('batch-high');
    expect(j.metadata!.labels![LABEL_KUEUE_PRIORITY_CLASS]).toBeUndefined();
  });
});

const RUN = 'r0123456789';
const JOB = `churn-${RUN}-s2-a0`;
const job = () => makeJob(JOB).labels(RUN, 2, 0).queue('team-a');

describe('observing Jobs Kueue holds', () => {
  test.each([
    { name: 'created suspended, no pod yet: queued', j: () => job().suspended(iso(2)), pods: [], want: { state: 'active', queued: true, suspendedSince: iso(2), queue: 'team-a', disrupted: false } },
    {
      name: 'evicted after admission: suspended again, its pod gone, the Job not failed (the stopped pod is not counted): queued again',
      j: () => job().resumed(iso(5)).suspended(iso(40)), pods: [], want: { state: 'active', queued: true, suspendedSince: iso(40), disrupted: false },
    },
    { name: 'admitted (unsuspended), pod running: active, not queued', j: () => job().resumed().active(1), pods: [makePod(JOB).obj()], want: { state: 'active', queue: 'team-a', disrupted: false } },
    {
      name: 'suspended again, its pod terminating: queued (the Job controller no longer counts a terminating pod as active)',
      j: () => job().suspended(),
      pods: [(() => { const p = makePod(JOB).obj(); p.metadata!.deletionTimestamp = iso(31) as unknown as Date; return p; })()],
      want: { state: 'active', queued: true, disrupted: false },
    },
    {
      name: 'suspended, but the Job still counts an active pod: not queued',
      j: () => job().suspended().active(1), pods: [], want: { state: 'active', disrupted: false },
    },
    {
      name: 'evicted, and the stopped pod failed the Job after all (backoffLimit 0): a disruption',
      j: () => job().failedCondition('BackoffLimitExceeded').suspended(),
      pods: [makePod(JOB).terminated(143, 'last log line').obj()],
      want: { state: 'failed', disrupted: true, evicted: true, reason: 'EvictedByKueue', exitCode: 143, queue: 'team-a' },
    },
    {
      name: 'a crash of an admitted Job (not suspended): a counted failure',
      j: () => job().resumed().failedCondition('BackoffLimitExceeded'),
      pods: [makePod(JOB).terminated(137).obj()],
      want: { state: 'failed', disrupted: false, exitCode: 137 },
    },
    {
      name: 'a Job without a queue name that someone suspended (Kueue managing Jobs without one) and that failed: evicted',
      j: () => makeJob(JOB).labels(RUN, 2, 0).failedCondition().suspended(),
      pods: [makePod(JOB).terminated(143).obj()],
      want: { state: 'failed', disrupted: true, evicted: true, reason: 'JobSuspended' },
    },
  ])('$name', ({ j, pods, want }) => {
    const [a] = observeAttempts([j().obj()], pods);
    expect(a).toMatchObject(want);
    if (!('queued' in want)) expect(a.queued).toBeUndefined();
    if (!('evicted' in want)) expect(a.evicted).toBeUndefined();
    if ('evicted' in want) expect(a.message).toMatch(/suspended.*while the pod ran/);
  });

  test('a queued attempt holds no GPU: no GPU-seconds while it waits', () => {
    const queued = attempt(0).gpus(1).started(0).queued('team-a').obj();
    const ran = attempt(0).shard(1).gpus(1).started(0).obj();
    expect(gpuSecondsOf([queued], new Date(Date.parse(iso(100))))).toBe(0);
    expect(gpuSecondsOf([ran], new Date(Date.parse(iso(100))))).toBe(100);
  });
});

const kueueBIJ = (parallelism = 4) => running(makeBIJ().labels(QUEUE).parallelism(parallelism).maxRetries(0));

describe('reconciling queued and evicted shards', () => {
  test('created Jobs are suspended; queued shards hold parallelism slots and are counted as queued', () => {
    const bij = kueueBIJ().obj();
    const first = reconcile(makeInput(bij).uniformPlan(8).obj());
    expect(shardsOf(first)).toEqual([0, 1, 2, 3]);
    expect(first.create.every((j) => j.spec!.suspend === true && j.metadata!.labels![LABEL_KUEUE_QUEUE] === 'team-a')).toBe(true);

    // Kueue admits two (quota 2): two run, two wait; no new Jobs (the four slots are taken).
    const input = makeInput(bij).uniformPlan(8).attempts(
      attempt(0).shard(0), attempt(0).shard(1), attempt(0).shard(2).queued('team-a'), attempt(0).shard(3).queued('team-a'),
    ).obj();
    const r = reconcile(input);
    expect(r.create).toEqual([]);
    expect(r.status.shards).toEqual({ total: 8, pending: 4, running: 2, queued: 2, succeeded: 0, failed: 0, retries: 0 });
    expect(r.status.shardsSummary).toBe('0/8 (2 queued)');
    expect(r.status.message).toBe('0 of 8 shards done, 2 running, 2 queued by Kueue in LocalQueue team-a');
    expect(r.events).toContainEqual({ type: 'Normal', reason: 'Queued', message: '2 shards queued by Kueue in LocalQueue team-a: waiting for quota in the ClusterQueue' });

    // The same again: no second Queued event while the count stays above 0.
    const again = reconcile(applyResult(input, r));
    expect(again.events.filter((e) => e.reason === 'Queued')).toEqual([]);
  });

  test('an evicted attempt whose Job failed is a disruption: retried at once, not charged against maxRetries (0 here)', () => {
    const bij = kueueBIJ(2).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(
      attempt(0).shard(0).evicted('team-a', 30), attempt(0).shard(1).queued('team-a'),
    ).now(31).obj());
    expect(r.status.phase).toBe('Running');
    expect(r.create.map((j) => j.metadata!.name)).toEqual([`churn-${currentRun(bij)}-s0-a1`]);
    expect(r.create[0].spec!.suspend).toBe(true);
    expect(r.status.shards).toMatchObject({ queued: 1, failed: 1, retries: 1 });
    const evicted = r.events.find((e) => e.reason === 'ShardEvicted');
    expect(evicted).toEqual({
      type: 'Normal', reason: 'ShardEvicted', key: `churn-${currentRun(bij)}-s0-a0/ShardEvicted`,
      message: 'shard 0 attempt 0 was evicted by Kueue from LocalQueue team-a (preempted by a higher-priority workload, or its quota reclaimed): '
        + 'its Job was suspended and its pod stopped; retrying without counting it',
    });
    expect(r.events.some((e) => e.reason === 'ShardFailed' || e.type === 'Warning')).toBe(false);
  });

  test('a queued attempt that had started was evicted: ShardEvicted once per eviction, and it keeps its slot', () => {
    const bij = kueueBIJ(2).obj();
    const input = (since: number, rowsDone?: number) => {
      const b = makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).queued('team-a', since), attempt(0).shard(1));
      if (rowsDone !== undefined) b.progress(0, 0, rowsDone);
      return b.obj();
    };
    // First wait (created suspended): no progress file, no eviction.
    expect(reconcile(input(1)).events.filter((e) => e.reason === 'ShardEvicted')).toEqual([]);
    const r = reconcile(input(40, 37));
    expect(r.create).toEqual([]);
    expect(r.status.shards).toMatchObject({ queued: 1, running: 1, failed: 0, retries: 0 });
    const job0 = `churn-${currentRun(bij)}-s0-a0`;
    expect(r.events.filter((e) => e.reason === 'ShardEvicted')).toEqual([{
      type: 'Normal', reason: 'ShardEvicted', key: `${job0}/ShardEvicted/${iso(40)}`,
      message: 'shard 0 attempt 0 was evicted by Kueue from LocalQueue team-a (preempted by a higher-priority workload, or its quota reclaimed) '
        + 'after 37 of 100 rows: its pod was stopped, and the attempt starts over when the Job is admitted again; not counted as a failure',
    }]);
    // Evicted again later: another key, so another event.
    expect(reconcile(input(90, 12)).events.find((e) => e.reason === 'ShardEvicted')?.key).toBe(`${job0}/ShardEvicted/${iso(90)}`);
  });

  test('evicted (Jobs failed) again and again: still not counted; a real crash after that is', () => {
    const bij = kueueBIJ(1).obj();
    const evictions = [0, 1, 2, 3, 4].map((n) => attempt(n).shard(0).evicted('team-a', 10 + n));
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(...evictions).now(20).obj());
    expect(r.status.phase).toBe('Running');
    expect(shardsOf(r)).toEqual([0]);
    const crashed = reconcile(makeInput(bij).uniformPlan(1).attempts(...evictions, attempt(5).shard(0).failed(20)).now(21).obj());
    expect(crashed.status.phase).toBe('Failed');
    expect(crashed.status.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ reason: 'RetriesExhausted' });
  });

  test('without a queue name (Jobs suspended by someone else): queued, and the message says so', () => {
    const bij = running(makeBIJ().parallelism(2)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).queued(), attempt(0).shard(1)).obj());
    expect(r.status.shards).toMatchObject({ running: 1, queued: 1 });
    expect(r.status.message).toBe('0 of 2 shards done, 1 running, 1 queued (their Jobs are suspended, waiting for admission)');
  });

  test('suspending the BatchInferenceJob deletes queued Jobs too, and counts none as queued', () => {
    const bij = kueueBIJ(2).suspend().obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).queued('team-a'), attempt(0).shard(1)).obj());
    expect(r.status.phase).toBe('Suspended');
    expect(r.delete.map((d) => d.name).sort()).toEqual([0, 1].map((s) => `churn-${currentRun(bij)}-s${s}-a0`));
    expect(r.status.shards?.queued).toBe(0);
  });

  test('a status without queued (written by an older operator) gives a Queued event when shards queue', () => {
    const old = kueueBIJ(2).obj();
    old.status.shards = { total: 2, pending: 2, running: 0, succeeded: 0, failed: 0, retries: 0 };
    old.status.runId = currentRun(old);
    const r = reconcile(makeInput(old).uniformPlan(2).attempts(attempt(0).shard(0).queued('team-a'), attempt(0).shard(1).queued('team-a')).obj());
    expect(r.events.filter((e) => e.reason === 'Queued').map((e) => e.message)).toEqual(['2 shards queued by Kueue in LocalQueue team-a: waiting for quota in the ClusterQueue']);
  });
});
