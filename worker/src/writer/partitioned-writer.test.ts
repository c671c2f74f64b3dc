import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { LocalTestStorage } from '../reader/test-storage.js';
import { Duck, makeTempDir, sqlString } from '../reader/testdata-gen.js';
import { openDataWriter, PartitionedWriter, type OutputMetadata } from './index.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';

let dir: string;
let duck: Duck;
const storage = new LocalTestStorage();
const META: OutputMetadata = { runId: 'run-1', modelSha256: 'ab'.repeat(32), shard: 3, attempt: 0 };
let n = 0;
const newPrefix = () => path.join(dir, `attempt-${n++}`);

beforeAll(async () => {
  dir = await makeTempDir('bij-partitioned-');
  duck = await Duck.open();
});
afterAll(async () => {
  duck?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** id Int64, key Utf8 (`k<id % keys>`, every 50th null, some needing escapes), score Float32. */
function batch(start: number, rows: number, keys: number): arrow.RecordBatch {
  const key = Array.from({ length: rows }, (_, i) => ((start + i) % 50 === 0 ? null : `k/${(start + i) % keys}`));
  return new arrow.Table({
    id: arrow.makeVector(BigInt64Array.from({ length: rows }, (_, i) => BigInt(start + i))),
    key: arrow.vectorFromArray(key, new arrow.Utf8()),
    score: arrow.makeVector(Float32Array.from({ length: rows }, (_, i) => (start + i) / 1000)),
  }).batches[0];
}

const expectedKey = (id: number, keys: number): string | null => (id % 50 === 0 ? null : `k/${id % keys}`);

/** Every row once, in the folder its key names (DuckDB hive_partitioning), and the files as listed. */
async function checkPlacement(prefix: string, rows: number, keys: number, files: { path: string; rowCount: number; partition?: { values: Record<string, string | null> } }[]) {
  const glob = sqlString(path.join(prefix, '**', '*.parquet'));
  const got = await duck.all(`SELECT id::BIGINT AS id, key, count(*) OVER (PARTITION BY id)::INTEGER AS copies
    FROM read_parquet(${glob}, hive_partitioning = true, hive_types_autocast = false)`);
  expect(got).toHaveLength(rows);
  for (const r of got) {
    expect(r.copies).toBe(1);
    expect(r.key).toBe(expectedKey(Number(r.id), keys));
  }
  // The files do not hold the partition column; the manifest's files are exactly those on disk.
  const cols = await duck.all(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path.join(prefix, files[0].path))}, hive_partitioning = false)`);
  expect(cols.map((c) => c.column_name)).toEqual(['id', 'score']);
  const onDisk = (await fs.readdir(prefix, { recursive: true })).filter((f) => f.endsWith('.parquet')).sort();
  expect(files.map((f) => f.path).sort()).toEqual(onDisk);
  expect(files.reduce((a, f) => a + f.rowCount, 0)).toBe(rows);
  for (const f of files) {
    const { k } = await duck.one(`SELECT count(*)::INTEGER AS k FROM read_parquet(${sqlString(path.join(prefix, f.path))})`);
    expect(k).toBe(f.rowCount);
  }
}

describe('PartitionedWriter', () => {
  test('few partitions: one part each, in Hive folders, every row once where its value says', async () => {
    const prefix = newPrefix();
    const w = new PartitionedWriter({ storage, prefix, writerToken: 'w1', targetFileBytes: 1 << 30, metadata: META, partitionBy: ['key'] });
    for (let b = 0; b < 10; b++) await w.write(batch(b * 1000, 1000, 3));
    const files = await w.close();
    expect(files.map((f) => f.path).sort()).toEqual([
      'key=__HIVE_DEFAULT_PARTITION__/part-00000-w1.parquet', 'key=k%2F0/part-00000-w1.parquet', 'key=k%2F1/part-00000-w1.parquet', 'key=k%2F2/part-00000-w1.parquet',
    ]);
    expect(files.find((f) => f.path.startsWith('key=k%2F1'))?.partition).toEqual({ path: 'key=k%2F1', values: { key: 'k/1' } });
    expect(w.evicted).toBe(0);
    await checkPlacement(prefix, 10_000, 3, files);
  }, 60_000);

  test('very many distinct values under a small bound: at most that many open, least recently used closed and reopened with new part numbers', async () => {
    const prefix = newPrefix();
    const thread = new ParquetThread();
    try {
      const w = new PartitionedWriter({ storage, prefix, writerToken: 'w2', targetFileBytes: 1 << 30, metadata: META, partitionBy: ['key'], maxOpenPartitions: 4, thread });
      const keys = 200;
      for (let b = 0; b < 6; b++) {
        await w.write(batch(b * 500, 500, keys));
        expect(w.openPartitions).toBeLessThanOrEqual(4);
      }
      const files = await w.close();
      expect(w.peakOpen).toBe(4);
      expect(w.evicted).toBeGreaterThan(keys); // keys come back in every batch: closed and opened again
      // A reopened partition numbers on: part-00000, part-00001, ... in one folder, never the same name twice.
      const inK7 = files.filter((f) => f.path.startsWith('key=k%2F7/')).map((f) => f.path).sort();
      expect(inK7).toEqual(inK7.map((_, i) => `key=k%2F7/part-${String(i).padStart(5, '0')}-w2.parquet`));
      expect(inK7.length).toBeGreaterThan(1);
      expect(new Set(files.map((f) => f.path)).size).toBe(files.length);
      await checkPlacement(prefix, 3000, keys, files);
    } finally {
      await thread.terminate();
    }
  }, 120_000);

  test('the open-bytes bound closes the least recently used part before the count bound is reached', async () => {
    const prefix = newPrefix();
    const w = new PartitionedWriter({
      storage, prefix, writerToken: 'w3', targetFileBytes: 1 << 30, metadata: META, partitionBy: ['key'], maxOpenPartitions: 100, maxOpenBytes: 20_000,
    });
    for (let b = 0; b < 8; b++) await w.write(batch(b * 2000, 2000, 4));
    const files = await w.close();
    expect(w.evicted).toBeGreaterThan(0);
    await checkPlacement(prefix, 16_000, 4, files);
  }, 60_000);
});

describe('openDataWriter', () => {
  test('run columns in every row; partitioned by one of them (a constant) gives one folder', async () => {
    const prefix = newPrefix();
    const w = openDataWriter({
      storage, prefix, writerToken: 'w4', targetFileBytes: 1 << 30, metadata: META,
      output: {
        partitionBy: ['run_date'],
        addColumns: [{ name: 'run_id', source: 'runId' }, { name: 'ts', source: 'scheduledTime' }, { name: 'run_date', source: 'scheduledDate', timeZone: 'Europe/Berlin' }, { name: 'sha', source: 'modelSha256' }],
      },
      facts: { runId: 'r9', jobName: 'j', modelSha256: 'cd'.repeat(32), scheduledTime: '2026-12-04T23:30:00.000Z' },
    });
    await w.write(batch(0, 100, 3));
    const files = await w.close();
    expect(files.map((f) => f.path)).toEqual(['run_date=2026-12-05/part-00000-w4.parquet']);
    const rows = await duck.all(`SELECT DISTINCT run_id, ts::VARCHAR AS ts, run_date::VARCHAR AS run_date, sha, count(*) OVER ()::INTEGER AS n
      FROM read_parquet(${sqlString(path.join(prefix, '**', '*.parquet'))}, hive_partitioning = true)`);
    expect(rows).toEqual([{ run_id: 'r9', ts: expect.stringMatching(/^2026-12-04 23:30:00/), run_date: '2026-12-05', sha: 'cd'.repeat(32), n: 100 }]);
  }, 60_000);
});
