import { createHash } from 'node:crypto';
import { PartSink } from './part-sink.js';

const MiB = 1 << 20;

/** `n` chunks of `size` bytes, each filled with its index. */
const chunksOf = (n: number, size: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new Uint8Array(size).fill(i & 0xff));
const sha = (chunks: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

/** A storage stand-in: the upload reads its chunks slowly (a macrotask each), as a network would. */
function fakeStorage() {
  const uploaded: Uint8Array[] = [];
  const written: Uint8Array[] = [];
  let uploads = 0;
  return {
    uploaded, written,
    get uploads() { return uploads; },
    upload: async (chunks: AsyncIterable<Uint8Array>) => {
      uploads++;
      for await (const c of chunks) {
        await new Promise((r) => setImmediate(r));
        uploaded.push(c);
      }
    },
    write: async (bytes: Uint8Array) => {
      written.push(bytes);
    },
  };
}

describe('PartSink', () => {
  test('a part far larger than its limits is streamed, and the sink never holds more than about those limits', async () => {
    const store = fakeStorage();
    const sink = new PartSink({ upload: store.upload, write: store.write, streamAboveBytes: 8 * MiB, maxQueuedBytes: 4 * MiB });
    const chunks = chunksOf(96, MiB); // 96 MiB: 12x the streaming threshold
    for (let i = 0; i < chunks.length - 1; i += 2) await sink.push(chunks.slice(i, i + 2));
    expect(sink.streaming).toBe(true);
    const r = await sink.finish([]);
    expect(r).toEqual({ bytes: 96 * MiB, sha256: sha(chunks) });
    expect(store.uploads).toBe(1);
    expect(store.written).toHaveLength(0);
    expect(store.uploaded).toEqual(chunks); // every byte, in order
    // Bounded by the threshold plus what one push brings, not by the part's size.
    expect(sink.peakHeldBytes).toBeLessThanOrEqual(8 * MiB + 2 * MiB);
    expect(sink.heldBytes).toBe(0);
  });

  test('a part that stays under the threshold is written in one piece', async () => {
    const store = fakeStorage();
    const sink = new PartSink({ upload: store.upload, write: store.write, streamAboveBytes: 8 * MiB, maxQueuedBytes: 4 * MiB });
    const chunks = chunksOf(5, 1000);
    await sink.push(chunks.slice(0, 3));
    const r = await sink.finish(chunks.slice(3));
    expect(store.uploads).toBe(0);
    expect(store.written).toHaveLength(1);
    expect(Buffer.from(store.written[0])).toEqual(Buffer.concat(chunks));
    expect(r).toEqual({ bytes: 5000, sha256: sha(chunks) });
  });

  test('chunks it owns are freed as soon as they are written, streamed or whole (not left for the GC)', async () => {
    for (const size of [MiB, 10]) { // streamed, and written whole
      const store = fakeStorage();
      const sink = new PartSink({ upload: store.upload, write: store.write, streamAboveBytes: 4 * MiB, maxQueuedBytes: 2 * MiB, owned: true });
      const chunks = chunksOf(12, size);
      const expected = sha(chunks);
      for (const c of chunks) await sink.push([c]);
      expect(await sink.finish([])).toEqual({ bytes: 12 * size, sha256: expected });
      expect(chunks.map((c) => c.byteLength)).toEqual(new Array(12).fill(0)); // detached: their memory is gone
    }
  });

  test('a part that fails while streaming ends its upload with the error (so the storage aborts it)', async () => {
    let uploadError: unknown;
    const upload = async (chunks: AsyncIterable<Uint8Array>) => {
      try {
        for await (const _ of chunks) await new Promise((r) => setImmediate(r));
      } catch (e) {
        uploadError = e;
        throw e;
      }
    };
    const sink = new PartSink({ upload, write: async () => undefined, streamAboveBytes: 2 * MiB, maxQueuedBytes: 2 * MiB });
    await sink.push(chunksOf(4, MiB));
    expect(sink.streaming).toBe(true);
    const boom = new Error('encoder died');
    await sink.fail(boom);
    expect(uploadError).toBe(boom);
    await expect(sink.push(chunksOf(1, 10))).rejects.toThrow('encoder died');
  });

  test('an upload that fails fails the next push', async () => {
    const upload = async (chunks: AsyncIterable<Uint8Array>) => {
      for await (const _ of chunks) throw new Error('store down');
    };
    const sink = new PartSink({ upload, write: async () => undefined, streamAboveBytes: MiB, maxQueuedBytes: MiB });
    await sink.push(chunksOf(2, MiB)).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    await expect(sink.push(chunksOf(1, MiB))).rejects.toThrow('store down');
  });
});
