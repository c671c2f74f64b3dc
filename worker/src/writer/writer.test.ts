import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { attemptDataName, attemptErrorsName } from '../../../core/src/contract/index.js';
import { LocalTestStorage, sha256Hex } from '../reader/test-storage.js';
import { Duck, makeTempDir, sqlString } from '../reader/testdata-gen.js';
import { encodeParquet, ErrorsWriter, PartWriter, type OutputMetadata, type PartWriterOptions } from './index.js';
import { APPEND_BYTES } from './part-writer.js';
import { until } from '../../../core/testing/until.js';
import { logicalBytes } from './batch-bytes.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';

let dir: string;
let duck: Duck;
const storage = new LocalTestStorage();
const META: OutputMetadata = { runId: 'run-42', modelVersion: 'v3', modelSha256: 'ab'.repeat(32), shard: 7, attempt: 2 };
let prefixCount = 0;
const newPrefix = (): string => path.join(dir, `attempt-${prefixCount++}`);

beforeAll(async () => {
  dir = await makeTempDir('bij-writer-');
  duck = await Duck.open();
});

afterAll(async () => {
  duck?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** Output-like batch: id Int64, passthrough region (Utf8 with nulls), score Float32, emb List<Float32>. */
function outputBatch(start: number, rows: number, seed = 1): arrow.RecordBatch {
  const ids = new BigInt64Array(rows);
  const region: (string | null)[] = [];
  const score = new Float32Array(rows);
  const emb: number[][] = [];
  let x = seed * 1_000_003 + start;
  for (let i = 0; i < rows; i++) {
    const r = start + i;
    ids[i] = BigInt(r);
    region.push(r % 10 === 0 ? null : ['emea', 'amer', 'apac'][r % 3]);
    x = (x * 1103515245 + 12345) % 2147483648;
    score[i] = x / 2147483648;
    emb.push([r % 7, (r % 5) / 4]);
  }
  return new arrow.Table({
    id: arrow.makeVector(ids),
    region: arrow.vectorFromArray(region, new arrow.Utf8()),
    score: arrow.makeVector(score),
    emb: arrow.vectorFromArray(emb, new arrow.List(new arrow.Field('item', new arrow.Float32(), true))),
  }).batches[0];
}

function writerOptions(prefix: string, extra: Partial<PartWriterOptions> = {}): PartWriterOptions {
  return { storage, prefix, writerToken: 'w0abc', targetFileBytes: 1 << 30, metadata: META, ...extra };
}

async function writeAll(w: { write(b: arrow.RecordBatch): Promise<void> }, batches: number, rows: number, seed = 1): Promise<void> {
  for (let i = 0; i < batches; i++) await w.write(outputBatch(i * rows, rows, seed));
}

const fileList = (prefix: string, files: { path: string }[]): string =>
  `[${files.map((f) => sqlString(path.join(prefix, f.path))).join(', ')}]`;

describe('PartWriter', () => {
  test('round trip: DuckDB reads back the same rows, metadata and checksums', async () => {
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix, { targetFileBytes: 200_000 }));
    await writeAll(w, 30, 2000);
    const files = await w.close();
    expect(files.length).toBeGreaterThan(1);
    expect(files.map((f) => f.path)).toEqual(files.map((_, i) => attemptDataName(i, 'w0abc')));
    expect(files.every((f) => f.kind === 'data')).toBe(true);
    expect(files.reduce((a, f) => a + f.rowCount, 0)).toBe(60_000);
    for (const f of files) {
      const bytes = await fs.readFile(path.join(prefix, f.path));
      expect(f.bytes).toBe(bytes.length);
      expect(f.sha256).toBe(sha256Hex(bytes));
      const { n } = await duck.one(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(path.join(prefix, f.path))})`);
      expect(n).toBe(f.rowCount);
      const kv = await duck.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlString(path.join(prefix, f.path))})`);
      const m = Object.fromEntries(kv.map((r) => [r.k, r.v]));
      expect(m).toMatchObject({
        'bij.run_id': 'run-42', 'bij.model_version': 'v3', 'bij.model_sha256': 'ab'.repeat(32), 'bij.shard': '7', 'bij.attempt': '2',
      });
      const codecs = await duck.all(`SELECT DISTINCT compression FROM parquet_metadata(${sqlString(path.join(prefix, f.path))})`);
      expect(codecs.map((c) => c.compression)).toEqual(['ZSTD']);
    }
    // Same rows, in order, column by column.
    const all = await duck.one(`SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids, sum(id)::BIGINT AS id_sum,
      sum(score)::DOUBLE AS score, count(region)::INTEGER AS regions, sum(list_sum(emb))::DOUBLE AS emb
      FROM read_parquet(${fileList(prefix, files)})`);
    let score = 0;
    let emb = 0;
    let regions = 0;
    for (let i = 0; i < 30; i++) {
      const b = outputBatch(i * 2000, 2000);
      for (const s of b.getChild('score')!) score += s as number;
      for (const v of b.getChild('emb')!) for (const e of v!) emb += e as number;
      for (const r of b.getChild('region')!) if (r !== null) regions++;
    }
    expect(all).toMatchObject({ n: 60_000, ids: 60_000, regions });
    expect(BigInt(all.id_sum)).toBe(BigInt((60_000 * 59_999) / 2));
    expect(all.score).toBeCloseTo(score, 3);
    expect(all.emb).toBeCloseTo(emb, 6);
    const rows = await duck.all(`SELECT id, region, score, emb FROM read_parquet(${fileList(prefix, files)})
      WHERE id IN (0, 1, 30000, 59999) ORDER BY id`);
    const ref = [0, 1, 30000, 59999].map((id) => outputBatch(id - (id % 2000), 2000).get(id % 2000)!.toJSON());
    expect(rows.map((r) => [Number(r.id), r.region, r.score, r.emb])).toEqual(
      ref.map((r) => [Number(r.id), r.region, r.score, [...r.emb.toArray()]]));
    // Files keep the input's order: ids increase across parts.
    const firstIds = await Promise.all(files.map(async (f) =>
      (await duck.one(`SELECT min(id)::BIGINT AS lo, max(id)::BIGINT AS hi FROM read_parquet(${sqlString(path.join(prefix, f.path))})`))));
    for (let i = 1; i < firstIds.length; i++) expect(BigInt(firstIds[i].lo)).toBe(BigInt(firstIds[i - 1].hi) + 1n);
  });

  test('integer and timestamp columns are written DELTA_BINARY_PACKED, and read back exactly', async () => {
    const prefix = newPrefix();
    const n = 5000;
    const ids = BigInt64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1n : 1n) * (BigInt(i) * 7_919_000_003n + 12_345n));
    const small = Int32Array.from({ length: n }, (_, i) => ((i * 2_654_435_761) | 0));
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31) % 256);
    const times = BigInt64Array.from({ length: n }, (_, i) => 1_700_000_000_000_000n + BigInt(i) * 1_000_003n);
    const batch = new arrow.Table({
      id: arrow.makeVector(ids),
      small: arrow.makeVector(small),
      u8: arrow.makeVector(bytes),
      ts: arrow.makeVector(arrow.makeData({ type: new arrow.TimestampMicrosecond(), length: n, data: times })),
      label: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `l${i % 4}`), new arrow.Utf8()),
      score: arrow.makeVector(Float32Array.from({ length: n }, (_, i) => i / 7)),
    }).batches[0];
    const w = new PartWriter(writerOptions(prefix));
    await w.write(batch);
    const [f] = await w.close();
    const file = sqlString(path.join(prefix, f.path));
    const enc = await duck.all(`SELECT path_in_schema AS c, encodings AS e FROM parquet_metadata(${file})`);
    const encodings = Object.fromEntries(enc.map((r) => [r.c, String(r.e)]));
    for (const c of ['id', 'small', 'u8', 'ts']) expect(encodings[c]).toContain('DELTA_BINARY_PACKED');
    expect(encodings.label).toMatch(/DICTIONARY/);
    expect(encodings.score).not.toContain('DELTA');
    const rows = await duck.all(`SELECT id::VARCHAR AS id, small, u8, epoch_us(ts)::VARCHAR AS ts FROM read_parquet(${file})`);
    expect(rows).toHaveLength(n);
    for (const i of [0, 1, 2, 3, 1234, n - 1]) {
      expect(rows[i]).toEqual({ id: String(ids[i]), small: small[i], u8: bytes[i], ts: String(times[i]) });
    }
    expect(rows.every((r, i) => r.id === String(ids[i]) && r.small === small[i] && r.u8 === bytes[i] && r.ts === String(times[i]))).toBe(true);
  });

  test('slices of wide decoded inputs pin at most the inputs of one append, however big the part', async () => {
    // What the pipeline hands the writer: the id column is a slice of a decoded input batch, whose
    // buffers are views into one allocation holding all 17 input columns.
    const n = 20_000;
    const decodedInput = (k: number) => {
      const wide: Record<string, arrow.Vector> = { id: arrow.makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(k * n + i))) };
      for (let j = 0; j < 16; j++) wide[`f${j}`] = arrow.makeVector(Float32Array.from({ length: n }, (_, i) => i + j));
      return arrow.tableFromIPC(arrow.tableToIPC(new arrow.Table(wide), 'stream')).batches[0];
    };
    const inputBytes = (decodedInput(0).getChild('id')!.data[0].values as BigInt64Array).buffer.byteLength;
    expect(inputBytes).toBeGreaterThan(n * 68); // one allocation: every column
    const w = new PartWriter(writerOptions(newPrefix(), { targetFileBytes: 1 << 30 }));
    let most = 0;
    const inputs = 40;
    for (let k = 0; k < inputs; k++) {
      const d = decodedInput(k);
      await w.write(new arrow.Table({ id: d.getChild('id')!.slice(0, n), score: arrow.makeVector(new Float32Array(n).fill(0.5)) }).batches[0]);
      most = Math.max(most, w.retainedBytes);
    }
    const perAppend = Math.ceil(APPEND_BYTES / (n * 12)) + 1; // input batches one append can span
    expect(most).toBeLessThanOrEqual(perAppend * (inputBytes + n * 4));
    expect(inputs * inputBytes).toBeGreaterThan(4 * most); // far less than the part's inputs
    const [f] = await w.close();
    expect(f.rowCount).toBe(inputs * n);
  });

  test('logicalBytes counts a slice as a slice: strings, lists and fixed-width columns', () => {
    const n = 10_000;
    const b = new arrow.Table({
      s: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `id-${String(i).padStart(8, '0')}`), new arrow.Utf8()), // 11 bytes
      l: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => [i, i + 1]), new arrow.List(new arrow.Field('item', new arrow.Float32(), true))),
      f: arrow.makeVector(new Float64Array(n)),
    }).batches[0];
    const whole = logicalBytes(b);
    expect(whole).toBe(n * 11 + (n + 1) * 4 + ((n + 1) * 4 + 2 * n * 4) + n * 8);
    const piece = b.slice(100, 110);
    expect(logicalBytes(piece)).toBe(10 * 11 + 11 * 4 + (11 * 4 + 2 * 10 * 4) + 10 * 8);
    expect(piece.data.byteLength).toBeGreaterThan(100 * logicalBytes(piece)); // what arrow-js reports
  });

  test('thousands of small string slices: one part near the target, not one per slice', async () => {
    const n = 65_536;
    const src = new arrow.Table({
      id: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `customer-${String(i).padStart(8, '0')}`), new arrow.Utf8()),
      score: arrow.makeVector(new Float32Array(n).fill(0.25)),
    }).batches[0];
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix, { targetFileBytes: 64 << 20 }));
    let rows = 0;
    for (let start = 0; start < n; start += 10) {
      const piece = src.slice(start, Math.min(n, start + 9)); // every 10th row left out, as bad rows would be
      rows += piece.numRows;
      await w.write(piece);
    }
    const files = await w.close();
    expect(files).toHaveLength(1);
    expect(files[0].rowCount).toBe(rows);
    const r = await duck.one(`SELECT count(*)::INTEGER AS n, min(id) AS lo, max(id) AS hi FROM read_parquet(${sqlString(path.join(prefix, files[0].path))})`);
    expect(r).toEqual({ n: rows, lo: 'customer-00000000', hi: 'customer-00065535' });
  });

  test('a field nullable in one batch and not in the next goes in the same part, nulls and rows intact', async () => {
    const batch = (nullable: boolean, rows: number, base: number) => new arrow.Table({
      id: arrow.makeVector(Int32Array.from({ length: rows }, (_, i) => base + i)),
      region: arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => (nullable && i === 1 ? null : 'emea')), new arrow.Utf8()),
      v: arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => [nullable && i === 2 ? null : base + i, 0.5]),
        new arrow.List(new arrow.Field('item', new arrow.Float32(), nullable))),
    }).batches[0];
    const first = batch(false, 300_000, 0); // a Spark file: containsNull=false, no nulls anywhere
    expect(first.schema.fields[2].type.children[0].nullable).toBe(false);
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix));
    await w.write(first);
    await w.write(batch(true, 5, 300_000)); // a pyarrow file: nullable, with a null region and a null item
    const files = await w.close();
    expect(files).toHaveLength(1);
    const file = sqlString(path.join(prefix, files[0].path));
    const r = await duck.one(`SELECT count(*)::INTEGER AS n, count(region)::INTEGER AS regions,
      count(*) FILTER (WHERE v[1] IS NULL)::INTEGER AS null_items, sum(v[1])::DOUBLE AS s FROM read_parquet(${file})`);
    expect(r).toEqual({ n: 300_005, regions: 300_004, null_items: 1, s: (300_005 * 300_004) / 2 - 300_002 });
  });

  test('sliced batches with nulls and strings are written exactly (bitmap offsets survive)', async () => {
    const prefix = newPrefix();
    const src = outputBatch(0, 3000);
    const w = new PartWriter(writerOptions(prefix));
    await w.write(src.slice(7, 1500));
    await w.write(src.slice(1501, 3000));
    const [f] = await w.close();
    const rows = await duck.all(`SELECT id::INTEGER AS id, region, score FROM read_parquet(${sqlString(path.join(prefix, f.path))})`);
    const expected = [...Array.from({ length: 1493 }, (_, i) => i + 7), ...Array.from({ length: 1499 }, (_, i) => i + 1501)]
      .map((r) => ({ id: r, region: src.get(r)!.region, score: src.get(r)!.score }));
    expect(rows).toEqual(expected);
  });

  test('part sizing: near the target once the ratio is learned; tiny target -> several, large -> one', async () => {
    const target = 128 * 1024;
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix, { targetFileBytes: target, compression: 'snappy' }));
    await writeAll(w, 150, 1000, 3);
    const files = await w.close();
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files.length).toBeLessThan(30); // never one part per batch
    for (const f of files.slice(1, -1)) {
      expect(f.bytes).toBeGreaterThan(target * 0.6);
      expect(f.bytes).toBeLessThan(target * 1.5);
    }
    const codecs = await duck.all(`SELECT DISTINCT compression FROM parquet_metadata(${sqlString(path.join(prefix, files[0].path))})`);
    expect(codecs.map((c) => c.compression)).toEqual(['SNAPPY']);

    const tiny = new PartWriter(writerOptions(newPrefix(), { targetFileBytes: 20_000 }));
    await writeAll(tiny, 10, 1000);
    const several = await tiny.close();
    expect(several.length).toBeGreaterThanOrEqual(3);
    expect(several.reduce((a, f) => a + f.rowCount, 0)).toBe(10_000);

    const large = new PartWriter(writerOptions(newPrefix(), { targetFileBytes: 256 << 20 }));
    await writeAll(large, 10, 1000);
    const one = await large.close();
    expect(one).toHaveLength(1);
    expect(one[0].rowCount).toBe(10_000);
  });

  test('big parts go through storage.upload', async () => {
    const prefix = newPrefix();
    storage.resetCounters();
    const w = new PartWriter(writerOptions(prefix, { uploadThresholdBytes: 10_000, uploadPartBytes: 8192 }));
    await writeAll(w, 3, 2000);
    const [f] = await w.close();
    expect(storage.writes).toEqual([{ uri: path.join(prefix, f.path), bytes: f.bytes, via: 'upload' }]);
    expect(sha256Hex(await fs.readFile(path.join(prefix, f.path)))).toBe(f.sha256);
  });

  test('backpressure: write() waits while the previous part is still being written', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow = new LocalTestStorage();
    let started = 0;
    const realWrite = slow.write.bind(slow);
    slow.write = async (uri, data, o) => {
      started++;
      await gate;
      return realWrite(uri, data, o);
    };
    const w = new PartWriter({ ...writerOptions(newPrefix(), { targetFileBytes: 1 }), storage: slow });
    await w.write(outputBatch(0, 100)); // part 0 cut; nothing was in flight, accepted at once
    let accepted = false;
    const second = w.write(outputBatch(100, 100)).then(() => { accepted = true; }); // part 1 waits for part 0
    await until('part 0 to reach the store', () => started === 1); // encoding it takes a while under load
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(1);
    expect(accepted).toBe(false); // and it stays held until part 0 is stored
    release();
    await second;
    expect(accepted).toBe(true);
    const files = await w.close();
    expect(files.map((f) => f.rowCount)).toEqual([100, 100]);
  });

  test('a change of schema starts a new part; nullability differences do not', async () => {
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix));
    await w.write(arrow.tableFromArrays({ id: new Int32Array([1, 2]), x: new Float32Array([1, 2]) }).batches[0]);
    await w.write(new arrow.Table({ id: arrow.vectorFromArray([3, null], new arrow.Int32()), x: arrow.makeVector(new Float32Array([3, 4])) }).batches[0]);
    await w.write(arrow.tableFromArrays({ id: ['a', 'b'], x: new Float32Array([5, 6]) }).batches[0]);
    const files = await w.close();
    expect(files.map((f) => f.rowCount)).toEqual([4, 2]);
    const ids = await duck.all(`SELECT id FROM read_parquet(${sqlString(path.join(prefix, files[0].path))})`);
    expect(ids.map((r) => r.id)).toEqual([1, 2, 3, null]);
  });

  test('a failing store fails write() or close() with its error', async () => {
    const broken = new LocalTestStorage();
    broken.write = async () => {
      throw new Error('disk on fire');
    };
    const w = new PartWriter({ ...writerOptions(newPrefix(), { targetFileBytes: 1 }), storage: broken });
    const e = await (async () => {
      for (let i = 0; i < 5; i++) await w.write(outputBatch(i * 10, 10));
      await w.close();
    })().then(() => undefined, (err: unknown) => err);
    expect(String(e)).toContain('disk on fire');
    await w.abort();
  });

  test('a part is encoded as its rows arrive: memory here stays a few MiB however big the part', async () => {
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix, { targetFileBytes: 1 << 30 }));
    const rows = 20_000;
    let most = 0;
    for (let i = 0; i < 60; i++) {
      const ids = BigInt64Array.from({ length: rows }, (_, k) => BigInt(i * rows + k));
      await w.write(new arrow.Table({ id: arrow.makeVector(ids), score: arrow.makeVector(new Float32Array(rows).fill(i)) }).batches[0]);
      most = Math.max(most, w.retainedBytes);
    }
    const batchBytes = rows * 12;
    expect(60 * batchBytes).toBeGreaterThan(6 * APPEND_BYTES); // the part is far bigger than what is held
    expect(most).toBeLessThan(APPEND_BYTES + 2 * batchBytes);
    const [f, ...more] = await w.close();
    expect(more).toHaveLength(0);
    const r = await duck.one(`SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids, sum(score)::DOUBLE AS s
      FROM read_parquet(${sqlString(path.join(prefix, f.path))})`);
    expect(r).toEqual({ n: 60 * rows, ids: 60 * rows, s: rows * (59 * 60) / 2 });
  });

  test('an encoder that dies mid-part fails the writer naming the part, and writes nothing', async () => {
    const thread = new ParquetThread();
    const prefix = newPrefix();
    const w = new PartWriter({ ...writerOptions(prefix, { targetFileBytes: 1 << 30 }), thread });
    await w.write(outputBatch(0, 2000));
    await thread.terminate();
    const e = await (async () => {
      for (let i = 1; i < 200; i++) await w.write(outputBatch(i * 2000, 2000));
      await w.close();
    })().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(new RegExp(`^encoding ${prefix}/part-00000-w0abc\\.parquet \\(\\d+ rows so far\\) as Parquet failed: the Parquet thread was stopped`));
    await w.abort();
    expect(await fs.readdir(prefix).catch(() => [])).toEqual([]);
  });

  test('the encoder refuses to finish a part it could not write whole: rows lost, or never finished', async () => {
    // parquet-wasm's stream writer ignores write errors; the thread checks the footer and the clock.
    const thread = new ParquetThread();
    try {
      const ints = (type: 'i32' | 'i64', rows: number) => arrow.tableToIPC(new arrow.Table({
        x: type === 'i32' ? arrow.makeVector(new Int32Array(rows).fill(7)) : arrow.makeVector(new BigInt64Array(rows).fill(7n)),
      }), 'stream');
      const lost = await thread.openPart({ compression: 'zstd', keyValueMetadata: {}, closeTimeoutMs: 5_000 });
      await thread.appendPart(lost, ints('i32', 1000));
      await thread.appendPart(lost, ints('i64', 500)); // another schema: the writer drops it silently
      await expect(thread.closePart(lost)).rejects.toThrow(/the Parquet encoder (wrote 1000 rows of the 1500 it was given|did not finish the part within 5000 ms)/);

      const list = (nullable: boolean, rows: number) => arrow.tableToIPC(new arrow.Table({
        v: arrow.vectorFromArray(Array.from({ length: rows }, () => [1, 2]), new arrow.List(new arrow.Field('item', new arrow.Float32(), nullable))),
      }), 'stream');
      const stuck = await thread.openPart({ compression: 'zstd', keyValueMetadata: {}, closeTimeoutMs: 2_000 });
      await thread.appendPart(stuck, list(false, 200_000));
      await thread.appendPart(stuck, list(true, 5));
      await expect(thread.closePart(stuck)).rejects.toThrow(/the Parquet encoder (wrote \d+ rows of the 200005 it was given|did not finish the part within 2000 ms)/);
    } finally {
      await thread.terminate();
    }
  });

  test('close() with nothing written writes nothing', async () => {
    const prefix = newPrefix();
    const w = new PartWriter(writerOptions(prefix));
    expect(await w.close()).toEqual([]);
    expect(await storage.exists(prefix)).toBe(false);
  });
});

describe('ErrorsWriter', () => {
  test('id, reason and shard of each failed row', async () => {
    const prefix = newPrefix();
    const w = new ErrorsWriter({ ...writerOptions(prefix), idColumn: 'customer_id' });
    const ids = arrow.vectorFromArray(['c0', 'c1', 'c2', 'c3', 'c4'], new arrow.Utf8());
    await w.add(ids, [1, 3], 'input column f2 is null');
    await w.add(ids, new Uint32Array([4]), ['input column f0 is NaN']);
    await w.add(ids, [], 'nothing');
    expect(w.rows).toBe(3);
    const files = await w.close();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ path: attemptErrorsName(0, 'w0abc'), kind: 'errors', rowCount: 3 });
    const file = path.join(prefix, files[0].path);
    expect(sha256Hex(await fs.readFile(file))).toBe(files[0].sha256);
    const rows = await duck.all(`SELECT * FROM read_parquet(${sqlString(file)})`);
    expect(rows).toEqual([
      { customer_id: 'c1', reason: 'input column f2 is null', shard: 7 },
      { customer_id: 'c3', reason: 'input column f2 is null', shard: 7 },
      { customer_id: 'c4', reason: 'input column f0 is NaN', shard: 7 },
    ]);
    const kv = await duck.all(`SELECT decode(key) AS k FROM parquet_kv_metadata(${sqlString(file)})`);
    expect(kv.map((r) => r.k)).toEqual(expect.arrayContaining(['bij.run_id', 'bij.shard', 'bij.attempt']));
  });

  test('Int64 ids keep their type', async () => {
    const prefix = newPrefix();
    const w = new ErrorsWriter({ ...writerOptions(prefix), idColumn: 'id' });
    await w.add(arrow.makeVector(new BigInt64Array([10n, 20n, 9007199254740993n])), [0, 2], ['a', 'b']);
    const [f] = await w.close();
    const rows = await duck.all(`SELECT id::VARCHAR AS id, typeof(id) AS t, reason FROM read_parquet(${sqlString(path.join(prefix, f.path))})`);
    expect(rows).toEqual([{ id: '10', t: 'BIGINT', reason: 'a' }, { id: '9007199254740993', t: 'BIGINT', reason: 'b' }]);
  });
});

test('encodeParquet (synchronous) writes what DuckDB reads', async () => {
  const file = path.join(dir, 'encoded.parquet');
  const bytes = encodeParquet(new arrow.Table([outputBatch(0, 500), outputBatch(500, 500)]), { compression: 'gzip', rowGroupRows: 300 });
  await fs.writeFile(file, bytes);
  const groups = await duck.all(`SELECT DISTINCT row_group_id, row_group_num_rows::INTEGER AS n, compression
    FROM parquet_metadata(${sqlString(file)}) ORDER BY row_group_id`);
  expect(groups.map((g) => g.n)).toEqual([300, 300, 300, 100]);
  expect(new Set(groups.map((g) => g.compression))).toEqual(new Set(['GZIP']));
  expect(await duck.one(`SELECT count(*)::INTEGER AS n, sum(id)::BIGINT AS s FROM read_parquet(${sqlString(file)})`))
    .toEqual({ n: 1000, s: 499500n });
});
