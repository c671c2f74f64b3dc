/**
 * spec.input.waitFor on the real control plane: a job Waiting for its input's _SUCCESS marker, which the
 * test writes while it waits; then it runs, and every row is scored exactly once. And a wait that times
 * out: Failed, InputNotReady, nothing started.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectExactlyOnce } from '../support/cluster.js';
import { listFiles, waitUntil } from '../support/faults-helpers.js';
import { BAD_EVERY, TEST_TIMEOUT, TOTAL, failedCondition, useFaultRuns, waitForEvent } from '../support/worker-fault-run.js';

const suite = useFaultRuns();
const { start } = suite;

/** A copy of the suite's input (so the marker never reaches the other cases), and its spec.input. */
function inputWithout(name: string, waitFor: Record<string, unknown>): { dir: string; input: Record<string, unknown> } {
  const dir = join(suite.fx.root, `in-${name}`);
  cpSync(suite.fx.input, dir, { recursive: true });
  return { dir, input: { uri: dir + '/', idColumn: 'id', passthroughColumns: ['region'], waitFor } };
}

const cond = (s: { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined, type: string) =>
  s?.conditions?.find((c) => c.type === type);

describe('waiting for the input (spec.input.waitFor)', () => {
  test('Waiting until the _SUCCESS marker is written, then Running and Succeeded, every row exactly once', async () => {
    const { dir, input } = inputWithout('marker', { marker: '_SUCCESS', pollSeconds: 1, timeoutSeconds: 300 });
    const r = await start('waits', { spec: { input } });
    const waiting = await r.c.waitForPhase(r.name, 'Waiting', 60_000);
    expect(waiting?.waitingSince).toBeDefined();
    expect(waiting?.startTime).toBeUndefined();
    expect(cond(waiting, 'Waiting')).toMatchObject({ status: 'True', reason: 'InputNotReady' });
    expect(cond(waiting, 'Waiting')!.message).toContain(`${dir}/_SUCCESS does not exist`);
    expect(cond(waiting, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Waiting' });
    expect(cond(waiting, 'Stalled')!.status).toBe('False');
    // Nothing is planned or started while it waits.
    expect(await r.c.jobs(r.name)).toEqual([]);
    expect(listFiles(r.out).filter((f) => !f.startsWith('_bij/claims/'))).toEqual([]);
    await waitForEvent(r, 'Waiting');

    writeFileSync(join(dir, '_SUCCESS'), '');
    const done = await r.c.waitForPhase(r.name, ['Succeeded', 'Failed'], 90_000);
    expect(done).toMatchObject({ phase: 'Succeeded', shards: { total: 3, succeeded: 3, retries: 0 } });
    expect(done?.waitingSince).toBeUndefined();
    expect(cond(done, 'Waiting')!.status).toBe('False');
    await expectExactlyOnce(r.out, TOTAL, BAD_EVERY);
    const evs = await waitForEvent(r, 'Committed');
    const ready = evs.find((e) => e.reason === 'InputReady');
    expect(ready?.message).toMatch(/the input is ready after waiting \d+s/);
    expect(evs.filter((e) => e.reason === 'Waiting')).toHaveLength(1);
    expect(evs.filter((e) => e.reason === 'InputReady')).toHaveLength(1);
  }, TEST_TIMEOUT);

  test('a marker that never comes: Failed at the timeout, InputNotReady naming the path, no Job started', async () => {
    const { dir, input } = inputWithout('never', { marker: '_SUCCESS', pollSeconds: 1, timeoutSeconds: 3 });
    const r = await start('never', { spec: { input } });
    const st = await r.c.waitForPhase(r.name, ['Failed', 'Succeeded'], 60_000);
    expect(st?.phase).toBe('Failed');
    const failed = failedCondition(st);
    expect(failed?.reason).toBe('InputNotReady');
    expect(failed?.message).toContain('not ready within 3s (spec.input.waitFor.timeoutSeconds');
    expect(failed?.message).toContain(`${dir}/_SUCCESS does not exist (spec.input.waitFor.marker)`);
    expect(cond(st, 'Stalled')).toMatchObject({ status: 'True', reason: 'InputNotReady' });
    expect(cond(st, 'Reconciling')!.status).toBe('False');
    expect(r.started).toEqual([]);
    expect(await r.c.jobs(r.name)).toEqual([]);
    const evs = await waitForEvent(r, 'InputNotReady');
    expect(evs.find((e) => e.reason === 'InputNotReady')?.type).toBe('Warning');
    // A wait that failed stays failed: the marker written later starts nothing.
    writeFileSync(join(dir, '_SUCCESS'), '');
    await waitUntil('the operator to have seen the job again', async () => (await r.c.waitForPhase(r.name, 'Failed', 5_000))?.phase === 'Failed', 10_000);
    expect(await r.c.jobs(r.name)).toEqual([]);
  }, TEST_TIMEOUT);
});
