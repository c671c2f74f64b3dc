/**
 * Exactly once when workers crash (fault suite, part A1): SIGKILLs mid-shard, a death after the data
 * but before the manifest, a disruption on the last allowed attempt, retries exhausted. Every case runs
 * a real job (embedded API server, operator, local Job runner, real worker processes) and checks that
 * the fault really happened, then the committed output row by row, the final status and the Events.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectExactlyOnce } from '../support/cluster.js';
import {
  attemptDir, listFiles, readPlan, sha256File, shardJobName, waitForMidShard, waitForRunId, waitUntil,
} from '../support/faults-helpers.js';
import { LABEL_ATTEMPT } from '../../operator/src/reconciler/names.js';
import { Duck, sqlString } from '../../core/testing/fixtures.js';
import {
  BAD_EVERY, SLOW, TEST_TIMEOUT, TOTAL, waitForEvent, failedCondition, committedAttempts,
  expectOnlyCommitted, useFaultRuns,
} from '../support/worker-fault-run.js';

const suite = useFaultRuns();
const { start } = suite;

describe('exactly once when workers crash', () => {
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

  test('a disruption of the last allowed attempt is not counted: killed, then evicted (the Job replaces the pod), then succeeded', async () => {
    const r = await start('disrupted', { env: { BIJ_FAULT: SLOW }, spec: { maxRetries: 1 } });
    const runId = await waitForRunId(r.c, r.name);
    const rows = readPlan(r.out, runId).shards.map((s) => s.rows);
    // Attempt 0 crashes (counted: maxRetries 1 is now used up); attempt 1 is evicted (not counted).
    const a0 = await waitForMidShard(r.c, r.name, r.out, runId, 0, 0, rows[0]);
    expect(r.c.runner.kill(a0)).toBe(true);
    const a1 = await waitForMidShard(r.c, r.name, r.out, runId, 0, 1, rows[0]);
    expect(await r.c.runner.evict(a1)).toBe(true);

    const st = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    // The eviction is absorbed by the shard Job's pod failure policy (DisruptionTarget -> Ignore): the
    // real Job controller starts a replacement pod for attempt 1, which finishes the shard.
    expect(st).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, failed: 0, retries: 1 } });
    expect(failedCondition(st)).toBeUndefined();
    const manifest = await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    expect(manifest.shards.find((s) => s.shard === 0)?.attempt).toBe(1);
    expect((await committedAttempts(r.out, runId)).get(0)).toEqual(new Set([1]));
    expectOnlyCommitted(r.out, runId, manifest);

    const evs = await waitForEvent(r, 'Committed');
    const failed = evs.filter((e) => e.reason === 'ShardFailed');
    expect(failed.map((e) => e.message)).toEqual([expect.stringMatching(/^shard 0 attempt 0 failed: exit 137/)]);
    const disrupted = evs.filter((e) => e.reason === 'ShardDisrupted');
    expect(disrupted.map((e) => e.message)).toEqual([
      expect.stringMatching(/^shard 0 attempt 1: pod \S+ was disrupted \(EvictionByEvictionAPI\); the Job started a replacement pod, not counted as a failure$/),
    ]);
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
    expect(st?.shards).toEqual({ total: 3, pending: 0, running: 0, queued: 0, succeeded: 2, failed: 1, retries: 3 });

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
