/**
 * Parquet footers as some writers leave them, mended before parquet-wasm reads them. Pure.
 *
 * - `dictionary_page_offset: 0` in a column chunk: parquet-mr and others write 0 for "no dictionary
 *   page" (and some write it while the dictionary page sits at data_page_offset). Offset 0 is the
 *   file's magic, never a page, and Arrow C++ and parquet-mr ignore it; arrow-rs (parquet-wasm) takes
 *   it literally, reads the column chunk from byte 0 and fails on the magic. Mended: the field is
 *   dropped, so the chunk is read from data_page_offset, where its first page (a dictionary page or a
 *   data page) is.
 * - `num_rows: 0` in FileMetaData over row groups that hold rows: older writers counted rows in the
 *   row groups only. Those counts are the truth (DuckDB and others go by them); parquet-wasm, though,
 *   stops after the file's num_rows and would yield no rows. Mended: num_rows becomes their sum. Any
 *   other disagreement between the two is not mended: the reader refuses it as corrupt (footer.ts).
 *
 * A footer that is not a Parquet footer at all is left alone: parquet-wasm then says what is wrong
 * with it, as it would have without this step.
 */
import { T, ThriftCursor, ThriftError, fieldOf, readStruct, removeField, writeStruct, type TList, type TStruct } from './thrift.js';

/** Field ids of parquet.thrift used here. */
const FILE_NUM_ROWS = 3;
const FILE_ROW_GROUPS = 4;
const ROW_GROUP_COLUMNS = 1;
const ROW_GROUP_NUM_ROWS = 3;
const COLUMN_CHUNK_META = 3;
const META_DICTIONARY_PAGE_OFFSET = 11;

export const PARQUET_MAGIC = 'PAR1';

const structs = (s: TStruct | undefined, id: number): TStruct[] => {
  const f = s && fieldOf(s, id);
  if (!f || f.type !== T.LIST) return [];
  return (f.value as TList).items.filter((v): v is TStruct => typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'struct');
};

interface FooterFacts {
  numRows?: bigint;
  /** The sum of the row groups' num_rows; undefined if one lacks it or is negative. */
  groupRows?: bigint;
  zeroDictionary: number;
}

/** What the footer says that matters here, read without building it (footers can be megabytes). */
function scan(footer: Uint8Array): FooterFacts {
  const c = new ThriftCursor(footer);
  const facts: FooterFacts = { groupRows: 0n, zeroDictionary: 0 };
  const columnMeta = (id: number, type: number): boolean => {
    if (id !== META_DICTIONARY_PAGE_OFFSET || type !== T.I64) return false;
    if (c.i64() === 0n) facts.zeroDictionary++;
    return true;
  };
  const columnChunk = (id: number, type: number): boolean => {
    if (id !== COLUMN_CHUNK_META || type !== T.STRUCT) return false;
    c.fields(columnMeta, 3);
    return true;
  };
  let counted = false; // the row group being walked has a num_rows
  const rowGroup = (id: number, type: number): boolean => {
    if (id === ROW_GROUP_NUM_ROWS && type === T.I64) {
      const n = c.i64();
      counted = true;
      if (facts.groupRows !== undefined) facts.groupRows = n >= 0n ? facts.groupRows + n : undefined;
      return true;
    }
    if (id !== ROW_GROUP_COLUMNS || type !== T.LIST) return false;
    c.list((t) => t === T.STRUCT && (c.fields(columnChunk, 2), true), 1);
    return true;
  };
  c.fields((id, type) => {
    if (id === FILE_NUM_ROWS && type === T.I64) {
      facts.numRows = c.i64();
      return true;
    }
    if (id !== FILE_ROW_GROUPS || type !== T.LIST) return false;
    c.list((t) => {
      if (t !== T.STRUCT) return false;
      counted = false;
      c.fields(rowGroup, 1);
      if (!counted) facts.groupRows = undefined;
      return true;
    });
    return true;
  });
  if (c.pos !== footer.length) throw new ThriftError(`the footer ends at byte ${c.pos} of ${footer.length}`);
  return facts;
}

/** The footer (FileMetaData bytes) to read in place of this one, or undefined when it needs no
 * mending or cannot be parsed. */
export function mendFooter(footer: Uint8Array): Uint8Array | undefined {
  let facts: FooterFacts;
  try {
    facts = scan(footer);
  } catch (e) {
    if (e instanceof ThriftError) return undefined;
    throw e;
  }
  const rows = facts.numRows === 0n && facts.groupRows !== undefined && facts.groupRows > 0n ? facts.groupRows : undefined;
  if (facts.zeroDictionary === 0 && rows === undefined) return undefined;

  const fmd = readStruct(footer).struct;
  if (rows !== undefined) fieldOf(fmd, FILE_NUM_ROWS)!.value = rows;
  for (const rg of structs(fmd, FILE_ROW_GROUPS)) {
    for (const cc of structs(rg, ROW_GROUP_COLUMNS)) {
      const meta = fieldOf(cc, COLUMN_CHUNK_META);
      if (meta?.type !== T.STRUCT) continue;
      const dict = fieldOf(meta.value as TStruct, META_DICTIONARY_PAGE_OFFSET);
      if (dict?.type === T.I64 && dict.value === 0n) removeField(meta.value as TStruct, META_DICTIONARY_PAGE_OFFSET);
    }
  }
  return writeStruct(fmd);
}

/** The last bytes of a Parquet file with this footer: footer, its length (u32 LE), magic. */
export function parquetTail(footer: Uint8Array): Uint8Array {
  const out = new Uint8Array(footer.length + 8);
  out.set(footer);
  new DataView(out.buffer).setUint32(footer.length, footer.length, true);
  out.set(new TextEncoder().encode(PARQUET_MAGIC), footer.length + 4);
  return out;
}

/** From a file's last 8 bytes: the footer's length, or undefined when they are not a Parquet ending. */
export function footerLength(last8: Uint8Array, fileSize: number): number | undefined {
  if (last8.length !== 8 || new TextDecoder().decode(last8.subarray(4)) !== PARQUET_MAGIC) return undefined;
  const len = new DataView(last8.buffer, last8.byteOffset, 8).getUint32(0, true);
  return len > 0 && len <= fileSize - 12 ? len : undefined;
}
