import { jest } from '@jest/globals';
import { WorkQueue } from './workqueue.js';

describe('WorkQueue', () => {
  test('a key added many times is queued once', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
  });

  test('a key being processed is not handed out twice; adding it meanwhile requeues it after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    const k = await q.get();
    q.add('ns/a');
    expect(q.length).toBe(0);
    q.done(k!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('ns/a');
  });

  test('a waiting worker receives the next key', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('ns/x');
    expect(await p).toBe('ns/x');
  });

  test('failures back off exponentially per key until forget', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k')])
      .toEqual([100, 200, 400, 800, 1000]);
    expect(q.addRateLimited('other')).toBe(100);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(100);
    q.shutDown();
  });

  test('addAfter delays a key and the earliest delay wins (on a fake clock)', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const q = new WorkQueue();
      q.addAfter('k', 10_000);
      q.addAfter('k', 20);
      jest.advanceTimersByTime(19);
      expect(q.length).toBe(0);
      jest.advanceTimersByTime(1);
      expect(q.length).toBe(1);
      expect(await q.get()).toBe('k');
      q.done('k');
      jest.advanceTimersByTime(20_000); // the later delay was dropped: the key does not come again
      expect(q.length).toBe(0);
      q.shutDown();
    } finally {
      jest.useRealTimers();
    }
  });

  test('shutDown releases waiting workers', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.shutDown();
    expect(await p).toBeUndefined();
  });
});
