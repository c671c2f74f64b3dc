import { chunkRows, concatRows, runInBatches, scoreInBatches, sliceRows } from './batch.js';
import type { DenseTensor, PackedTensor } from '../../../core/src/tensors/types.js';

const x = (rows: number): PackedTensor => ({ name: 'X', type: 'float32', dims: [rows, 2], data: Float32Array.from({ length: rows * 2 }, (_, i) => i + 1) });

/** A fake model: Y[r] = X[r, 0] + X[r, 1], records the batch sizes it saw. */
function fakeModel() {
  const seen: number[] = [];
  const run = async (feeds: PackedTensor[]): Promise<Record<string, DenseTensor>> => {
    const [f] = feeds;
    const n = f.dims[0];
    seen.push(n);
    const y = new Float32Array(n);
    for (let r = 0; r < n; r++) y[r] = f.data[2 * r] as number + (f.data[2 * r + 1] as number);
    return { Y: { type: 'float32', dims: [n, 1], data: y } };
  };
  return { seen, run };
}

describe('fixed batch sizes', () => {
  test.each([
    [0, 4, []], [3, 4, [[0, 3]]], [4, 4, [[0, 4]]], [10, 4, [[0, 4], [4, 4], [8, 2]]], [5, 1, [[0, 1], [1, 1], [2, 1], [3, 1], [4, 1]]],
  ])('chunkRows(%i, %i)', (rows, size, expected) => {
    expect(chunkRows(rows, size).map((c) => [c.start, c.count])).toEqual(expected);
  });

  test('sliceRows pads with zeros and only copies when padding', () => {
    const t = x(3);
    const s = sliceRows(t, 1, 2);
    expect(s.dims).toEqual([2, 2]);
    expect(s.data.buffer).toBe(t.data.buffer);
    const p = sliceRows(t, 2, 1, 4);
    expect(p.dims).toEqual([4, 2]);
    expect(Array.from(p.data as Float32Array)).toEqual([5, 6, 0, 0, 0, 0, 0, 0]);
  });

  test('concatRows joins along the first axis', () => {
    const c = concatRows([sliceRows(x(3), 0, 1), sliceRows(x(3), 1, 2)]);
    expect(c.dims).toEqual([3, 2]);
    expect(Array.from(c.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test.each([
    ['fixed batch 4, 10 rows', { fixedBatch: 4 }, 10, [4, 4, 4]],
    ['fixed batch 4, 4 rows', { fixedBatch: 4 }, 4, [4]],
    ['dynamic, one run', {}, 10, [10]],
    ['dynamic, maxBatch 3', { maxBatch: 3 }, 7, [3, 3, 1]],
    ['zero rows, dynamic: one zero row', {}, 0, [1]],
    ['zero rows, fixed: one padded batch', { fixedBatch: 4 }, 0, [4]],
  ])('runInBatches: %s', async (_n, options, rows, batches) => {
    const m = fakeModel();
    const out = await runInBatches([x(rows)], rows, options, m.run);
    expect(m.seen).toEqual(batches);
    expect(out.Y.dims).toEqual([rows, 1]);
    expect(Array.from(out.Y.data as Float32Array)).toEqual(Array.from({ length: rows }, (_, r) => 4 * r + 3));
  });

  test('an output without the batch as first dimension is refused', async () => {
    const run = async (): Promise<Record<string, DenseTensor>> => ({ S: { type: 'float32', dims: [1], data: new Float32Array(1) } });
    await expect(runInBatches([x(4)], 4, { fixedBatch: 2 }, run)).rejects
      .toThrow("model output 'S' has shape [1] for a batch of 2 rows; mapped outputs must have the batch as their first dimension");
  });
});

describe('retrying a run with fewer rows (retrySmaller)', () => {
  /** A fake model that runs out of memory on more than `limit` rows. */
  function limitedModel(limit: number) {
    const m = fakeModel();
    const run = async (feeds: PackedTensor[]): Promise<Record<string, DenseTensor>> => {
      if (feeds[0].dims[0] > limit) {
        m.seen.push(-feeds[0].dims[0]);
        throw new Error(`Failed to allocate memory for requested buffer of size ${feeds[0].dims[0] * 8}`);
      }
      return m.run(feeds);
    };
    return { seen: m.seen, run };
  }
  const halve = (rows: number, e: unknown) => (/Failed to allocate/.test(String(e)) ? Math.floor(rows / 2) : undefined);

  test.each<[string, number, number, number, number[], number[]]>([
    // name, rows, maxBatch, limit, runs seen (negative: ran out of memory), retried
    ['fits: no retry', 10, 4, 4, [4, 4, 2], []],
    ['the first run is too big: halves, then keeps the smaller size', 10, 8, 5, [-8, 4, 4, 2], [8]],
    ['halves twice', 10, 8, 2, [-8, -4, 2, 2, 2, 2, 2], [8, 4]],
    ['down to one row', 3, 4, 1, [-3, 1, 1, 1], [3]],
  ])('%s', async (_name, rows, maxBatch, limit, seen, retried) => {
    const m = limitedModel(limit);
    const r = await scoreInBatches([x(rows)], rows, { maxBatch, retrySmaller: halve }, m.run);
    expect(m.seen).toEqual(seen);
    expect(r.retried).toEqual(retried);
    expect(r.size).toBe(Math.min(maxBatch, rows));
    expect(r.runs).toBe(seen.filter((n) => n > 0).length);
    // Every row once, in order: the runs before a failure are kept, the failed one is not.
    expect(r.outputs.Y.dims).toEqual([rows, 1]);
    expect(Array.from(r.outputs.Y.data as Float32Array)).toEqual(Array.from({ length: rows }, (_, i) => 4 * i + 3));
  });

  test('a failure after some runs keeps those runs and retries only the rest', async () => {
    let calls = 0;
    const m = fakeModel();
    const run = async (feeds: PackedTensor[]) => {
      if (++calls === 2) throw new Error('Failed to allocate memory');
      return m.run(feeds);
    };
    const r = await scoreInBatches([x(9)], 9, { maxBatch: 4, retrySmaller: halve }, run);
    expect(m.seen).toEqual([4, 2, 2, 1]);
    expect(r.retried).toEqual([4]);
    expect(Array.from(r.outputs.Y.data as Float32Array)).toEqual(Array.from({ length: 9 }, (_, i) => 4 * i + 3));
  });

  test('other errors, one row, and fixed batches are not retried', async () => {
    const m = limitedModel(0);
    await expect(scoreInBatches([x(1)], 1, { maxBatch: 4, retrySmaller: halve }, m.run)).rejects.toThrow('Failed to allocate memory');
    await expect(scoreInBatches([x(8)], 8, { fixedBatch: 4, retrySmaller: halve }, m.run)).rejects.toThrow('Failed to allocate memory');
    const shape = async (): Promise<Record<string, DenseTensor>> => { throw new Error('invalid dimensions'); };
    await expect(scoreInBatches([x(8)], 8, { maxBatch: 4, retrySmaller: halve }, shape)).rejects.toThrow('invalid dimensions');
    // Without retrySmaller (a fixed batchSize), out of memory is an error.
    await expect(scoreInBatches([x(8)], 8, { maxBatch: 8 }, limitedModel(4).run)).rejects.toThrow('Failed to allocate memory');
  });

  test('a retry size that is not smaller is refused (the error is thrown, no endless loop)', async () => {
    const m = limitedModel(2);
    await expect(scoreInBatches([x(8)], 8, { maxBatch: 4, retrySmaller: (n) => n }, m.run)).rejects.toThrow('Failed to allocate memory');
  });
});
