/**
 * spec.speculation on the real control plane: shard 2's first attempt is slowed by the fault hooks
 * (slow-rows), the others finish; the operator starts a speculative attempt of shard 2, which wins; the
 * slow attempt is stopped and its files swept; no retry is charged; events say so; every row exactly once.
 */
import { expectExactlyOnce } from '../support/cluster.js';
import { listFiles, shardJobName, waitForRunId, waitUntil } from '../support/faults-helpers.js';
import { faultEnv } from '../support/fault-env.js';
import { LABEL_SPECULATIVE } from '../../operator/src/reconciler/names.js';
import {
  BAD_EVERY, TEST_TIMEOUT, TOTAL, committedAttempts, expectOnlyCommitted, jobByName, pidOf, useFaultRuns, waitForEvent,
} from '../support/worker-fault-run.js';

const suite = useFaultRuns();
const { start } = suite;

describe('stragglers (spec.speculation)', () => {
  test('a slowed shard gets a speculative attempt that wins; the slow one is stopped and cleaned; no retry; exactly once', async () => {
    // 3 shards in 3 slots of 4: a free slot for the speculative attempt. Shard 2's attempt 0 sleeps 3 s
    // after every batch (over a minute in all); its attempt 1 is not slowed.
    const r = await start('straggler', {
      // minRuntimeSeconds: an unslowed shard takes 2-3 s (more on a loaded machine, where 1.5x the median
      // of the others is soon passed); only the slowed one runs past 8 s.
      spec: { parallelism: 4, speculation: { enabled: true, multiplier: 1.5, minRuntimeSeconds: 8 } },
      env: faultEnv({ BIJ_FAULT: 'slow-rows:3000:2:0' }),
    });
    const runId = await waitForRunId(r.c, r.name);
    const slow = shardJobName(r.name, runId, 2, 0);
    const spec = shardJobName(r.name, runId, 2, 1);

    // The speculative attempt's Job, labelled, while the slow attempt still runs.
    await waitUntil(`${spec} to be created`, async () => (await r.c.jobs(r.name)).some((j) => j.metadata?.name === spec), 60_000, 100);
    expect((await jobByName(r, spec)).metadata?.labels?.[LABEL_SPECULATIVE]).toBe('true');
    const during = await r.c.waitFor(r.name, (s) => (s?.shards?.speculative ?? 0) === 1 || s?.phase === 'Succeeded', 30_000);
    if (during?.phase !== 'Succeeded') expect(during?.shards).toMatchObject({ speculative: 1, retries: 0 });

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 0 } });
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.find((s) => s.shard === 2)?.attempt).toBe(1);
    expect((await committedAttempts(r.out, runId)).get(2)).toEqual(new Set([1]));

    // The slow attempt was stopped (its process is gone well before its minute was up), and nothing it wrote remains.
    await waitUntil(`${slow}'s worker to be stopped`, () => pidOf(r, slow) === undefined, 30_000, 100);
    await waitUntil('the shard Jobs to be deleted', async () => (await r.c.jobs(r.name)).length === 0, 30_000, 100);
    await waitUntil('the attempts\' files to be swept', () => !listFiles(r.out).some((f) => f.startsWith(`_bij/${runId}/shards/`)), 30_000, 100);
    expectOnlyCommitted(r.out, runId, manifest);

    const evs = await waitForEvent(r, 'Committed');
    const started = evs.filter((e) => e.reason === 'SpeculativeStarted');
    expect(started).toHaveLength(1);
    expect(started[0].message).toMatch(/^shard 2: attempt 0 has run \d+s, more than \d+s \(median of \d finished shards: \d+s\); starting speculative attempt 1$/);
    expect(evs.find((e) => e.reason === 'SpeculativeWon')?.message).toBe('shard 2: speculative attempt 1 finished first; stopping attempt 0');
    expect(evs.some((e) => ['ShardFailed', 'ShardDisrupted', 'ShardRetried', 'SpeculativeFailed'].includes(e.reason))).toBe(false);
    expect(r.started.filter((j) => j === spec)).toEqual([spec]);
  }, TEST_TIMEOUT);
});
