import { Channel, pipe } from './channel.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Channel', () => {
  test('delivers every item in order and ends on close', async () => {
    const ch = pipe<number>(2, async (send) => {
      for (let i = 0; i < 10; i++) await send(i);
    });
    const got: number[] = [];
    for await (const x of ch) got.push(x);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a slow consumer holds the producer to the capacity (backpressure)', async () => {
    let produced = 0;
    let maxAhead = 0;
    let consumed = 0;
    const ch = pipe<number>(3, async (send) => {
      for (let i = 0; i < 20; i++) {
        await send(i);
        produced++;
        maxAhead = Math.max(maxAhead, produced - consumed);
      }
    });
    for await (const _ of ch) {
      await sleep(2);
      consumed++;
    }
    expect(consumed).toBe(20);
    // capacity items waiting, plus the one the consumer holds, plus the one being sent
    expect(maxAhead).toBeLessThanOrEqual(3 + 2);
    expect(ch.blockedSendMs).toBeGreaterThan(0);
  });

  test('a producer error reaches the consumer', async () => {
    const ch = pipe<number>(2, async (send) => {
      await send(1);
      throw new Error('decode failed in file x.parquet');
    });
    const got: number[] = [];
    await expect((async () => {
      for await (const x of ch) got.push(x);
    })()).rejects.toThrow('decode failed in file x.parquet');
    expect(got).toEqual([1]);
  });

  test('failing the channel unblocks a waiting producer', async () => {
    const ch = new Channel<number>(1);
    await ch.send(1);
    const blocked = ch.send(2);
    ch.fail(new Error('consumer stopped'));
    await expect(blocked).rejects.toThrow('consumer stopped');
  });

  test('rejects a capacity below one', () => {
    expect(() => new Channel(0)).toThrow('capacity');
  });
});
