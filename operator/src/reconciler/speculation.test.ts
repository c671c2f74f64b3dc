/** Stragglers (spec.speculation): when a speculative attempt starts, how the race ends, and that it is never a failure. */
import { applyResult, attempt, makeBIJ, makeInput, makeJob } from '../testing/builders.js';
import { observeAttempts } from './observe.js';
import { buildShardJob } from './job.js';
import { attemptsOf, reasons, shardsOf, withStatus } from '../testing/reconcile-helpers.js';
import { LABEL_SPECULATIVE } from './names.js';
import { reconcile } from './reconcile.js';

/** 4 shards: 0-2 finished in 60s each (started 0, finished 60); shard 3's attempt 0 started at 0 and still runs. */
const straggling = (spec = makeBIJ().speculation({ multiplier: 1.5, minRuntimeSeconds: 30 }), parallelism = 4) =>
  makeInput(spec.parallelism(parallelism).obj()).uniformPlan(4)
    .attempts(attempt(0).shard(0).succeeded(60), attempt(0).shard(1).succeeded(60), attempt(0).shard(2).succeeded(60), attempt(0).shard(3).started(0))
    .manifest(0, 0).manifest(1, 0).manifest(2, 0);

describe('speculation', () => {
  test.each([
    { name: 'off (the default): never', input: () => straggling(makeBIJ()).now(1000), want: [] as number[] },
    { name: 'before multiplier x median (90s): not yet, requeue when it would be', input: () => straggling().now(80), want: [], requeue: 10_000 },
    { name: 'past multiplier x median: one more attempt of that shard', input: () => straggling().now(91), want: [3] },
    {
      name: 'past multiplier x median but under minRuntimeSeconds: not yet',
      input: () => straggling(makeBIJ().speculation({ multiplier: 1.5, minRuntimeSeconds: 300 })).now(200), want: [],
    },
    { name: 'no finished shard: no median, never', input: () => makeInput(makeBIJ().speculation({ minRuntimeSeconds: 0 }).obj()).uniformPlan(2).attempts(attempt(0).shard(0), attempt(0).shard(1)).now(5000), want: [] },
    { name: 'a speculative attempt already runs: never a second', input: () => straggling().attempts(attempt(1).shard(3).speculative().started(95)).now(500), want: [] },
    { name: 'its speculative attempt failed: left to its own attempt', input: () => straggling().attempts(attempt(1).shard(3).speculative().started(95).failed(120)).now(500), want: [] },
    { name: 'the attempt is queued (Kueue): not running, never', input: () => makeInput(makeBIJ().speculation({ minRuntimeSeconds: 0 }).parallelism(4).obj()).uniformPlan(2).attempts(attempt(0).shard(0).succeeded(60), attempt(0).shard(1).queued('q')).manifest(0, 0).now(5000), want: [] },
    { name: 'no free parallelism slot: never', input: () => straggling(makeBIJ().speculation({ minRuntimeSeconds: 0 }), 1).now(500), want: [] },
  ])('$name', ({ input, want, requeue }) => {
    const r = reconcile(input().obj());
    expect(shardsOf(r)).toEqual(want);
    if (want.length > 0) {
      expect(attemptsOf(r)).toEqual([1]);
      expect(r.create[0].metadata!.labels![LABEL_SPECULATIVE]).toBe('true');
      const ev = r.events.find((e) => e.reason === 'SpeculativeStarted');
      expect(ev).toMatchObject({ withJobs: true });
      expect(ev!.message).toMatch(/shard 3: attempt 0 has run 91s, more than 90s \(median of 3 finished shards: 60s\); starting speculative attempt 1/);
      const next = reconcile(applyResult(input().obj(), r));
      expect(next.status.shards).toMatchObject({ running: 1, speculative: 1, retries: 0 });
      expect(next.create).toEqual([]);
    }
    if (requeue !== undefined) expect(r.requeueAfterMs).toBe(requeue);
  });

  test('at most maxSpeculative at once, the longest-running first', () => {
    const input = makeInput(makeBIJ().speculation({ minRuntimeSeconds: 0, maxSpeculative: 1 }).parallelism(8).obj()).uniformPlan(4)
      .attempts(attempt(0).shard(0).succeeded(10), attempt(0).shard(1).started(5), attempt(0).shard(2).started(0), attempt(0).shard(3).started(3))
      .manifest(0, 0).now(100);
    const r = reconcile(input.obj());
    expect(shardsOf(r)).toEqual([2]);
  });

  test('the speculative attempt wins: the slow one is stopped, SpeculativeWon, no retry charged, then the commit', () => {
    const input = straggling().attempts(attempt(1).shard(3).speculative().started(95).succeeded(150)).manifest(3, 1).now(150);
    const r = reconcile(input.obj());
    expect(r.delete.map((d) => d.name)).toEqual([expect.stringMatching(/-s3-a0$/)]);
    expect(reasons(r)).toContain('SpeculativeWon');
    // Recorded with the delete, before the status write: a lost status write must not lose it (the next
    // pass sees the slow attempt as deleting, no longer a race).
    expect(r.events.find((e) => e.reason === 'SpeculativeWon')).toMatchObject({ message: 'shard 3: speculative attempt 1 finished first; stopping attempt 0', withJobs: true });
    expect(r.status.phase).toBe('Merging');
    expect(r.status.shards).toMatchObject({ succeeded: 4, retries: 0, failed: 0 });
    // The commit, once Merging is recorded.
    const commit = reconcile(withStatus(input.obj(), r));
    expect(commit.actions.commit?.chosen).toEqual([{ shard: 0, attempt: 0 }, { shard: 1, attempt: 0 }, { shard: 2, attempt: 0 }, { shard: 3, attempt: 1 }]);
  });

  test('the slow attempt wins after all: the speculative one is stopped, SpeculativeLost', () => {
    const input = straggling().attempts(attempt(1).shard(3).speculative().started(95)).manifest(3, 0).now(150);
    const r = reconcile(input.obj());
    expect(r.delete.map((d) => d.name)).toEqual([expect.stringMatching(/-s3-a1$/)]);
    expect(r.events.find((e) => e.reason === 'SpeculativeLost')).toMatchObject({ message: 'shard 3: attempt 0 finished first; stopping speculative attempt 1', withJobs: true });
  });

  test('a failed speculative attempt is no failure: not retried, not counted, maxRetries 0 still runs; SpeculativeFailed', () => {
    const input = straggling(makeBIJ().speculation({ minRuntimeSeconds: 30 }).maxRetries(0))
      .attempts(attempt(1).shard(3).speculative().started(95).failed(120).exit(1)).now(150);
    const r = reconcile(input.obj());
    expect(r.status.phase).toBe('Running');
    expect(r.status.shards).toMatchObject({ retries: 0, failed: 0, running: 1, speculative: 0 });
    expect(r.create).toEqual([]);
    expect(reasons(r)).toContain('SpeculativeFailed');
  });

  test('the original attempt fails while the speculative one runs: counted as usual, no new attempt (one is running)', () => {
    const input = straggling().attempts(attempt(1).shard(3).speculative().started(95)).now(150);
    const failed = { ...input.obj() };
    failed.attempts = failed.attempts.map((a) => (a.shard === 3 && a.attempt === 0 ? { ...a, state: 'failed' as const, exitCode: 1, finishedAt: a.startedAt } : a));
    const r = reconcile(failed);
    expect(r.status.shards).toMatchObject({ retries: 1, running: 1 });
    expect(r.create).toEqual([]);
  });
});

describe('speculative Jobs', () => {
  test('built with the label (Job and pods), and observed as speculative; others are not', () => {
    const o = makeBIJ().obj();
    const a = { runId: 'r0123456789', shard: 2, attempt: 1, planUri: 's3://scores/churn/_bij/r0123456789/plan.json' };
    const spec = buildShardJob({ metadata: o.metadata, spec: o.spec! }, { ...a, speculative: true });
    const plain = buildShardJob({ metadata: o.metadata, spec: o.spec! }, a);
    expect(spec.metadata!.labels![LABEL_SPECULATIVE]).toBe('true');
    expect(spec.spec!.template.metadata!.labels![LABEL_SPECULATIVE]).toBe('true');
    expect(plain.metadata!.labels![LABEL_SPECULATIVE]).toBeUndefined();
    const j = makeJob('x-s2-a1').labels('r0123456789', 2, 1).obj();
    j.metadata!.labels![LABEL_SPECULATIVE] = 'true';
    expect(observeAttempts([j, makeJob('x-s2-a0').labels('r0123456789', 2, 0).obj()], []).map((x) => x.speculative)).toEqual([true, undefined]);
  });
});
