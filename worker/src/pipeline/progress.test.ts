import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ColumnAccumulator, ProgressSchema, type StageTimings } from '../../../core/src/contract/index.js';
import { openStorage } from '../../../core/src/storage/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import { ProgressReporter } from './progress.js';

const dir = mkdtempSync(join(tmpdir(), 'bij-progress-'));
const timings = (total: number): StageTimings => ({ read: 0.1, decode: 0.2, pack: 0, infer: total / 2, unpack: 0, write: 0.1, total });

test('writes rows done and the stage timings so far; only when the count moved', async () => {
  const uri = join(dir, 'p1.json');
  const writes: string[] = [];
  const base = openStorage();
  const storage: Storage = Object.create(base);
  storage.write = async (u, data, o) => { writes.push(String(data)); return base.write(u, data, o); };
  let total = 1;
  const p = new ProgressReporter(storage, uri, { shard: 3, attempt: 1, rowsTotal: 100 }, 60_000, () => timings(total));
  p.add(40);
  await p.flush();
  let got = ProgressSchema.parse(JSON.parse(readFileSync(uri, 'utf8')));
  expect(got).toMatchObject({ shard: 3, attempt: 1, rowsDone: 40, rowsTotal: 100, timings: timings(1) });
  await p.flush(); // nothing new
  expect(writes).toHaveLength(1);
  total = 2;
  p.add(60);
  await p.stop();
  got = ProgressSchema.parse(JSON.parse(readFileSync(uri, 'utf8')));
  expect(got).toMatchObject({ rowsDone: 100, timings: timings(2) });
  expect(writes).toHaveLength(2);
});

test('a failing write does not fail the shard (progress is advisory)', async () => {
  const storage: Storage = Object.create(openStorage());
  storage.write = async () => { throw new Error('store down'); };
  const p = new ProgressReporter(storage, join(dir, 'p2.json'), { shard: 0, attempt: 0, rowsTotal: 1 }, 60_000);
  p.add(1);
  await expect(p.stop()).resolves.toBeUndefined();
});

test('the output columns\' statistics so far go with each count (live statistics and drift)', async () => {
  const uri = join(dir, 'p3.json');
  const acc = new ColumnAccumulator({ min: 0, max: 1, bins: 20, source: 'probability' });
  const p = new ProgressReporter(openStorage(), uri, { shard: 1, attempt: 0, rowsTotal: 10 }, 60_000, undefined, () => ({ score: acc.finish() }));
  acc.add([0.1, 0.2, 0.3]);
  p.add(3);
  await p.flush();
  expect(ProgressSchema.parse(JSON.parse(readFileSync(uri, 'utf8'))).outputs?.score).toMatchObject({ count: 3, min: 0.1, max: 0.3 });
  acc.add([0.9]);
  p.add(1);
  await p.stop();
  expect(ProgressSchema.parse(JSON.parse(readFileSync(uri, 'utf8'))).outputs?.score).toMatchObject({ count: 4, max: 0.9 });
});
