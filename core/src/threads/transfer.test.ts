import { copyOfView, releaseBuffer, spansOwnBuffer, transferable } from './transfer.js';

describe('what a thread client may transfer', () => {
  test('a view spanning its own buffer goes as is; the buffer is recorded as taken', () => {
    const v = new Float32Array([1, 2, 3]);
    const taken = new Set<ArrayBuffer>();
    expect(transferable(v, true, taken)).toBe(v);
    expect(taken.has(v.buffer)).toBe(true);
  });

  test('a Buffer from Node\'s pool, a slice and a SharedArrayBuffer view are copied, values and type kept', () => {
    const pooled = Buffer.from([1, 2, 3, 4]);
    const slice = new Int32Array(new ArrayBuffer(64), 8, 2);
    slice.set([7, -9]);
    const shared = new Float64Array(new SharedArrayBuffer(16));
    shared.set([0.5, 1.5]);
    for (const v of [pooled, slice, shared]) {
      expect(spansOwnBuffer(v)).toBe(false);
      const out = transferable(v as Uint8Array);
      expect(out).not.toBe(v);
      expect(out.buffer).not.toBe(v.buffer);
      expect(Object.prototype.toString.call(out.buffer)).toBe('[object ArrayBuffer]');
      expect(out.byteLength).toBe(out.buffer.byteLength);
      expect(Array.from(out as Uint8Array)).toEqual(Array.from(v as Uint8Array));
    }
    expect(transferable(pooled)).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(transferable(pooled))).toBe(false); // Buffer.slice would share memory
    expect(transferable(slice)).toBeInstanceOf(Int32Array);
  });

  test('not handed over, or its buffer already taken: a copy', () => {
    const v = new BigInt64Array([1n, 2n]);
    expect(transferable(v, false)).not.toBe(v);
    const taken = new Set<ArrayBuffer>([v.buffer]);
    const again = transferable(v, true, taken);
    expect(again).not.toBe(v);
    expect(Array.from(again)).toEqual([1n, 2n]);
    expect(taken.size).toBe(2);
    expect(copyOfView(v)).toEqual(v);
  });
});

describe('releaseBuffer (frees a dead buffer now instead of at the next GC)', () => {
  test('detaches a plain buffer: its memory is gone and every view of it is empty', () => {
    const bytes = new Uint8Array(64 << 20).fill(7);
    // Measured from after the allocation: a collection it set off may have freed other dead buffers
    // (the count then fell by those), and a collection while releasing only makes the drop larger.
    const held = process.memoryUsage().arrayBuffers;
    releaseBuffer(bytes.buffer);
    expect(bytes.byteLength).toBe(0);
    expect(held - process.memoryUsage().arrayBuffers).toBeGreaterThanOrEqual(64 << 20);
    releaseBuffer(bytes.buffer); // twice: no error
  });

  test('leaves a SharedArrayBuffer alone', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(16));
    releaseBuffer(shared.buffer);
    expect(shared.byteLength).toBe(16);
  });
});
