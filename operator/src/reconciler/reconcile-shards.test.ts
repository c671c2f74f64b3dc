/** Reconciler tables: scheduling, retries and backoff, bad input, suspend. */
import {
  applyResult, at, attempt, currentRun, iso, makeBIJ, makeInput, updateAttempt,
} from '../testing/builders.js';
import { attemptsOf, cond, reasons, running, shardsOf } from '../testing/reconcile-helpers.js';
import { EXIT } from '../../../core/src/contract/process.js';
import { reconcile } from './reconcile.js';
import { retryBackoffMs } from './shards.js';

describe('scheduling', () => {
  test.each([
    { name: 'parallelism caps new attempts', parallelism: 2, attempts: [], manifests: [], want: [0, 1] },
    { name: 'running attempts take slots', parallelism: 2, attempts: [attempt(0).shard(0)], manifests: [], want: [1] },
    { name: 'deleting attempts take slots', parallelism: 2, attempts: [attempt(0).shard(0).deleting()], manifests: [], want: [1] },
    { name: 'lowest pending shards first', parallelism: 3, attempts: [attempt(0).shard(1)], manifests: [[0, 0]], want: [2, 3] },
    { name: 'full: nothing new', parallelism: 2, attempts: [attempt(0).shard(2), attempt(0).shard(3)], manifests: [], want: [] },
  ])('$name', ({ parallelism, attempts, manifests, want }) => {
    const bij = running(makeBIJ().parallelism(parallelism)).obj();
    const b = makeInput(bij).uniformPlan(4).attempts(...attempts);
    for (const [s, a] of manifests) b.manifest(s, a);
    const r = reconcile(b.obj());
    expect(shardsOf(r)).toEqual(want);
    expect(r.status.phase).toBe('Running');
  });

  test('never more than parallelism active attempts, through a whole run', () => {
    let input = makeInput(makeBIJ().parallelism(3).obj()).uniformPlan(10).obj();
    let maxActive = 0;
    for (let step = 0; step < 40; step++) {
      const r = reconcile(input);
      input = applyResult(input, r, at(step));
      const active = input.attempts.filter((a) => a.state === 'active');
      maxActive = Math.max(maxActive, active.length);
      if (r.status.phase === 'Merging') break;
      // Each step, the lowest running shard finishes with a manifest.
      const first = active.sort((a, b) => a.shard - b.shard)[0];
      if (first) {
        input = updateAttempt(input, first.shard, first.attempt, (a) => ({ ...a, state: 'succeeded', finishedAt: iso(step) }));
        input = { ...input, manifests: new Map([...input.manifests, [first.shard, [{ attempt: first.attempt, rows: { read: 100, scored: 100, failed: 0 } }]]]) };
      }
    }
    expect(maxActive).toBe(3);
    expect(reconcile(input).status.phase).toBe('Merging');
  });

  test('Jobs carry the assignment, and are owned by the BatchInferenceJob', () => {
    const bij = makeBIJ().parallelism(1).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).obj());
    const job = r.create[0];
    const run = currentRun(bij);
    expect(job.metadata!.name).toBe(`churn-${run}-s0-a0`);
    expect(job.metadata!.ownerReferences![0]).toMatchObject({ kind: 'BatchInferenceJob', uid: 'uid-1', controller: true });
    const env = Object.fromEntries(job.spec!.template.spec!.containers[0].env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ BIJ_PLAN_URI: `s3://scores/churn/_bij/${run}/plan.json`, BIJ_SHARD: '0', BIJ_ATTEMPT: '0', BIJ_RUN_ID: run });
  });
});

describe('retries and backoff', () => {
  test('a counted failure: retried with the next attempt number after 10s', () => {
    const bij = running(makeBIJ().parallelism(4)).obj();
    const base = () => makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).failed(60).exit(EXIT.retryable).message('connection reset'));
    const early = reconcile(base().now(65).obj());
    expect(early.create).toEqual([]);
    expect(early.requeueAfterMs).toBe(5_000);
    expect(early.status.shards).toMatchObject({ failed: 1, retries: 1 });
    const due = reconcile(base().now(70).obj());
    expect(shardsOf(due)).toEqual([0]);
    expect(attemptsOf(due)).toEqual([1]);
    // Reported with the Job's creation (not after the status write), once per retry Job.
    expect(due.events.find((e) => e.reason === 'ShardRetried')).toEqual({
      type: 'Normal', reason: 'ShardRetried', message: 'shard 0: starting attempt 1',
      key: `${due.create[0].metadata!.name}/ShardRetried`, withJobs: true,
    });
  });

  test.each([
    { failures: 1, wait: 10_000 },
    { failures: 2, wait: 20_000 },
    { failures: 3, wait: 40_000 },
    { failures: 6, wait: 300_000 },
  ])('backoff after $failures counted failures is $wait ms', ({ failures, wait }) => {
    expect(retryBackoffMs(failures)).toBe(wait);
    const bij = running(makeBIJ().maxRetries(10)).obj();
    const list = Array.from({ length: failures }, (_, i) => attempt(i).shard(0).failed(100 + i));
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(...list).now(100 + failures - 1).obj());
    expect(r.create).toEqual([]);
    expect(r.requeueAfterMs).toBe(Math.min(wait, 15_000));
    const due = reconcile(makeInput(bij).uniformPlan(1).attempts(...list).now(100 + failures - 1 + wait / 1000).obj());
    expect(attemptsOf(due)).toEqual([failures]);
  });

  test('a shard waiting for backoff does not hold back other shards', () => {
    const bij = running(makeBIJ().parallelism(1)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).failed(60)).now(61).obj());
    expect(shardsOf(r)).toEqual([1]);
  });

  test('more counted failures than maxRetries: Failed, naming the shard, attempts and last message; running Jobs stopped', () => {
    const bij = running(makeBIJ().maxRetries(2)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(
      attempt(0).shard(1).failed(10), attempt(1).shard(1).failed(30).disrupted(), attempt(2).shard(1).failed(40),
      attempt(3).shard(1).failed(50).exit(137).reason('OOMKilled').message('out of memory'), attempt(0).shard(0).active(),
    ).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'RetriesExhausted' });
    expect(r.status.message).toMatch(/shard 1 failed 3 times \(attempts 0, 2, 3\), more than maxRetries=2; last: exit 137 \(OOMKilled\): out of memory/);
    expect(r.delete.map((d) => d.name)).toEqual([`churn-${currentRun(bij)}-s0-a0`]);
    expect(r.create).toEqual([]);
    expect(r.status.shards).toMatchObject({ running: 0, failed: 1, pending: 1 });
    // Each failed attempt's event, then the verdict (events are recorded in this order).
    expect(reasons(r).filter((x) => x !== 'Started')).toEqual(['ShardFailed', 'ShardDisrupted', 'ShardFailed', 'ShardFailed', 'RetriesExhausted']);
  });

  test('a disruption on the last allowed attempt is still retried, at once, without counting', () => {
    const bij = running(makeBIJ().maxRetries(1)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(
      attempt(0).shard(0).failed(10), attempt(1).shard(0).failed(59).disrupted('Preempting'),
    ).now(60).obj());
    expect(r.status.phase).toBe('Running');
    expect(attemptsOf(r)).toEqual([2]);
    expect(r.events.find((e) => e.reason === 'ShardDisrupted')?.message).toContain('shard 0 attempt 1');
  });

  test('a pod the Job controller replaced after a disruption: a keyed ShardDisrupted event, nothing counted or retried', () => {
    const bij = running(makeBIJ().maxRetries(0)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).active().replacedPod('p-aaaaa', 'EvictionByEvictionAPI')).obj());
    expect(r.status).toMatchObject({ phase: 'Running', shards: { running: 1, retries: 0 } });
    expect(r.create).toEqual([]);
    expect(r.events.filter((e) => e.reason === 'ShardDisrupted')).toEqual([{
      type: 'Normal', reason: 'ShardDisrupted', key: 'p-aaaaa/ShardDisrupted',
      message: 'shard 0 attempt 0: pod p-aaaaa was disrupted (EvictionByEvictionAPI); the Job started a replacement pod, not counted as a failure',
    }]);
  });

  test('completed without a manifest is a counted failure', () => {
    const bij = running(makeBIJ().maxRetries(0)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).succeeded()).obj());
    expect(r.status.phase).toBe('Failed');
    expect(r.status.message).toContain('exited 0 without writing its shard manifest');
  });

  test('done comes from the manifest, not the exit code: a failed Job that wrote its manifest is done', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).failed().exit(137)).manifest(0, 0).obj());
    expect(r.status.phase).toBe('Merging');
  });

  test('next attempt number is one more than any observed, manifests included', () => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(3).shard(0).failed(0).disrupted()).obj());
    expect(attemptsOf(r)).toEqual([4]);
  });
});

describe('bad input and failed rows', () => {
  test.each([
    { name: 'exit code', a: attempt(0).shard(2).badInput('column f0 is missing') },
    { name: 'termination summary', a: attempt(0).shard(2).failed().exit(1).summary({ outcome: 'bad-input', message: 'column f0 is missing' }) },
  ])('bad input ($name) fails the run at once', ({ a }) => {
    const bij = running(makeBIJ().maxRetries(5)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(4).attempts(a, attempt(0).shard(0).active()).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'BadInput' });
    expect(r.status.message).toContain('shard 2 attempt 0 found bad input (not retried): column f0 is missing');
    expect(r.delete).toHaveLength(1);
    expect(r.create).toEqual([]);
  });

  test('maxFailedRows: more failed rows than allowed fails the run', () => {
    const bij = running(makeBIJ().maxFailedRows(5)).obj();
    const ok = reconcile(makeInput(bij).uniformPlan(2).manifest(0, 0, { failed: 5 }).obj());
    expect(ok.status.phase).toBe('Running');
    expect(ok.status.rows).toEqual({ total: 200, processed: 100, failed: 5 });
    const bad = reconcile(makeInput(bij).uniformPlan(2).manifest(0, 0, { failed: 3 }).manifest(1, 0, { failed: 3 }).obj());
    expect(bad.status.phase).toBe('Failed');
    expect(cond(bad, 'Failed')?.reason).toBe('TooManyFailedRows');
    expect(bad.actions.commit).toBeUndefined();
  });
});

describe('suspend', () => {
  test('suspend stops running attempts (not counted) and resuming continues', () => {
    const bij = running(makeBIJ().parallelism(2)).obj();
    const suspended = makeInput({ ...bij, spec: { ...bij.spec!, suspend: true } }).uniformPlan(4)
      .attempts(attempt(0).shard(1).active(), attempt(0).shard(2).active()).manifest(0, 0).obj();
    const r = reconcile(suspended);
    expect(r.status.phase).toBe('Suspended');
    expect(r.delete).toHaveLength(2);
    expect(r.create).toEqual([]);
    expect(reasons(r)).toContain('Suspended');
    expect(cond(r, 'Suspended')?.status).toBe('True');

    const after = applyResult(suspended, r);
    expect(reconcile(after).status.phase).toBe('Suspended');
    const resumed = reconcile({ ...after, bij: { ...after.bij, spec: { ...after.bij.spec!, suspend: false } } });
    expect(resumed.status.phase).toBe('Running');
    expect(resumed.status.shards).toMatchObject({ succeeded: 1, retries: 0 });
    expect(shardsOf(resumed)).toEqual([1, 2]);
    expect(reasons(resumed)).toContain('Resumed');
  });
});

describe('pods that cannot start', () => {
  test('a configuration error fails the run at once, naming the shard, the reason and what to check', () => {
    const bij = running(makeBIJ().maxRetries(5)).obj();
    const r = reconcile(makeInput(bij).uniformPlan(2).attempts(
      attempt(0).shard(0).waiting('CreateContainerConfigError', 0, 'secret "s3-creds" not found'), attempt(0).shard(1).active(),
    ).now(5).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'PodCannotStart' });
    expect(r.status.message).toMatch(/shard 0 attempt 0 cannot start: CreateContainerConfigError: secret "s3-creds" not found \(check spec.worker.image, env, envFrom and storage.s3.credentialsSecret\)/);
    expect(r.delete).toHaveLength(2);
  });

  test.each([
    [5 * 60, 'Running'],
    [11 * 60, 'Failed'],
  ])('an image pull error fails the run only after 10 minutes (%i s in: %s)', (sec, phase) => {
    const bij = running().obj();
    const r = reconcile(makeInput(bij).uniformPlan(1).attempts(attempt(0).shard(0).waiting('ImagePullBackOff', 0, 'Back-off pulling image "reg/w:typo"')).now(sec).obj());
    expect(r.status.phase).toBe(phase);
    if (phase === 'Failed') expect(r.status.message).toMatch(/ImagePullBackOff: Back-off pulling image "reg\/w:typo" for 11 min \(check spec.worker.image/);
  });

  test('an ordinary waiting reason (ContainerCreating) is not a failure', () => {
    const r = reconcile(makeInput(running().obj()).uniformPlan(1).attempts(attempt(0).shard(0).waiting('ContainerCreating', 0)).now(3600).obj());
    expect(r.status.phase).toBe('Running');
  });
});
