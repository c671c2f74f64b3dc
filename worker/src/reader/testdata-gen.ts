/**
 * Test support: Parquet fixtures written by DuckDB (an engine other than parquet-wasm) into a temp
 * directory at test time, and DuckDB as the independent reference for what the files hold.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duck, sqlString } from '../../../core/testing/duck.js';

export { Duck, sqlString };
import type { PlannedFile, ShardRange } from '../../../core/src/contract/index.js';
import * as arrow from 'apache-arrow';
import { readFooter, type ParquetFooter } from '../../../core/src/parquet/footer.js';
import { ParquetThread } from '../../../core/src/parquet/parquet-thread.js';
import { readShardRanges } from './shard-reader.js';
import { encodeParquet } from '../writer/encode.js';
import type { Storage } from '../../../core/src/storage/types.js';
import { footerLength, parquetTail } from '../../../core/src/parquet/footer-fix.js';
import { T, fieldOf, readStruct, setField, writeStruct, type TList, type TStruct } from '../../../core/src/parquet/thrift.js';


export async function makeTempDir(prefix = 'bij-pq-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A table with every column kind the worker cares about; all values exact in binary floating point so
 * sums compare exactly. Row i:
 *   id 'id-<i>', i8 (i % 100) - 50, i16 i % 30000, i32 i * 3, i64 i * 1e9, f32 (i % 1000) / 8, f64 i / 4,
 *   nd i / 2 or NULL when i % 7 = 0, arr FLOAT[4] [i, i + 0.5, -i, 1.25], lst FLOAT[] of i % 4 values
 *   (i, i+1, ...) or NULL when i % 11 = 0, cat 'c<i % 5>' (dictionary), code (i % 6) INTEGER
 *   (dictionary), ts TIMESTAMP 2024-01-01 + i seconds.
 */
export function typesQuery(rows: number): string {
  return `SELECT
    'id-' || i AS id,
    ((i % 100) - 50)::TINYINT AS i8,
    (i % 30000)::SMALLINT AS i16,
    (i * 3)::INTEGER AS i32,
    (i * 1000000000)::BIGINT AS i64,
    ((i % 1000) / 8)::FLOAT AS f32,
    (i / 4)::DOUBLE AS f64,
    CASE WHEN i % 7 = 0 THEN NULL ELSE i / 2 END::DOUBLE AS nd,
    [i::FLOAT, i + 0.5, -i, 1.25]::FLOAT[4] AS arr,
    CASE WHEN i % 11 = 0 THEN NULL ELSE list_transform(range(i % 4), k -> (i + k)::FLOAT) END AS lst,
    'c' || (i % 5) AS cat,
    (i % 6)::INTEGER AS code,
    TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i) AS ts
  FROM range(0, ${rows}) t(i)`;
}

export async function copyToParquet(duck: Duck, query: string, file: string, options: string): Promise<void> {
  await duck.run(`COPY (${query}) TO ${sqlString(file)} (FORMAT parquet, ${options})`);
}

/** Copies `src` to `dst` with the page data of one column chunk (row group, column) overwritten by
 * garbage: the footer stays valid, decoding that chunk fails (or panics the decoder). */
export async function corruptColumnChunk(duck: Duck, src: string, dst: string, rowGroup: number, column: string): Promise<void> {
  const bytes = new Uint8Array(await fs.readFile(src));
  const [chunk] = await duck.all(`SELECT data_page_offset::BIGINT AS start, total_compressed_size::BIGINT AS len
    FROM parquet_metadata(${sqlString(src)}) WHERE row_group_id = ${rowGroup} AND path_in_schema = ${sqlString(column)}`);
  const start = Number(chunk.start);
  for (let i = start + 2; i < start + Number(chunk.len); i++) bytes[i] = (i * 7) & 255;
  await fs.writeFile(dst, bytes);
}

/** A PlannedFile from a footer, as the planner would record it. */
export function plannedFile(f: ParquetFooter): PlannedFile {
  return { uri: f.uri, size: f.size, ...(f.etag ? { etag: f.etag } : {}), rows: f.rows, rowGroupRows: f.rowGroupRows };
}

/** One range covering row groups [start, end) of plan file `file`. */
export function rangeOf(files: PlannedFile[], file: number, start = 0, end = files[file].rowGroupRows.length): ShardRange {
  const rows = files[file].rowGroupRows.slice(start, end).reduce((a, b) => a + b, 0);
  return { file, rowGroupStart: start, rowGroupEnd: end, rows };
}

/** A Parquet file's footer (FileMetaData, compact Thrift), parsed, and where it starts. */
export function parseFooter(bytes: Uint8Array): { fmd: TStruct; start: number } {
  const len = footerLength(bytes.subarray(bytes.length - 8), bytes.length);
  if (len === undefined) throw new Error('not a Parquet file');
  const start = bytes.length - 8 - len;
  return { fmd: readStruct(bytes.subarray(start, bytes.length - 8)).struct, start };
}

/** Copies `src` to `dst` with its footer changed by `patch` (the data pages stay where they are). */
export async function rewriteFooter(src: string, dst: string, patch: (fmd: TStruct) => void): Promise<void> {
  const bytes = new Uint8Array(await fs.readFile(src));
  const { fmd, start } = parseFooter(bytes);
  patch(fmd);
  const tail = parquetTail(writeStruct(fmd));
  const out = new Uint8Array(start + tail.length);
  out.set(bytes.subarray(0, start));
  out.set(tail, start);
  await fs.writeFile(dst, out);
}

const items = (s: TStruct, id: number): TStruct[] => ((fieldOf(s, id)?.value as TList | undefined)?.items ?? []) as TStruct[];

/** The row groups of a footer (RowGroup structs: 1 columns, 3 num_rows). */
export const rowGroupsOf = (fmd: TStruct): TStruct[] => items(fmd, 4);

/** The ColumnMetaData of every column chunk, row group by row group (9 data_page_offset,
 * 11 dictionary_page_offset), with its path in the schema. */
export function columnMetasOf(fmd: TStruct): { rowGroup: number; path: string; meta: TStruct }[] {
  return rowGroupsOf(fmd).flatMap((rg, rowGroup) => items(rg, 1).map((cc) => {
    const meta = fieldOf(cc, 3)!.value as TStruct;
    const path = ((fieldOf(meta, 3)!.value as TList).items as Uint8Array[]).map((b) => new TextDecoder().decode(b)).join('.');
    return { rowGroup, path, meta };
  }));
}

/** Footers as other writers leave them (see footer-fix.ts): applied to a valid file's footer. */
export const FOOTER_QUIRKS: Record<string, (fmd: TStruct) => void> = {
  /** dictionary_page_offset 0 on every chunk without a dictionary page. */
  'dictionary_page_offset 0, no dictionary page': (fmd) => {
    for (const { meta } of columnMetasOf(fmd)) if (!fieldOf(meta, 11)) setField(meta, 11, T.I64, 0n);
  },
  /** parquet-mr's (0, dictionary page offset) for (dictionary_page_offset, data_page_offset). */
  'dictionary_page_offset 0, dictionary page at data_page_offset': (fmd) => {
    for (const { meta } of columnMetasOf(fmd)) {
      const dict = fieldOf(meta, 11);
      if (!dict || dict.value === 0n) continue;
      fieldOf(meta, 9)!.value = dict.value;
      dict.value = 0n;
    }
  },
  /** The file's num_rows 0, its row groups' counts right. */
  'num_rows 0': (fmd) => {
    fieldOf(fmd, 3)!.value = 0n;
  },
};

/** Applies FOOTER_QUIRKS (all of them, or the one named) to a copy of a file. */
export async function withFooterQuirks(src: string, dst: string, only?: string): Promise<void> {
  await rewriteFooter(src, dst, (fmd) => {
    for (const [name, patch] of Object.entries(FOOTER_QUIRKS)) if (only === undefined || only === name) patch(fmd);
  });
}

/** Writes the rows of `src` again with parquet-wasm (the worker's own part writer), dictionaries on
 * `dictionaryColumns` only: the same data from another writer. (No rows: parquet-wasm's one-shot
 * writer, as its stream writer cannot write a file without rows.) */
export async function rewriteWithParquetWasm(storage: Storage, src: string, dst: string,
  o: { rowGroupRows: number; dictionaryColumns: string[] }): Promise<void> {
  const footer = await readFooter(storage, src);
  if (footer.rows === 0) {
    const schema = new arrow.Schema(footer.columns.map((c) => new arrow.Field(c.name, c.arrowType, c.nullable)));
    await fs.writeFile(dst, encodeParquet(new arrow.Table(schema), { compression: 'snappy' }));
    return;
  }
  const files = [plannedFile(footer)];
  const thread = new ParquetThread();
  try {
    const part = await thread.openPart({ compression: 'snappy', keyValueMetadata: {}, maxRowGroupRows: o.rowGroupRows, dictionaryColumns: o.dictionaryColumns });
    const columns = footer.columns.map((c) => c.name);
    for await (const b of readShardRanges(storage, { files, ranges: [rangeOf(files, 0)] }, { columns, batchSize: o.rowGroupRows })) {
      await thread.appendPart(part, arrow.tableToIPC(new arrow.Table([b]), 'stream'));
    }
    await fs.writeFile(dst, await thread.closePart(part));
  } finally {
    await thread.terminate();
  }
}
