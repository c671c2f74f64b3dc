import { chunkRows, concatRows, runInBatches, sliceRows } from './batch.js';
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
