import { splitShards, type SplitBy } from './split.js';
import type { PlannedShard } from '../../../core/src/contract/run-plan.js';
import { prng } from '../../../core/src/modelgen/models.js';

const file = (uri: string, rowGroupRows: number[]) => ({ uri, rows: rowGroupRows.reduce((a, b) => a + b, 0), rowGroupRows });

/** Each shard as [[file, start, end], ...]: compact for table expectations. */
const shape = (shards: PlannedShard[]) => shards.map((s) => s.ranges.map((r) => [r.file, r.rowGroupStart, r.rowGroupEnd]));

describe('splitShards: tables', () => {
  const cases: { name: string; files: ReturnType<typeof file>[]; by: SplitBy; rows: number[]; shape?: number[][][] }[] = [
    { name: 'one file, even split', files: [file('a', [10, 10, 10, 10])], by: { shards: 2 }, rows: [20, 20], shape: [[[0, 0, 2]], [[0, 2, 4]]] },
    { name: 'one shard takes everything', files: [file('a', [5, 7]), file('b', [3])], by: { shards: 1 }, rows: [15], shape: [[[0, 0, 2], [1, 0, 1]]] },
    { name: 'a shard spans files', files: [file('a', [10]), file('b', [10, 10]), file('c', [10])], by: { shards: 2 }, rows: [20, 20], shape: [[[0, 0, 1], [1, 0, 1]], [[1, 1, 2], [2, 0, 1]]] },
    { name: 'more shards than row groups: one per row group', files: [file('a', [4, 4]), file('b', [4])], by: { shards: 10 }, rows: [4, 4, 4] },
    { name: 'an oversized row group stays whole', files: [file('a', [100, 1, 1, 1])], by: { shards: 2 }, rows: [100, 3] },
    { name: 'empty row groups are assigned, never alone', files: [file('a', [0, 5, 0, 0, 5, 0])], by: { shards: 2 }, rows: [5, 5], shape: [[[0, 0, 2]], [[0, 2, 6]]] },
    { name: 'empty files get no range', files: [file('a', []), file('b', [6]), file('c', [0]), file('d', [6])], by: { shards: 2 }, rows: [6, 6], shape: [[[1, 0, 1]], [[2, 0, 1], [3, 0, 1]]] },
    { name: 'targetRowsPerShard rounds the count up', files: [file('a', [10, 10, 10, 10, 10])], by: { targetRowsPerShard: 20 }, rows: [20, 10, 20] },
    { name: 'targetRowsPerShard above the total: one shard', files: [file('a', [3, 3])], by: { targetRowsPerShard: 1000 }, rows: [6] },
  ];
  test.each(cases)('$name', ({ files, by, rows, shape: want }) => {
    const r = splitShards(files, by);
    if (!r.ok) throw new Error(r.message);
    expect(r.shards.map((s) => s.rows)).toEqual(rows);
    expect(r.shards.map((s) => s.index)).toEqual(rows.map((_, i) => i));
    if (want) expect(shape(r.shards)).toEqual(want);
  });

  test('no rows is a plan with no shards (the run commits an empty output)', () => {
    expect(splitShards([], { shards: 3 })).toEqual({ ok: true, shards: [], totalRows: 0 });
    expect(splitShards([file('a', [0, 0]), file('b', [])], { shards: 3 })).toEqual({ ok: true, shards: [], totalRows: 0 });
    expect(splitShards([file('a', [0])], { targetRowsPerShard: 10 })).toEqual({ ok: true, shards: [], totalRows: 0 });
    // A request that is invalid stays invalid, rows or not.
    expect(splitShards([file('a', [0])], { shards: 0 })).toMatchObject({ ok: false, reason: 'invalid' });
  });

  test.each([
    { by: { shards: 0 } },
    { by: { shards: 1.5 } },
    { by: { targetRowsPerShard: 0 } },
  ])('invalid request $by', ({ by }) => {
    expect(splitShards([file('a', [1])], by)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  test('row counts that disagree with the footer are invalid', () => {
    expect(splitShards([{ uri: 'a', rows: 5, rowGroupRows: [2, 2] }], { shards: 1 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(splitShards([{ uri: 'a', rows: -1, rowGroupRows: [-1] }], { shards: 1 })).toMatchObject({ ok: false, reason: 'invalid' });
  });
});

describe('splitShards: properties over random inputs', () => {
  const rand = prng(0xb17);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

  test('every row group exactly once, in order; balanced within one row group of ideal', () => {
    for (let iter = 0; iter < 400; iter++) {
      const files = Array.from({ length: int(1, 6) }, (_, f) =>
        file(`f${f}`, Array.from({ length: int(0, 8) }, () => (rand() < 0.15 ? 0 : int(1, rand() < 0.1 ? 5000 : 100)))));
      const by: SplitBy = rand() < 0.7 ? { shards: int(1, 40) } : { targetRowsPerShard: int(1, 800) };
      const r = splitShards(files, by);
      const total = files.reduce((a, f) => a + f.rows, 0);
      const nonEmpty = files.reduce((a, f) => a + f.rowGroupRows.filter((x) => x > 0).length, 0);
      if (total === 0) {
        expect(r).toEqual({ ok: true, shards: [], totalRows: 0 });
        continue;
      }
      if (!r.ok) throw new Error(r.message);
      const requested = 'shards' in by ? by.shards : Math.ceil(total / by.targetRowsPerShard);
      expect(r.shards.length).toBe(Math.min(requested, nonEmpty));
      expect(r.totalRows).toBe(total);

      // Coverage: walking the shards' ranges visits every (file, row group) once, in order.
      const visited: string[] = [];
      for (const s of r.shards) {
        let rows = 0;
        for (const rg of s.ranges) {
          expect(rg.rowGroupEnd).toBeGreaterThan(rg.rowGroupStart);
          let sum = 0;
          for (let g = rg.rowGroupStart; g < rg.rowGroupEnd; g++) {
            visited.push(`${rg.file}/${g}`);
            sum += files[rg.file].rowGroupRows[g];
          }
          expect(rg.rows).toBe(sum);
          rows += sum;
        }
        expect(s.rows).toBe(rows);
        expect(s.rows).toBeGreaterThan(0);
      }
      const expected = files.flatMap((f, fi) => f.rowGroupRows.map((_, g) => `${fi}/${g}`));
      expect(visited).toEqual(expected);

      // Balance: within the largest row group of the ideal.
      const ideal = total / r.shards.length;
      const maxGroup = Math.max(...files.flatMap((f) => f.rowGroupRows));
      for (const s of r.shards) expect(Math.abs(s.rows - ideal)).toBeLessThanOrEqual(maxGroup);
    }
  });

  test('uniform row groups split almost evenly', () => {
    for (let iter = 0; iter < 100; iter++) {
      const groups = int(1, 200);
      const size = int(1, 1000);
      const n = int(1, groups);
      const r = splitShards([file('a', new Array(groups).fill(size))], { shards: n });
      if (!r.ok) throw new Error(r.message);
      const counts = r.shards.map((s) => s.rows / size);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  test('large inputs are linear: eight times the input takes nowhere near 64 times as long', () => {
    // Not a wall time: the ratio of two sizes' CPU time (this process's, so other processes' load
    // does not count), the best of seven each. Linear work measures about 9x here (caches favour the
    // small input); quadratic work (say, scanning every row group for every shard) measures over 30x.
    const input = (files: number) => Array.from({ length: files }, (_, f) => file(`f${f}`, new Array(100).fill(1000 + (f % 7))));
    const small = input(125);
    const large = input(1000);
    const cpuMs = (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const time = (files: typeof small, shards: number): number => {
      const t0 = cpuMs();
      const r = splitShards(files, { shards });
      const ms = cpuMs() - t0;
      expect(r.ok && r.shards.length).toBe(shards);
      return ms;
    };
    time(small, 1250); // warm up: the first calls run unoptimized code
    time(large, 10000);
    let fast = Infinity;
    let slow = Infinity;
    for (let i = 0; i < 7; i++) {
      fast = Math.min(fast, time(small, 1250));
      slow = Math.min(slow, time(large, 10000));
    }
    expect(slow / fast).toBeLessThan(20);
  });
});
