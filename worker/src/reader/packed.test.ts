/**
 * Packing in the decoder threads (packed.ts, parquet-thread-main.ts): the batches the pipeline reads
 * are what packing the Arrow batches on this thread gives, on the fast path (straight from wasm
 * memory) and on the general one, and the reader survives, or names the culprit of, a decoder thread
 * that dies or a row group that cannot be read.
 */
import * as fs from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { BadInputError, type PlannedFile } from '../../../core/src/contract/index.js';
import { packInputs, planScoring, type ScoringPlan } from '../tensors/index.js';
import { f32List, meta, tensor } from '../../../core/testing/tensors.js';
import { encodeParquet } from '../writer/encode.js';
import { threadModuleUrl } from '../../../core/src/threads/module-file.js';
import type { CrashCue } from '../testing/crashing-parquet-thread.js';
import { newReadStats, readFooter, readShardRanges, type ReadStats } from './index.js';
import { readShardPacked, readSchema, type PackedRows, type PackSetup } from './packed.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';
import { Encoding, fileLayout } from '../../../core/src/parquet/direct/chunk-meta.js';
import { fieldOf, readStruct } from '../../../core/src/parquet/thrift.js';
import { LocalTestStorage } from './test-storage.js';
import { copyToParquet, corruptColumnChunk, Duck, makeTempDir, plannedFile, rangeOf } from './testdata-gen.js';

const storage = new LocalTestStorage();
let dir: string;
let duck: Duck;
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = await makeTempDir('bij-packed-');
  duck = await Duck.open();
}, 60_000);

afterAll(async () => {
  duck?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const FEATURES = ['f0', 'f1', 'f2', 'f3'];
/** Model X: float32 [batch, 4]. */
const MODEL = meta([tensor('X', 'float32', ['batch', 4])]);

async function planned(name: string): Promise<PlannedFile> {
  return plannedFile(await readFooter(storage, file(name)));
}

function setup(mapping: { X: { columns?: string[]; column?: string } }, keep: string[], model = MODEL): PackSetup {
  return {
    idColumn: 'id', keep, scoreInfinity: false,
    planFor: async (schema) => planScoring({ inputs: mapping, outputs: { Y: { column: 'y' } } }, model, schema),
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const values = (v: arrow.Vector | null): unknown[] => Array.from({ length: v?.length ?? 0 }, (_, i) => v!.get(i));

/** Packs the Arrow batches of the same shard on this thread, by the same plan: the reference. */
async function reference(f: PlannedFile, columns: string[], s: PackSetup): Promise<{ batch: arrow.RecordBatch; plan: ScoringPlan }[]> {
  const out: { batch: arrow.RecordBatch; plan: ScoringPlan }[] = [];
  for await (const batch of readShardRanges(storage, { files: [f], ranges: [rangeOf([f], 0)] }, { columns, batchSize: 500 })) {
    out.push({ batch, plan: await s.planFor(batch.schema, f) });
  }
  return out;
}

/** Every packed batch equals the reference: tensors, rows packed, error rows and reasons, kept columns. */
async function expectSameAsMainThread(f: PlannedFile, columns: string[], s: PackSetup): Promise<ReadStats> {
  const stats = newReadStats();
  const got = await collect(readShardPacked(storage, { files: [f], ranges: [rangeOf([f], 0)] }, { columns, batchSize: 500, pack: s, stats }));
  const want = await reference(f, columns, s);
  expect(got.map((p) => p.numRows)).toEqual(want.map((w) => w.batch.numRows));
  for (const [i, p] of got.entries()) {
    const { batch, plan } = want[i];
    const w = packInputs(batch, plan, { idColumn: 'id' });
    expect(Array.from(p.packed.goodRows)).toEqual(Array.from(w.goodRows));
    expect(Array.from(p.packed.bad.rows)).toEqual(Array.from(w.bad.rows));
    expect(Array.from(p.packed.bad.reason, (k) => p.packed.bad.reasons[k])).toEqual(Array.from(w.bad.reason, (k) => w.bad.reasons[k]));
    expect(p.packed.tensors.map((t) => [t.name, t.type, t.dims])).toEqual(w.tensors.map((t) => [t.name, t.type, t.dims]));
    p.packed.tensors.forEach((t, k) => expect(Array.from(t.data as Float32Array)).toEqual(Array.from(w.tensors[k].data as Float32Array)));
    expect(p.keep.schema.fields.map((x) => [x.name, String(x.type)])).toEqual(s.keep.map((c) => [c, String(batch.getChild(c)!.type)]));
    for (const c of s.keep) expect(values(p.keep.getChild(c))).toEqual(values(batch.getChild(c)));
  }
  expect(stats.rows).toBe(f.rows);
  return stats;
}

describe('packing in the decoder thread', () => {
  test('the fast path (numeric columns, no null or NaN) packs as the main thread does, and keeps columns of every kind', async () => {
    await copyToParquet(duck, `SELECT i::BIGINT AS id, (i * 0.5)::FLOAT AS f0, (i % 7)::DOUBLE AS f1, (i % 100)::INTEGER AS f2,
        (-i)::SMALLINT AS f3, CASE WHEN i % 5 = 0 THEN NULL ELSE 'r' || (i % 3) END AS region,
        TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) SECOND AS ts, TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) MINUTE AS tstz,
        DATE '2024-01-01' + (i % 30)::INTEGER AS d, i % 2 = 0 AS flag, (i / 8.0)::DECIMAL(12,4) AS amount, (i % 200)::UTINYINT AS small
      FROM range(0, 3000) t(i)`, file('fast.parquet'), 'ROW_GROUP_SIZE 1024');
    const f = await planned('fast.parquet');
    const keep = ['id', 'region', 'ts', 'tstz', 'd', 'flag', 'amount', 'small'];
    const stats = await expectSameAsMainThread(f, [...keep, ...FEATURES], setup({ X: { columns: FEATURES } }, keep));
    expect(stats.fastPacked).toBe(stats.batches); // every batch took the fast path
    expect(stats.packSeconds).toBeGreaterThan(0);
    expect(stats.threadSeconds).toBeGreaterThanOrEqual(stats.packSeconds);
  });

  test('nulls, NaN, infinities and null ids take the general path: error rows with their reasons, as before', async () => {
    await copyToParquet(duck, `SELECT CASE WHEN i = 1234 THEN NULL ELSE i END::BIGINT AS id,
        CASE WHEN i % 97 = 0 THEN NULL ELSE i * 0.5 END::FLOAT AS f0, CASE WHEN i % 89 = 0 THEN 'NaN'::DOUBLE ELSE i END AS f1,
        CASE WHEN i % 83 = 0 THEN 'Infinity'::FLOAT ELSE 1 END AS f2, 2.5::FLOAT AS f3, 'x' AS region
      FROM range(0, 3000) t(i)`, file('bad-rows.parquet'), 'ROW_GROUP_SIZE 1024');
    const f = await planned('bad-rows.parquet');
    const stats = await expectSameAsMainThread(f, ['id', 'region', ...FEATURES], setup({ X: { columns: FEATURES } }, ['id', 'region']));
    expect(stats.fastPacked).toBeLessThan(stats.batches);
  });

  test('list, fixed-size list, float16 and decimal columns pack through the new path as through the old', async () => {
    const n = 1500;
    const fsl = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => [i, i + 0.5, -i, i / 3]), f32List(4));
    const list = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => (i % 400 === 7 ? null : [i, 1, 2, 3])), f32List());
    const half = arrow.makeVector(arrow.makeData({ type: new arrow.Float16(), length: n, data: Uint16Array.from({ length: n }, (_, i) => 0x3c00 + (i % 512)) }));
    const id = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => BigInt(i)), new arrow.Int64());
    await fs.writeFile(file('lists.parquet'), encodeParquet(new arrow.Table({ id, fsl, list, half }), { compression: 'snappy', rowGroupRows: 600 }));
    const f = await planned('lists.parquet');
    const fixed = await expectSameAsMainThread(f, ['id', 'fsl'], setup({ X: { column: 'fsl' } }, ['id']));
    expect(fixed.fastPacked).toBe(fixed.batches);
    const lists = await expectSameAsMainThread(f, ['id', 'list'], setup({ X: { column: 'list' } }, ['id']));
    expect(lists.fastPacked).toBe(0);
    await expectSameAsMainThread(f, ['id', 'half'], setup({ X: { columns: ['half'] } }, ['id'], meta([tensor('X', 'float32', ['batch', 1])])));
    await copyToParquet(duck, `SELECT i::BIGINT AS id, (i / 7.0)::DECIMAL(18,6) AS a, (i * 1.25)::DECIMAL(9,2) AS b
      FROM range(0, 1200) t(i)`, file('decimals.parquet'), 'ROW_GROUP_SIZE 1024');
    const two = meta([tensor('X', 'float64', ['batch', 2])]);
    await expectSameAsMainThread(await planned('decimals.parquet'), ['id', 'a', 'b'], setup({ X: { columns: ['a', 'b'] } }, ['id'], two));
  });

  test('rows that do not fit the model are bad input naming the file and row group', async () => {
    await copyToParquet(duck, `SELECT i::BIGINT AS id, CASE WHEN i = 1500 THEN [1.0, 2.0, 3.0]::FLOAT[] ELSE [1.0, 2.0, 3.0, 4.0]::FLOAT[] END AS emb
      FROM range(0, 2048) t(i)`, file('widths.parquet'), 'ROW_GROUP_SIZE 1024');
    const f = await planned('widths.parquet');
    const read = collect(readShardPacked(storage, { files: [f], ranges: [rangeOf([f], 0)] }, { columns: ['id', 'emb'], batchSize: 500, pack: setup({ X: { column: 'emb' } }, ['id']) }));
    const err = await read.then(() => undefined, (e: unknown) => e);
    const rowGroup = f.rowGroupRows.findIndex((_, g) => f.rowGroupRows.slice(0, g + 1).reduce((a, b) => a + b, 0) > 1500);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain(`input file ${f.uri}, row group ${rowGroup}: model input 'X' takes 4 values per row, `
      + 'but column \'emb\' has 3 values at row');
    expect((err as Error).message).toContain('(id "1500")');
  });

  test('a corrupt row group fails naming the file, row group and column, after the rows before it', async () => {
    await copyToParquet(duck, 'SELECT i::BIGINT AS id, i * 0.5 AS f0, i * 0.25 AS f1, 1.0 AS f2, 2.0 AS f3 FROM range(0, 5000) t(i)', file('b.parquet'), 'ROW_GROUP_SIZE 2048');
    await corruptColumnChunk(duck, file('b.parquet'), file('b-bad.parquet'), 1, 'f1');
    const bad = await planned('b-bad.parquet');
    let yielded = 0;
    const err = await (async () => {
      for await (const p of readShardPacked(storage, { files: [bad], ranges: [rangeOf([bad], 0)] },
        { columns: ['id', ...FEATURES], batchSize: 512, pack: setup({ X: { columns: FEATURES } }, ['id']) })) yielded += p.numRows;
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain(bad.uri);
    expect((err as Error).message).toMatch(/column "f1" in row group 1\b/);
    expect(yielded).toBe(2048); // all of row group 0, nothing of 1 or 2
  });
});

describe('a decoder thread that dies', () => {
  // The test thread: the real one, crashing on cue (testing/crashing-parquet-thread.ts).
  const entry = threadModuleUrl('../testing/crashing-parquet-thread.js', import.meta.url);
  let f: PlannedFile;
  const columns = ['id', ...FEATURES];
  const ids = (batches: PackedRows[]): number[] => batches.flatMap((p) => values(p.keep.getChild('id')).map(Number));

  beforeAll(async () => {
    await copyToParquet(duck, 'SELECT i::BIGINT AS id, i * 0.5 AS f0, 1.0 AS f1, 2.0 AS f2, 3.0 AS f3 FROM range(0, 6000) t(i)', file('crash.parquet'), 'ROW_GROUP_SIZE 2048');
    f = await planned('crash.parquet');
    expect(f.rowGroupRows).toEqual([2048, 2048, 1904]);
  });

  test.each(['exit', 'throw'] as const)('mid-row-group with read-ahead (%s): a fresh thread resumes after the rows taken, every row once', async (how) => {
    let made = 0;
    const cue: CrashCue = { crashAtNext: 3, how }; // row group 0 is 4 batches of 512: dies after 1024 rows of it
    const newThread = () => (made++ === 0 ? new ParquetThread({ entry, test: cue }) : new ParquetThread());
    const got = await collect(readShardPacked(storage, { files: [f], ranges: [rangeOf([f], 0)] },
      { columns, batchSize: 512, readAhead: 2, newThread, pack: setup({ X: { columns: FEATURES } }, ['id']) }));
    expect(made).toBe(2);
    expect(ids(got)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(got.reduce((a, p) => a + p.packed.tensors[0].dims[0], 0)).toBe(6000);
  });

  test('one that dies on every batch fails naming the file and row group, and does not hang', async () => {
    const newThread = () => new ParquetThread({ entry, test: { crashAtNext: 1, how: 'exit' } satisfies CrashCue });
    const read = collect(readShardPacked(storage, { files: [f], ranges: [rangeOf([f], 0)] },
      { columns, batchSize: 512, readAhead: 2, newThread, pack: setup({ X: { columns: FEATURES } }, ['id']) }));
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise((r) => { timer = setTimeout(() => r('hung'), 30_000); });
    const err = await Promise.race([read.then(() => undefined, (e: unknown) => e), hung]).finally(() => clearTimeout(timer));
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(f.uri);
    expect((err as Error).message).toMatch(/row group 0\b/);
    expect((err as Error).message).toContain('the Parquet thread exited unexpectedly (code 70)');
  });
});

describe('the thread module file', () => {
  test('beside its client in dist/; under jest, the build\'s, with the fix when there is none', async () => {
    expect(threadModuleUrl('parquet-thread-main.js', 'file:///app/dist/core/src/parquet/parquet-thread.js').href)
      .toBe('file:///app/dist/core/src/parquet/parquet-thread-main.js');
    const root = await makeTempDir('bij-threadfile-');
    try {
      await fs.writeFile(path.join(root, 'package.json'), '{}');
      await fs.writeFile(path.join(root, 'tsconfig.json'), '{}');
      await fs.mkdir(path.join(root, 'src', 'x'), { recursive: true });
      const from = `file://${path.join(root, 'src', 'x', 'client.ts')}`;
      expect(() => threadModuleUrl('thread.js', from)).toThrow(/dist\/src\/x\/thread\.js is missing: run npm run build/);
      await fs.mkdir(path.join(root, 'dist', 'src', 'x'), { recursive: true });
      await fs.writeFile(path.join(root, 'dist', 'src', 'x', 'thread.js'), '');
      expect(threadModuleUrl('thread.js', from).href).toBe(`file://${path.join(root, 'dist', 'src', 'x', 'thread.js')}`);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('readSchema', () => {
  test('gives the columns asked for, in order, with dictionaries decoded, as batches come', async () => {
    const f = await planned('fast.parquet');
    const thread = new ParquetThread();
    try {
      const opened = await thread.open(storage, f.uri, f.size);
      const schema = readSchema(opened, ['f1', 'id', 'region']);
      const [batch] = await collect(readShardRanges(storage, { files: [f], ranges: [rangeOf([f], 0, 1)] }, { columns: ['f1', 'id', 'region'], batchSize: 4096 }));
      expect(schema.fields.map((x) => [x.name, String(x.type)])).toEqual(batch.schema.fields.map((x) => [x.name, String(x.type)]));
    } finally {
      await thread.terminate();
    }
  });
});

/**
 * The direct decoder (core/src/parquet/direct): row groups decoded in JS with Node's zstd, gzip and
 * brotli and our snappy, instead of parquet-wasm. Whatever it takes must pack exactly as parquet-wasm
 * decoding does (the main-thread reference above), and what it does not take must fall back unnoticed.
 */
describe('the direct decoder', () => {
  const FEATURE_SQL = `(i * 0.37)::FLOAT AS f0, (i / 7.0)::DOUBLE AS f1, (-i)::INTEGER AS f2, (i * 3)::FLOAT AS f3`;
  const mixed = (n: number) => `SELECT i::BIGINT AS id, ${FEATURE_SQL},
      CASE WHEN i % 5 = 0 THEN NULL ELSE 'région ' || (i % 13) END AS region, ('k' || i)::BLOB AS raw,
      CASE WHEN i % 3 = 0 THEN NULL ELSE i END::BIGINT AS maybe
    FROM range(0, ${n}) t(i)`;
  const keep = ['id', 'region', 'raw', 'maybe'];
  const columns = [...keep, ...FEATURES];
  const s = () => setup({ X: { columns: FEATURES } }, keep, meta([tensor('X', 'float32', ['batch', 4])]));

  test.each(['zstd', 'snappy', 'gzip', 'brotli', 'uncompressed'])('%s pages are decoded directly, as parquet-wasm decodes them', async (codec) => {
    // Distinct values per row: DuckDB writes them PLAIN (the direct decoder's case); the strings
    // repeat and are dictionary-encoded, with nulls.
    await copyToParquet(duck, mixed(3000), file(`direct-${codec}.parquet`), `COMPRESSION ${codec}, ROW_GROUP_SIZE 1024`);
    const stats = await expectSameAsMainThread(await planned(`direct-${codec}.parquet`), columns, s());
    expect(stats.directPacked).toBe(stats.batches);
  });

  test('data pages v2 (PARQUET_VERSION V2) decode the same, directly or not', async () => {
    await copyToParquet(duck, mixed(2500), file('direct-v2.parquet'), 'COMPRESSION zstd, ROW_GROUP_SIZE 1024, PARQUET_VERSION V2');
    const stats = await expectSameAsMainThread(await planned('direct-v2.parquet'), columns, s());
    expect(stats.fastPacked).toBe(stats.batches);
  });

  test('a codec it does not take (lz4) is left to parquet-wasm; dictionary-encoded numbers are decoded directly', async () => {
    await copyToParquet(duck, mixed(2000), file('direct-lz4.parquet'), 'COMPRESSION lz4, ROW_GROUP_SIZE 1024');
    const lz4 = await expectSameAsMainThread(await planned('direct-lz4.parquet'), columns, s());
    expect(lz4.directPacked).toBe(0);
    expect(lz4.fastPacked).toBe(lz4.batches);
    await copyToParquet(duck, `SELECT i::BIGINT AS id, (i % 10)::FLOAT AS f0, 1::DOUBLE AS f1, (i % 3)::INTEGER AS f2, 5::FLOAT AS f3,
      'r' AS region, 'b'::BLOB AS raw, 1::BIGINT AS maybe FROM range(0, 2000) t(i)`, file('direct-dict.parquet'), 'ROW_GROUP_SIZE 1024');
    const dict = await expectSameAsMainThread(await planned('direct-dict.parquet'), columns, s());
    expect(dict.directPacked).toBe(dict.batches);
  });

  /** The rows of the parquet-wasm-written tests: distinct float32s in f0 (its dictionary fills up),
   * a few float64s, int32s and float32s, strings with nulls, and int64 ids. */
  const pwTable = (n: number, nan?: (i: number) => boolean) => new arrow.Table({
    id: arrow.makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(i))),
    f0: arrow.makeVector(Float32Array.from({ length: n }, (_, i) => (nan?.(i) ? NaN : Math.sin(i) * 1000))),
    f1: arrow.makeVector(Float64Array.from({ length: n }, (_, i) => (i % 17) / 3)),
    f2: arrow.makeVector(Int32Array.from({ length: n }, (_, i) => (i % 5) - 2)),
    f3: arrow.makeVector(Float32Array.from({ length: n }, (_, i) => (i % 9) * 0.1)),
    region: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => (i % 4 === 0 ? null : `r${i % 6}`)), new arrow.Utf8()),
  });
  const pwColumns = ['id', 'region', ...FEATURES];
  const pwSetup = (model = MODEL, keep = ['id', 'region']) => setup({ X: { columns: FEATURES } }, keep, model);

  /** The encodings of the data pages of one column chunk, read from the file's page headers. */
  async function dataPageEncodings(name: string, column: string, rowGroup: number): Promise<number[]> {
    const bytes = new Uint8Array(await fs.readFile(file(name)));
    const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
    const layout = fileLayout(bytes.subarray(bytes.length - 8 - footerLength, bytes.length - 8));
    const chunk = layout.rowGroups[rowGroup].chunks[layout.columns.get(column)!.leaf];
    const out: number[] = [];
    for (let pos = chunk.start; pos < chunk.start + chunk.length;) {
      const { struct: h, end } = readStruct(bytes.subarray(pos));
      const compressed = Number(fieldOf(h, 3)!.value);
      const v1 = fieldOf(h, 5)?.value;
      if (v1 && typeof v1 === 'object' && 'kind' in v1 && v1.kind === 'struct') out.push(Number(fieldOf(v1, 2)!.value));
      pos += end + compressed;
    }
    return out;
  }

  test('parquet-rs files: chunks all dictionary-encoded, and chunks whose pages fall back to PLAIN, decode directly, the same', async () => {
    // parquet-rs's defaults: every chunk dictionary-encoded (the bench's files).
    writeFileSync(file('pw-dict.parquet'), encodeParquet(pwTable(3000), { compression: 'snappy', rowGroupRows: 1024, dataPageBytes: 512 }));
    expect(new Set(await dataPageEncodings('pw-dict.parquet', 'f0', 0))).toEqual(new Set([Encoding.RLE_DICTIONARY]));
    const all = await expectSameAsMainThread(await planned('pw-dict.parquet'), pwColumns, pwSetup());
    expect(all.directPacked).toBe(all.batches);
    // A small dictionary page: f0's pages start dictionary-encoded and go on PLAIN (pyarrow and Spark
    // write such chunks once their dictionary page is full).
    writeFileSync(file('pw-fallback.parquet'), encodeParquet(pwTable(3000), { compression: 'snappy', rowGroupRows: 1024, dictionaryPageBytes: 1024, dataPageBytes: 512 }));
    const encodings = await dataPageEncodings('pw-fallback.parquet', 'f0', 0);
    expect(encodings[0]).toBe(Encoding.RLE_DICTIONARY);
    expect(encodings).toContain(Encoding.PLAIN);
    const fallback = await expectSameAsMainThread(await planned('pw-fallback.parquet'), pwColumns, pwSetup());
    expect(fallback.directPacked).toBe(fallback.batches);
  });

  test('a float64 input takes float32, float64 and int32 columns converted as the main thread converts them', async () => {
    writeFileSync(file('pw-f64.parquet'), encodeParquet(pwTable(2500), { compression: 'snappy', rowGroupRows: 1024, dictionaryPageBytes: 1024 }));
    const stats = await expectSameAsMainThread(await planned('pw-f64.parquet'), pwColumns, pwSetup(meta([tensor('X', 'float64', ['batch', 4])])));
    expect(stats.directPacked).toBe(stats.batches);
  });

  test('a feature that is also kept is packed from its column, still directly', async () => {
    writeFileSync(file('pw-kept.parquet'), encodeParquet(pwTable(2500), { compression: 'snappy', rowGroupRows: 1024 }));
    const stats = await expectSameAsMainThread(await planned('pw-kept.parquet'), pwColumns, pwSetup(MODEL, ['id', 'region', 'f0']));
    expect(stats.directPacked).toBe(stats.batches);
  });

  test('NaN in a dictionary page and in a PLAIN page: those batches fall back, with the same error rows', async () => {
    // Row 100's NaN is in row group 0's dictionary (its page still dictionary-encoded); row 2900's in a
    // PLAIN page of row group 2 (its dictionary full by then).
    const nan = (i: number) => i === 100 || i === 2900;
    writeFileSync(file('pw-nan.parquet'), encodeParquet(pwTable(3000, nan), { compression: 'snappy', rowGroupRows: 1024, dictionaryPageBytes: 2048, dataPageBytes: 512 }));
    expect((await dataPageEncodings('pw-nan.parquet', 'f0', 2)).at(-1)).toBe(Encoding.PLAIN);
    const stats = await expectSameAsMainThread(await planned('pw-nan.parquet'), pwColumns, pwSetup());
    expect(stats.directPacked).toBeGreaterThan(0);
    expect(stats.fastPacked).toBeLessThan(stats.batches);
    // DuckDB's columns are OPTIONAL: their PLAIN values follow the levels, not aligned in the page.
    await copyToParquet(duck, `SELECT i::BIGINT AS id, CASE WHEN i = 1700 THEN 'NaN'::FLOAT ELSE i * 0.5 END::FLOAT AS f0,
        CASE WHEN i = 2500 THEN '-Infinity'::DOUBLE ELSE i / 7.0 END AS f1, (-i)::INTEGER AS f2, (i * 3)::FLOAT AS f3,
        'r' || i AS region, 'b'::BLOB AS raw, i::BIGINT AS maybe
      FROM range(0, 3000) t(i)`, file('direct-nan.parquet'), 'COMPRESSION zstd, ROW_GROUP_SIZE 1024');
    const duckStats = await expectSameAsMainThread(await planned('direct-nan.parquet'), columns, s());
    expect(duckStats.directPacked).toBeGreaterThan(0);
    expect(duckStats.fastPacked).toBeLessThan(duckStats.batches);
  });

  test('files pyarrow wrote (committed, core/testing/parquet): dictionary pages that fill up, v2 pages, zstd and BYTE_STREAM_SPLIT', async () => {
    const fixtures = path.join(import.meta.dirname, '../../../core/testing/parquet');
    for (const name of ['pyarrow-dictionary-fallback.parquet', 'pyarrow-v2-zstd-byte-stream-split.parquet']) {
      await fs.copyFile(path.join(fixtures, name), file(name));
    }
    const encodings = await dataPageEncodings('pyarrow-dictionary-fallback.parquet', 'f0', 0);
    expect(encodings[0]).toBe(Encoding.RLE_DICTIONARY);
    expect(encodings).toContain(Encoding.PLAIN);
    const fallback = await expectSameAsMainThread(await planned('pyarrow-dictionary-fallback.parquet'), pwColumns, pwSetup());
    // Row group 2 has two null f3s: its batches that hold them go to parquet-wasm, the others are direct.
    expect(fallback.directPacked).toBeGreaterThanOrEqual(4);
    expect(fallback.fastPacked).toBeLessThan(fallback.batches);
    const v2 = await expectSameAsMainThread(await planned('pyarrow-v2-zstd-byte-stream-split.parquet'), pwColumns, pwSetup());
    expect(v2.directPacked).toBeGreaterThanOrEqual(4);
    expect(v2.fastPacked).toBeLessThan(v2.batches);
  });

  test('a batch with nulls in a feature falls back to parquet-wasm from that row on, with the same error rows', async () => {
    await copyToParquet(duck, `SELECT i::BIGINT AS id, CASE WHEN i = 1500 THEN NULL ELSE i * 0.5 END::FLOAT AS f0, (i / 7.0)::DOUBLE AS f1,
        (-i)::INTEGER AS f2, (i * 3)::FLOAT AS f3, 'r' || i AS region, 'b'::BLOB AS raw, i::BIGINT AS maybe
      FROM range(0, 3000) t(i)`, file('direct-null.parquet'), 'COMPRESSION zstd, ROW_GROUP_SIZE 2048');
    const stats = await expectSameAsMainThread(await planned('direct-null.parquet'), columns, s());
    expect(stats.directPacked).toBeGreaterThan(0); // the row groups and batches before the null
    expect(stats.fastPacked).toBeLessThan(stats.batches); // the batch holding it
  });

  test('corrupt pages fall back to parquet-wasm, which reports them naming the file and row group', async () => {
    await copyToParquet(duck, mixed(3000), file('direct-ok.parquet'), 'COMPRESSION zstd, ROW_GROUP_SIZE 1024');
    await corruptColumnChunk(duck, file('direct-ok.parquet'), file('direct-bad.parquet'), 1, 'f1');
    const f = await planned('direct-bad.parquet');
    const read = collect(readShardPacked(storage, { files: [f], ranges: [rangeOf([f], 0)] }, { columns, batchSize: 500, pack: s() }));
    await expect(read).rejects.toThrow(/direct-bad\.parquet.*row group 1/);
  });
});
