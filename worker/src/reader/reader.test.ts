import * as fs from 'node:fs/promises';
import * as arrow from 'apache-arrow';
import { BadInputError, type PlannedFile } from '../../../core/src/contract/index.js';
import { readFooter, readShardRanges, newReadStats, normalizeBatch } from './index.js';
import { encodeParquet } from '../writer/encode.js';
import { openStorage } from '../../../core/src/storage/index.js';
import {
  corruptColumnChunk, plannedFile, rangeOf, rewriteWithParquetWasm, sqlString,
} from './testdata-gen.js';
import { LocalTestStorage } from './test-storage.js';
import { ALL_COLUMNS, CODECS, ROWS, useReaderFixture } from './reader-fixture.js';

const fx = useReaderFixture({ all: true });
const { storage, file, planOf, collect, column, expectBadInput, checkAgainstDuckDB } = fx;

describe('readFooter', () => {
  test('rows, row groups and columns, from the footer bytes only', async () => {
    const uri = file('types-zstd.parquet');
    const { size } = await fs.stat(uri);
    storage.resetCounters();
    const f = await readFooter(storage, uri);
    expect(f.size).toBe(size);
    expect(f.etag).toBeDefined();
    expect(f.rows).toBe(ROWS);
    const groups = await fx.duck.all(`SELECT row_group_id, any_value(row_group_num_rows)::INTEGER AS n
      FROM parquet_metadata(${sqlString(uri)}) GROUP BY ALL ORDER BY 1`);
    expect(f.rowGroupRows).toEqual(groups.map((g) => g.n));
    expect(f.rowGroupRows).toEqual([2048, 2048, 904]);
    const types = Object.fromEntries(f.columns.map((c) => [c.name, c.type]));
    expect(f.columns.map((c) => c.name)).toEqual(ALL_COLUMNS);
    expect(types).toMatchObject({
      id: 'Utf8', i8: 'Int8', i16: 'Int16', i32: 'Int32', i64: 'Int64', f32: 'Float32', f64: 'Float64',
      nd: 'Float64', arr: 'List<Float32>', lst: 'List<Float32>', cat: 'Utf8', code: 'Int32',
    });
    expect(types.ts).toMatch(/^Timestamp</);
    // Only the tail of the file was read: the 8-byte trailer and the footer.
    expect(storage.rangeReads.length).toBeLessThanOrEqual(3);
    const footerLen = Buffer.from(await storage.readRange(uri, size - 8, size - 4)).readUInt32LE(0);
    for (const r of storage.rangeReads.slice(0, -1)) {
      expect(r.start).toBeGreaterThanOrEqual(size - 8 - footerLen);
      expect(r.end).toBeLessThanOrEqual(size);
    }
  });

  test('not Parquet, truncated and empty files fail naming the file', async () => {
    await fs.writeFile(file('random.parquet'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    const whole = await fs.readFile(file('types-snappy.parquet'));
    await fs.writeFile(file('truncated.parquet'), whole.subarray(0, whole.length >> 1));
    await fs.writeFile(file('empty.parquet'), new Uint8Array(0));
    await fs.writeFile(file('tiny.parquet'), Buffer.from('PAR1'));
    await expectBadInput(readFooter(storage, file('random.parquet')), file('random.parquet'), /footer/i);
    await expectBadInput(readFooter(storage, file('truncated.parquet')), file('truncated.parquet'), /footer/i);
    await expectBadInput(readFooter(storage, file('empty.parquet')), file('empty.parquet'), /empty/);
    await expectBadInput(readFooter(storage, file('tiny.parquet')), file('tiny.parquet'), /too small/);
    await expectBadInput(readFooter(storage, file('nope.parquet')), file('nope.parquet'));
  });
});

describe('readShardRanges on DuckDB files', () => {
  for (const codec of CODECS) {
    test(`${codec}: values equal what DuckDB reads`, async () => {
      const codecName = { snappy: 'SNAPPY', zstd: 'ZSTD', gzip: 'GZIP', lz4: 'LZ4_RAW', uncompressed: 'UNCOMPRESSED' }[codec];
      const meta = await fx.duck.all(`SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file(`types-${codec}.parquet`))})`);
      expect(meta.map((m) => m.compression)).toEqual([codecName]);
      await checkAgainstDuckDB(`types-${codec}.parquet`);
    });
  }

  test('Parquet V2 delta / byte-stream-split / dictionary encodings', async () => {
    const meta = await fx.duck.all(`SELECT DISTINCT encodings FROM parquet_metadata(${sqlString(file('types-v2.parquet'))})`);
    const encodings = meta.map((m) => m.encodings).join(' ');
    expect(encodings).toContain('DELTA_BINARY_PACKED');
    expect(encodings).toContain('DELTA_LENGTH_BYTE_ARRAY');
    expect(encodings).toContain('RLE_DICTIONARY');
    await checkAgainstDuckDB('types-v2.parquet');
  });

  test('a shard of row groups from two files, in plan order, in batches of at most batchSize', async () => {
    const { files } = await planOf('types-zstd.parquet', 'types-snappy.parquet');
    const ranges = [rangeOf(files, 1, 1, 3), rangeOf(files, 0, 0, 1), rangeOf(files, 0, 2, 3)];
    const batches = await collect(files, ranges, ['code', 'id'], 300);
    for (const b of batches) {
      expect(b.numRows).toBeGreaterThan(0);
      expect(b.numRows).toBeLessThanOrEqual(300);
      expect(b.schema.fields.map((f) => f.name)).toEqual(['code', 'id']);
    }
    const ids = column(batches, 'id');
    const ref = async (name: string, from: number, to: number): Promise<string[]> =>
      (await fx.duck.all(`SELECT id FROM read_parquet(${sqlString(file(name))}, file_row_number = true)
        WHERE file_row_number >= ${from} AND file_row_number < ${to} ORDER BY file_row_number`)).map((r) => r.id);
    expect(ids).toEqual([
      ...(await ref('types-snappy.parquet', 2048, 5000)),
      ...(await ref('types-zstd.parquet', 0, 2048)),
      ...(await ref('types-zstd.parquet', 4096, 5000)),
    ]);
    expect(ids.length).toBe(ranges.reduce((a, r) => a + r.rows, 0));
  });

  test('stats count rows, row groups and bytes', async () => {
    const { files } = await planOf('types-gzip.parquet');
    const stats = newReadStats();
    let n = 0;
    for await (const b of readShardRanges(storage, { files, ranges: [rangeOf(files, 0)] }, { columns: ['f64'], batchSize: 512, stats })) {
      n += b.numRows;
    }
    expect(n).toBe(ROWS);
    expect(stats).toMatchObject({ files: 1, rowGroups: 3, rows: ROWS });
    expect(stats.batches).toBeGreaterThanOrEqual(Math.ceil(ROWS / 512));
    expect(stats.bytesRead).toBeGreaterThan(0);
    expect(stats.rangeRequests).toBeGreaterThan(0);
  });
});

describe('ranged reads', () => {
  test('one row group and two columns fetch the footer and those column chunks only', async () => {
    const uri = file('wide.parquet');
    const { files } = await planOf('wide.parquet');
    expect(files[0].rowGroupRows).toEqual([32768, 32768, 32768, 32768]);
    const chunks = await fx.duck.all(`SELECT row_group_id::INTEGER AS rg, path_in_schema AS col,
      coalesce(dictionary_page_offset, data_page_offset)::BIGINT AS start, total_compressed_size::BIGINT AS len
      FROM parquet_metadata(${sqlString(uri)})`);
    const { size } = await fs.stat(uri);
    const footerLen = Buffer.from(await storage.readRange(uri, size - 8, size - 4)).readUInt32LE(0);
    const footerStart = size - 8 - footerLen;
    storage.resetCounters();
    const batches = await collect(files, [rangeOf(files, 0, 2, 3)], ['a', 'c'], 4096);
    expect(batches.reduce((a, b) => a + b.numRows, 0)).toBe(32768);
    const wanted = chunks.filter((c) => c.rg === 2 && (c.col === 'a' || c.col === 'c'))
      .map((c) => [Number(c.start), Number(c.start) + Number(c.len)]);
    expect(wanted).toHaveLength(2);
    const inside = (s: number, e: number): boolean =>
      (s >= footerStart && e <= size) || wanted.some(([ws, we]) => s >= ws && e <= we);
    for (const r of storage.rangeReads) {
      expect(r.uri).toBe(uri);
      expect(inside(r.start, r.end)).toBe(true);
    }
    const chunkBytes = wanted.reduce((a, [s, e]) => a + (e - s), 0);
    expect(storage.bytesRead).toBeLessThanOrEqual(chunkBytes + 2 * (footerLen + 8));
    expect(storage.bytesRead).toBeLessThan(size / 6);
    // And the values are the right ones.
    const ref = await fx.duck.one(`SELECT sum(a) AS a, sum(c) AS c FROM read_parquet(${sqlString(uri)}, file_row_number = true)
      WHERE file_row_number >= 65536 AND file_row_number < 98304`);
    const sum = (name: string): number => column(batches, name).reduce((x, y) => x + y, 0);
    expect(sum('a')).toBeCloseTo(ref.a, 6);
    expect(sum('c')).toBeCloseTo(ref.c, 6);
  });

  test('read-ahead stays within 1 + readAhead row groups of what was consumed', async () => {
    const uri = file('wide.parquet');
    const { files } = await planOf('wide.parquet');
    const chunks = await fx.duck.all(`SELECT row_group_id::INTEGER AS rg,
      min(coalesce(dictionary_page_offset, data_page_offset))::BIGINT AS start,
      max(coalesce(dictionary_page_offset, data_page_offset) + total_compressed_size)::BIGINT AS end
      FROM parquet_metadata(${sqlString(uri)}) GROUP BY ALL`);
    const groupOf = (offset: number): number => chunks.find((c) => offset >= Number(c.start) && offset < Number(c.end))?.rg ?? -1;
    for (const readAhead of [0, 1]) {
      storage.resetCounters();
      const it = readShardRanges(storage, { files, ranges: [rangeOf(files, 0)] }, { columns: ['b'], batchSize: 8192, readAhead });
      const first = await it.next();
      expect(first.done).toBe(false);
      const touched = (): number[] => [...new Set(storage.rangeReads.map((r) => groupOf(r.start)).filter((g) => g >= 0))].sort();
      // Wait for the read-ahead to show up, then give any over-eager reader time to run further.
      for (let waited = 0; readAhead > 0 && !touched().includes(1) && waited < 5000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(touched()).toEqual(readAhead === 0 ? [0] : [0, 1]);
      await it.return(undefined); // stops early: thread and buffers released
    }
  });
});

describe('bad input', () => {
  test('corrupt, truncated and empty files fail naming the file', async () => {
    const files: PlannedFile[] = [];
    for (const name of ['random.parquet', 'truncated.parquet', 'empty.parquet']) {
      const uri = file(name);
      const { size } = await fs.stat(uri);
      files.push({ uri, size, rows: 10, rowGroupRows: [10] });
    }
    for (let i = 0; i < files.length; i++) {
      await expectBadInput(collect(files, [rangeOf(files, i)], ['id']), files[i].uri);
    }
  });

  test('a missing column names the file and lists its columns', async () => {
    const { files } = await planOf('types-zstd.parquet');
    const e = await expectBadInput(collect(files, [rangeOf(files, 0)], ['id', 'nope']), file('types-zstd.parquet'), /"nope"/);
    expect(e.message).toContain('id, i8, i16');
  });

  test('a file changed after planning is refused before any row is read', async () => {
    const src = file('types-lz4.parquet');
    const uri = file('changing.parquet');
    await fs.copyFile(src, uri);
    const { files } = await planOf('changing.parquet');
    // Bigger: size differs.
    await fs.appendFile(uri, Buffer.alloc(16));
    await expectBadInput(collect(files, [rangeOf(files, 0)], ['id']), uri, /changed after the run was planned \(size \d+ -> \d+\)/, /never mixed/);
    // Same size, new version.
    await fs.copyFile(src, uri);
    const { files: again } = await planOf('changing.parquet');
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(uri, later, later);
    await expectBadInput(collect(again, [rangeOf(again, 0)], ['id']), uri, /changed after the run was planned/);
    // Deleted.
    await fs.rm(uri);
    await expectBadInput(collect(again, [rangeOf(again, 0)], ['id']), uri, /deleted/);
  });

  test('a file rewritten (same size) while its shard is being read fails at the next read, naming it', async () => {
    const uri = file('rewritten.parquet');
    await fs.copyFile(file('wide.parquet'), uri);
    const real = openStorage(); // the real file store: every ranged read asks for the planned version
    const files = [plannedFile(await readFooter(real, uri))];
    const seen: number[] = [];
    const read = (async () => {
      for await (const b of readShardRanges(real, { files, ranges: [rangeOf(files, 0)] }, { columns: ['id', 'a'], batchSize: 32768, readAhead: 0 })) {
        seen.push(b.numRows);
        if (seen.length === 1) {
          // Rewritten in place after the open-time check: same bytes, same size, a new version.
          await fs.writeFile(uri, await fs.readFile(uri));
          const later = new Date(Date.now() + 60_000);
          await fs.utimes(uri, later, later);
        }
      }
    })();
    await expectBadInput(read, uri, /rewritten while it was being read/, /no longer version/, /never mixed/);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.reduce((a, b) => a + b, 0)).toBeLessThan(131072); // it stopped before the end
  });

  test('corrupt page data fails naming the file, row group and column, and the process survives', async () => {
    const src = file('wide.parquet');
    const uri = file('bad-pages.parquet');
    await corruptColumnChunk(fx.duck, src, uri, 1, 'a');
    const { files } = await planOf('bad-pages.parquet');
    // Row group 0 reads fine; row group 1 is the broken one.
    const ok = await collect(files, [rangeOf(files, 0, 0, 1)], ['a']);
    expect(ok.reduce((a, b) => a + b.numRows, 0)).toBe(32768);
    await expectBadInput(collect(files, [rangeOf(files, 0, 1, 2)], ['a']), uri, /column "a" in row group 1\b/);
    // Among other columns, the one that fails is found by decoding them one by one.
    await expectBadInput(collect(files, [rangeOf(files, 0, 1, 2)], ['id', 'b', 'a', 'c']), uri, /column "a" in row group 1 is corrupt/);
    // Reading the whole file with read-ahead: row group 1 crashes the decoder while row group 0 is
    // being read; the blame still lands on row group 1, after every row of row group 0 was yielded.
    let yielded = 0;
    const e = await (async () => {
      const it = readShardRanges(storage, { files, ranges: [rangeOf(files, 0)] }, { columns: ['a'], batchSize: 4096, readAhead: 2 });
      for await (const b of it) yielded += b.numRows;
    })().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(BadInputError);
    expect((e as Error).message).toMatch(/row group 1\b/);
    expect(yielded).toBe(32768);
    // Still alive and reading.
    const again = await collect(files, [rangeOf(files, 0, 3, 4)], ['a', 'b']);
    expect(again.reduce((a, b) => a + b.numRows, 0)).toBe(32768);
  });

  test('a corrupt column chunk in a file parquet-wasm wrote is named too', async () => {
    const src = file('types-wasm-for-corruption.parquet');
    const uri = file('bad-wasm-pages.parquet');
    await rewriteWithParquetWasm(storage, file('types-zstd.parquet'), src, { rowGroupRows: 2048, dictionaryColumns: [] });
    await corruptColumnChunk(fx.duck, src, uri, 2, 'f64');
    const { files } = await planOf('bad-wasm-pages.parquet');
    await expectBadInput(collect(files, [rangeOf(files, 0)], ['id', 'i64', 'f64', 'cat']), uri, /column "f64" in row group 2 is corrupt or unreadable/);
  });

  test('a failing store is a plain (retryable) error naming the file, not bad input', async () => {
    const { files } = await planOf('types-zstd.parquet');
    const flaky = new LocalTestStorage();
    let n = 0;
    flaky.onReadRange = () => {
      if (++n > 2) throw new Error('connection reset');
    };
    const e = await (async () => {
      for await (const _ of readShardRanges(flaky, { files, ranges: [rangeOf(files, 0)] }, { columns: ['id'], batchSize: 100 })) { /* drain */ }
    })().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(BadInputError);
    expect((e as Error).message).toContain(file('types-zstd.parquet'));
    expect((e as Error).message).toContain('connection reset');
  });
});

describe('normalization', () => {
  test('Arrow dictionary columns (from a file with an embedded Arrow schema) come back decoded', async () => {
    const codes = arrow.vectorFromArray(['x', 'y', null, 'x', 'z'], new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()));
    const nums = arrow.vectorFromArray([1.5, null, 2.5, 1.5, 1.5], new arrow.Dictionary(new arrow.Float64(), new arrow.Int8()));
    const plain = arrow.vectorFromArray([1, 2, 3, 4, 5], new arrow.Int32());
    const table = new arrow.Table({ codes, nums, plain });
    await fs.writeFile(file('dict.parquet'), encodeParquet(table, { compression: 'snappy' }));
    const { files, footers } = await planOf('dict.parquet');
    expect(footers[0].columns.map((c) => c.type)).toEqual(['Utf8', 'Float64', 'Int32']);
    const [b] = await collect(files, [rangeOf(files, 0)], ['nums', 'codes', 'plain']);
    expect(String(b.schema.fields[0].type)).toBe('Float64');
    expect(String(b.schema.fields[1].type)).toBe('Utf8');
    expect([...b.getChild('nums')!]).toEqual([1.5, null, 2.5, 1.5, 1.5]);
    expect([...b.getChild('codes')!]).toEqual(['x', 'y', null, 'x', 'z']);
    expect([...b.getChild('plain')!]).toEqual([1, 2, 3, 4, 5]);
  });

  test('normalizeBatch picks columns in the order asked and leaves plain batches alone', () => {
    const t = arrow.tableFromArrays({ a: new Float32Array([1, 2]), b: new Int32Array([3, 4]) });
    const b = t.batches[0];
    expect(normalizeBatch(b)).toBe(b);
    const r = normalizeBatch(b, ['b', 'a']);
    expect(r.schema.fields.map((f) => f.name)).toEqual(['b', 'a']);
    expect([...r.getChild('b')!]).toEqual([3, 4]);
  });
});
