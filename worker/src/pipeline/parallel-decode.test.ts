import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type * as arrow from 'apache-arrow';
import { BadInputError, type PlannedFile, type ShardRange } from '../../../core/src/contract/index.js';
import { newReadStats, readFooter, readShardRanges } from '../reader/index.js';
import { LocalTestStorage } from '../reader/test-storage.js';
import { copyToParquet, corruptColumnChunk, Duck, makeTempDir, plannedFile, rangeOf } from '../reader/testdata-gen.js';
import { defaultDecoders, defaultModelThreads, readShardParallel } from './parallel-decode.js';
import { modelPlace } from './shard-sizing.js';
import { cudaProviderLibrary } from '../session/index.js';

const storage = new LocalTestStorage();
let dir: string;
let duck: Duck;
let files: PlannedFile[];
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = await makeTempDir('bij-pardec-');
  duck = await Duck.open();
  // Row groups of different sizes in three files (DuckDB's ROW_GROUP_SIZE is a target, not exact).
  await copyToParquet(duck, `SELECT i AS id, i * 0.5 AS x FROM range(0, 3000) t(i)`, file('a.parquet'), 'ROW_GROUP_SIZE 1024');
  await copyToParquet(duck, `SELECT 10000 + i AS id, i * 0.25 AS x FROM range(0, 5000) t(i)`, file('b.parquet'), 'ROW_GROUP_SIZE 2048');
  await copyToParquet(duck, `SELECT 20000 + i AS id, -i * 1.0 AS x FROM range(0, 700) t(i)`, file('c.parquet'), 'ROW_GROUP_SIZE 2048');
  files = (await Promise.all(['a', 'b', 'c'].map((n) => readFooter(storage, file(`${n}.parquet`))))).map(plannedFile);
  expect(files.map((f) => f.rowGroupRows.length)).toEqual([2, 3, 1]);
}, 60_000);

afterAll(async () => {
  duck?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const ids = (batches: arrow.RecordBatch[]): number[] => batches.flatMap((b) => Array.from(b.getChild('id')!, Number));

async function collect(it: AsyncIterable<arrow.RecordBatch>): Promise<arrow.RecordBatch[]> {
  const out: arrow.RecordBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('readShardParallel', () => {
  test.each([2, 3, 8])('%i decoders give the same batches, in plan order, as one', async (decoders) => {
    // A shard starting mid-file and spanning all three files; batches smaller than the row groups.
    const ranges: ShardRange[] = [rangeOf(files, 0, 1), rangeOf(files, 1), rangeOf(files, 2)]; // 5 row groups
    const columns = ['id', 'x'];
    const one = await collect(readShardRanges(storage, { files, ranges }, { columns, batchSize: 500 }));
    const stats = newReadStats();
    const many = await collect(readShardParallel(storage, { files, ranges }, { columns, batchSize: 500, decoders, stats }));
    expect(many.map((b) => b.numRows)).toEqual(one.map((b) => b.numRows));
    expect(ids(many)).toEqual(ids(one));
    expect(many.flatMap((b) => Array.from(b.getChild('x')!))).toEqual(one.flatMap((b) => Array.from(b.getChild('x')!)));
    const planned = ranges.reduce((a, r) => a + r.rows, 0);
    expect(ids(many)).toHaveLength(planned);
    expect(stats.rows).toBe(planned);
        expect(stats.rowGroups).toBe(5);
    expect(stats.files).toBe(3); // each once, though several decoders opened it
    expect(stats.rangeRequests).toBeGreaterThan(0);
  });

  test('a consumer may stop early (every decoder is told to stop)', async () => {
    const ranges = [rangeOf(files, 1), rangeOf(files, 0)];
    let seen = 0;
    for await (const b of readShardParallel(storage, { files, ranges }, { columns: ['id'], batchSize: 256, decoders: 3, depth: 1 })) {
      seen += b.numRows;
      if (seen >= 1024) break;
    }
    expect(seen).toBe(1024);
  });

  test('a corrupt row group fails naming the file, row group and column, after the rows before it', async () => {
    const src = file('b.parquet');
    const uri = file('b-bad.parquet');
    await corruptColumnChunk(duck, src, uri, 1, 'x');
    const bad = plannedFile(await readFooter(storage, uri));
    let yielded = 0;
    const err = await (async () => {
      for await (const b of readShardParallel(storage, { files: [bad], ranges: [rangeOf([bad], 0)] }, { columns: ['id', 'x'], batchSize: 512, decoders: 2 })) {
        yielded += b.numRows;
      }
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain(uri);
    expect((err as Error).message).toMatch(/column "x" in row group 1\b/);
    expect(yielded).toBe(2048); // all of row group 0, nothing of 1 or 2
  });

  // A footer that under-states row group 0 (4096 rows in two row groups of 2048, uncompressed): its
  // num_rows, and the file's, rewritten in place in the compact-Thrift footer (zigzag varints).
  async function understated(rg0Rows: number): Promise<PlannedFile> {
    const src = file('two-groups.parquet');
    await copyToParquet(duck, 'SELECT i AS id FROM range(0, 4096) t(i)', src, 'ROW_GROUP_SIZE 2048, COMPRESSION uncompressed');
    const bytes = Buffer.from(await fs.readFile(src));
    const footerStart = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
    const varint = (n: number): number[] => [((2 * n) & 0x7f) | 0x80, (2 * n) >> 7]; // two bytes for these sizes
    // The nth field header 0x16 (next field, i64) followed by `from`.
    const replace = (from: number[], to: number[], nth: number) => {
      let at = footerStart - 1;
      for (let i = 0; i < nth; i++) at = bytes.indexOf(Buffer.from([0x16, ...from]), at + 1);
      expect(at).toBeGreaterThan(footerStart);
      bytes.set(to, at + 1);
    };
    replace(varint(4096), varint(rg0Rows + 2048), 1); // FileMetaData.num_rows (field 3)
    // In row group 0: its column chunk's num_values (ColumnMetaData field 5) comes first, then the
    // group's own num_rows (RowGroup field 3): the second 2048.
    replace(varint(2048), varint(rg0Rows), 2);
    const dst = file(`understated-${rg0Rows}.parquet`);
    await fs.writeFile(dst, bytes);
    const f = plannedFile(await readFooter(storage, dst));
    expect(f.rowGroupRows).toEqual([rg0Rows, 2048]);
    return f;
  }

  test.each([2000, 1536])('a row group holding more rows than its footer says (%i) is bad input, with 2 decoders as with 1', async (rows) => {
    const bad = await understated(rows);
    for (const decoders of [1, 2]) {
      const read = collect(readShardParallel(storage, { files: [bad], ranges: [rangeOf([bad], 0)] }, { columns: ['id'], batchSize: 512, decoders }));
      const err = await read.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as Error).message).toContain(bad.uri);
      expect((err as Error).message).toMatch(/row group 0 decoded to (2048 rows, but its footer says|more rows than its footer says \()/);
    }
  });

  test('decoder threads follow the CPUs: model on the CPU, half of them; on a GPU, all but two; 1 to 16', () => {
    const cpus = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64];
    expect(cpus.map((n) => defaultDecoders(n))).toEqual([1, 1, 1, 2, 3, 4, 6, 8, 16, 16]);
    expect(cpus.map((n) => defaultDecoders(n, 'cpu'))).toEqual([1, 1, 1, 2, 3, 4, 6, 8, 16, 16]);
    expect(cpus.map((n) => defaultDecoders(n, 'gpu'))).toEqual([1, 1, 1, 2, 4, 6, 10, 14, 16, 16]);
  });

  test('ONNX Runtime\'s threads take the CPUs the decoders leave when the model is on the CPU (at least one); on a GPU, the session\'s default', () => {
    const cpus = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64];
    expect(cpus.map((n) => defaultModelThreads(n, 'cpu', defaultDecoders(n, 'cpu')))).toEqual([1, 1, 2, 2, 3, 4, 6, 8, 16, 48]);
    expect(defaultModelThreads(4, 'cpu', 4)).toBe(1); // BIJ_DECODERS took every CPU
    expect(defaultModelThreads(16, 'gpu', 14)).toBeUndefined();
  });

  test('the model counts as on a GPU for cuda, and for auto only in an image with the CUDA provider', () => {
    expect(modelPlace('cuda')).toBe('gpu');
    expect(modelPlace('cpu')).toBe('cpu');
    expect(modelPlace('auto')).toBe(cudaProviderLibrary().installed ? 'gpu' : 'cpu');
  });
});
