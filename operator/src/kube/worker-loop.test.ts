/** The worker loop both controllers share: success, conflict and error, in that contract. */
import { Writable } from 'node:stream';
import { makeLogger } from '../log.js';
import { until } from '../../../core/testing/until.js';
import { runWorkerLoop, type ReconcileOutcome } from './worker-loop.js';
import { WorkQueue } from './workqueue.js';

const conflict = () => Object.assign(new Error('conflict'), { code: 409, body: { reason: 'Conflict' } });

test('a conflict is re-read soon without a warning; an error is reported and backs off; success forgets the failures and requeues as asked', async () => {
  const lines: { msg: string; level: number }[] = [];
  const log = makeLogger({ name: 't', level: 'debug', destination: new Writable({ write: (c, _e, cb) => { lines.push(JSON.parse(String(c))); cb(); } }) });
  const queue = new WorkQueue({ baseDelayMs: 20 });
  const outcomes: [string, ReconcileOutcome][] = [];
  const reported: string[] = [];
  const steps: (() => number | undefined)[] = [
    () => { throw conflict(); },
    () => { throw new Error('storage down'); },
    () => 30, // success, asks to come back in 30 ms
    () => undefined, // success, nothing asked
  ];
  let calls = 0;
  let timed = 0;
  const loop = runWorkerLoop({
    queue, log,
    reconcile: async () => steps[calls++](),
    onStart: () => () => { timed++; },
    onOutcome: (key, o) => outcomes.push([key, o]),
    onError: async (_key, err) => { reported.push((err as Error).message); },
  });
  queue.add('ns/a');
  await until('four reconciles', () => outcomes.length >= 4, 5_000);
  await new Promise((r) => setTimeout(r, 100));
  expect(outcomes).toEqual([['ns/a', 'conflict'], ['ns/a', 'error'], ['ns/a', 'success'], ['ns/a', 'success']]);
  expect(calls).toBe(4); // nothing after the last success: no requeue asked
  expect(timed).toBe(4);
  expect(reported).toEqual(['storage down']); // the conflict is not reported
  expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(['reconcile failed; will retry']);
  expect(queue.failureCount('ns/a')).toBe(0);
  expect(queue.isIdle()).toBe(true);
  queue.shutDown();
  await loop;
});

test('a failing onError does not stop the requeue', async () => {
  const queue = new WorkQueue({ baseDelayMs: 10 });
  let calls = 0;
  const loop = runWorkerLoop({
    queue, log: makeLogger({ name: 't', level: 'silent' }),
    reconcile: async () => { if (calls++ === 0) throw new Error('first'); return undefined; },
    onError: async () => { throw new Error('status write failed too'); },
  });
  queue.add('ns/b');
  await until('the retry', () => calls >= 2, 5_000);
  queue.shutDown();
  await loop;
});
