/**
 * The reader tests' shared fixture (reader.test.ts, reader-footers.test.ts): DuckDB-written files of
 * every column type the worker meets (testdata-gen.ts typesQuery), in one codec or in all of them, and
 * the helpers that read them back and check them against DuckDB. Registers its own beforeAll/afterAll.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type * as arrow from 'apache-arrow';
import { BadInputError, type PlannedFile, type ShardRange } from '../../../core/src/contract/index.js';
import { readFooter, readShardRanges, type ParquetFooter } from './index.js';
import { LocalTestStorage } from './test-storage.js';
import { Duck, copyToParquet, makeTempDir, plannedFile, rangeOf, sqlString, typesQuery } from './testdata-gen.js';

export const ROWS = 5000; // DuckDB row groups: 2048, 2048, 904
export const CODECS = ['snappy', 'zstd', 'gzip', 'lz4', 'uncompressed'] as const;
export const ALL_COLUMNS = ['id', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64', 'nd', 'arr', 'lst', 'cat', 'code', 'ts'];

export interface ReaderFixtureOptions {
  /** Every codec in CODECS, plus types-v2.parquet and wide.parquet; otherwise types-snappy.parquet only. */
  all?: boolean;
}

export function useReaderFixture(o: ReaderFixtureOptions = {}) {
  let dir: string;
  let duck: Duck;
  const storage = new LocalTestStorage();
  const file = (name: string): string => path.join(dir, name);

  beforeAll(async () => {
    dir = await makeTempDir('bij-reader-');
    duck = await Duck.open();
    for (const codec of o.all ? CODECS : ['snappy']) {
      await copyToParquet(duck, typesQuery(ROWS), file(`types-${codec}.parquet`), `COMPRESSION ${codec}, ROW_GROUP_SIZE 2048`);
    }
    if (!o.all) return;
    await copyToParquet(duck, typesQuery(ROWS), file('types-v2.parquet'), 'COMPRESSION zstd, ROW_GROUP_SIZE 2048, PARQUET_VERSION V2');
    // Four row groups of 32768 rows, four random DOUBLE columns (~256 KiB each per row group).
    await copyToParquet(duck, `SELECT 'row-' || i AS id, random() AS a, random() AS b, random() AS c, random() AS d
      FROM range(0, 131072) t(i)`, file('wide.parquet'), 'COMPRESSION snappy, ROW_GROUP_SIZE 32768');
  }, 60_000);

  afterAll(async () => {
    duck?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function planOf(...names: string[]): Promise<{ files: PlannedFile[]; footers: ParquetFooter[] }> {
    const footers = await Promise.all(names.map((n) => readFooter(storage, file(n))));
    return { files: footers.map(plannedFile), footers };
  }

  async function collect(files: PlannedFile[], ranges: ShardRange[], columns: string[], batchSize = 1024,
    readAhead?: number): Promise<arrow.RecordBatch[]> {
    const out: arrow.RecordBatch[] = [];
    for await (const b of readShardRanges(storage, { files, ranges }, { columns, batchSize, readAhead })) out.push(b);
    return out;
  }

  const column = (batches: arrow.RecordBatch[], name: string): any[] =>
    batches.flatMap((b) => [...b.getChild(name)!]);

  async function expectBadInput(p: Promise<unknown>, ...patterns: (string | RegExp)[]): Promise<BadInputError> {
    const e = await p.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(BadInputError);
    for (const pat of patterns) expect((e as Error).message).toMatch(pat);
    return e as BadInputError;
  }

  /** Reads every column of a typesQuery file and checks it against what DuckDB reads from it. */
  async function checkAgainstDuckDB(name: string): Promise<void> {
    const uri = file(name);
    const { files } = await planOf(name);
    const batches = await collect(files, [rangeOf(files, 0)], ALL_COLUMNS, 1000);
    const rows = batches.reduce((a, b) => a + b.numRows, 0);
    expect(rows).toBe(ROWS);
    for (const b of batches) {
      expect(b.numRows).toBeLessThanOrEqual(1000);
      expect(b.schema.fields.map((f) => f.name)).toEqual(ALL_COLUMNS);
    }
    const ref = await duck.one(`SELECT count(*)::INTEGER AS n, sum(i8)::INTEGER AS i8, sum(i16)::INTEGER AS i16,
      sum(i32)::BIGINT AS i32, sum(i64)::HUGEINT AS i64, sum(f32)::DOUBLE AS f32, sum(f64)::DOUBLE AS f64,
      sum(nd)::DOUBLE AS nd, count(nd)::INTEGER AS nd_count,
      sum(list_sum(arr))::DOUBLE AS arr_sum, sum(arr[2])::DOUBLE AS arr2,
      sum(len(lst))::INTEGER AS lst_len, sum(list_sum(lst))::DOUBLE AS lst_sum, count(lst)::INTEGER AS lst_count,
      count(DISTINCT cat)::INTEGER AS cats, sum(code)::INTEGER AS code
      FROM read_parquet(${sqlString(uri)})`);
    const sum = (xs: any[]): number => xs.reduce((a, x) => a + (x === null ? 0 : Number(x)), 0);
    expect(sum(column(batches, 'i8'))).toBe(ref.i8);
    expect(sum(column(batches, 'i16'))).toBe(ref.i16);
    expect(BigInt(sum(column(batches, 'i32')))).toBe(BigInt(ref.i32));
    expect(column(batches, 'i64').reduce((a: bigint, x: bigint) => a + x, 0n)).toBe(BigInt(ref.i64));
    expect(sum(column(batches, 'f32'))).toBe(ref.f32);
    expect(sum(column(batches, 'f64'))).toBe(ref.f64);
    const nd = column(batches, 'nd');
    expect(nd.filter((x) => x !== null).length).toBe(ref.nd_count);
    expect(sum(nd)).toBe(ref.nd);
    const arr: number[][] = column(batches, 'arr').map((v) => [...v.toArray()]);
    expect(arr.every((v) => v.length === 4)).toBe(true);
    expect(sum(arr.flat())).toBe(ref.arr_sum);
    expect(sum(arr.map((v) => v[1]))).toBe(ref.arr2);
    const lst = column(batches, 'lst').map((v) => (v === null ? null : [...v.toArray()]));
    expect(lst.filter((v) => v !== null).length).toBe(ref.lst_count);
    expect(sum(lst.map((v) => (v === null ? 0 : v.length)))).toBe(ref.lst_len);
    expect(sum(lst.flat())).toBe(ref.lst_sum);
    expect(new Set(column(batches, 'cat')).size).toBe(ref.cats);
    expect(sum(column(batches, 'code'))).toBe(ref.code);
    // Specific rows, field by field.
    const want = await duck.all(`SELECT id, i8, i64, f32, nd, arr, lst, cat, epoch_ms(ts) AS ts_ms, file_row_number AS r
      FROM read_parquet(${sqlString(uri)}, file_row_number = true) WHERE file_row_number IN (0, 7, 2047, 2048, 3333, 4999)
      ORDER BY r`);
    const ids = column(batches, 'id');
    const ts = column(batches, 'ts');
    for (const w of want) {
      const r = Number(w.r);
      expect(ids[r]).toBe(w.id);
      expect(column(batches, 'i8')[r]).toBe(w.i8);
      expect(column(batches, 'i64')[r]).toBe(BigInt(w.i64));
      expect(column(batches, 'f32')[r]).toBe(w.f32);
      expect(nd[r]).toBe(w.nd);
      expect(arr[r]).toEqual(w.arr);
      expect(lst[r]).toEqual(w.lst);
      expect(column(batches, 'cat')[r]).toBe(w.cat);
      expect(Number(ts[r])).toBe(Number(w.ts_ms));
    }
  }

  return {
    storage, file, planOf, collect, column, expectBadInput, checkAgainstDuckDB,
    get duck(): Duck { return duck; },
  };
}
