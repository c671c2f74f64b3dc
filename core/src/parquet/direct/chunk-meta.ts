/**
 * What the direct decoder needs from a Parquet footer: for each top-level column, how it is stored
 * (physical type, repetition, annotations), and for each row group, where each column chunk lies and
 * how it is compressed and encoded. Pure: footer bytes (FileMetaData, Thrift compact) in.
 */
import { T, fieldOf, readStruct, type TList, type TStruct, type TValue } from '../thrift.js';

/** parquet.thrift Type. */
export const PhysicalType = { BOOLEAN: 0, INT32: 1, INT64: 2, INT96: 3, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6, FIXED_LEN_BYTE_ARRAY: 7 } as const;
/** parquet.thrift CompressionCodec. */
export const Codec = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2, LZO: 3, BROTLI: 4, LZ4: 5, ZSTD: 6, LZ4_RAW: 7 } as const;
/** parquet.thrift Encoding. */
export const Encoding = {
  PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3, BIT_PACKED: 4, DELTA_BINARY_PACKED: 5, DELTA_LENGTH_BYTE_ARRAY: 6,
  DELTA_BYTE_ARRAY: 7, RLE_DICTIONARY: 8, BYTE_STREAM_SPLIT: 9,
} as const;

/** A top-level leaf column of the file's schema. */
export interface LeafColumn {
  name: string;
  /** Index among the schema's leaves: its column chunk's index in every row group. */
  leaf: number;
  physicalType: number;
  /** 0 REQUIRED, 1 OPTIONAL (a REPEATED top-level leaf is not a flat column: not listed). */
  repetition: number;
  convertedType?: number;
  /** The LogicalType union's member id (1 STRING, 10 INTEGER, ...), and INTEGER's width and sign. */
  logical?: { kind: number; bitWidth?: number; signed?: boolean };
}

export interface ChunkMeta {
  physicalType: number;
  codec: number;
  encodings: number[];
  numValues: number;
  /** Where the chunk's first page starts, and its length in bytes. */
  start: number;
  length: number;
  /** A chunk kept in another file, or encrypted: never decoded directly. */
  external: boolean;
}

export interface FileLayout {
  /** Top-level flat columns, by name. */
  columns: Map<string, LeafColumn>;
  rowGroups: { numRows: number; chunks: ChunkMeta[] }[];
}

const num = (v: TValue | undefined): number | undefined => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : undefined);
const field = (s: TStruct, id: number): TValue | undefined => fieldOf(s, id)?.value;
const structsOf = (v: TValue | undefined): TStruct[] => (v && typeof v === 'object' && 'kind' in v && v.kind === 'list'
  ? (v as TList).items.filter((x): x is TStruct => typeof x === 'object' && x !== null && 'kind' in x && x.kind === 'struct')
  : []);

function logicalOf(v: TValue | undefined): LeafColumn['logical'] {
  if (!v || typeof v !== 'object' || !('kind' in v) || v.kind !== 'struct' || v.fields.length === 0) return undefined;
  const member = v.fields[0];
  const out: NonNullable<LeafColumn['logical']> = { kind: member.id };
  const inner = member.value;
  if (member.id === 10 && inner && typeof inner === 'object' && 'kind' in inner && inner.kind === 'struct') {
    out.bitWidth = num(field(inner, 1));
    out.signed = field(inner, 2) === true;
  }
  return out;
}

/** The schema's top-level leaves; nested columns only count towards leaf indices. */
function leaves(schema: TStruct[]): Map<string, LeafColumn> {
  const columns = new Map<string, LeafColumn>();
  let leaf = 0;
  let at = 1; // schema[0] is the root
  const rootChildren = num(field(schema[0], 5)) ?? 0;
  // Counts the leaves under the element at `at` (itself included), moving past it.
  const walk = (): number => {
    const el = schema[at++];
    if (!el) throw new Error('the schema ends inside a group');
    const children = num(field(el, 5)) ?? 0;
    if (children === 0) return 1;
    let n = 0;
    for (let i = 0; i < children; i++) n += walk();
    return n;
  };
  for (let c = 0; c < rootChildren; c++) {
    const el = schema[at];
    if (!el) break;
    const children = num(field(el, 5)) ?? 0;
    const repetition = num(field(el, 3)) ?? 0;
    const physicalType = num(field(el, 1));
    const name = field(el, 4);
    if (children === 0 && repetition !== 2 && physicalType !== undefined && name instanceof Uint8Array) {
      const converted = num(field(el, 6));
      const logical = logicalOf(field(el, 10));
      columns.set(new TextDecoder().decode(name), {
        name: new TextDecoder().decode(name), leaf, physicalType, repetition,
        ...(converted !== undefined ? { convertedType: converted } : {}), ...(logical ? { logical } : {}),
      });
    }
    leaf += walk();
  }
  return columns;
}

function chunkOf(cc: TStruct): ChunkMeta {
  const md = field(cc, 3);
  const external = field(cc, 1) !== undefined || fieldOf(cc, 8) !== undefined || fieldOf(cc, 9) !== undefined;
  if (!md || typeof md !== 'object' || !('kind' in md) || md.kind !== 'struct') {
    return { physicalType: -1, codec: -1, encodings: [], numValues: 0, start: 0, length: 0, external: true };
  }
  const encodings = md.fields.find((f) => f.id === 2 && f.type === T.LIST);
  const dictionaryAt = num(field(md, 11));
  const dataAt = num(field(md, 9)) ?? 0;
  return {
    physicalType: num(field(md, 1)) ?? -1,
    codec: num(field(md, 4)) ?? -1,
    encodings: encodings ? (encodings.value as TList).items.map((x) => Number(x)) : [],
    numValues: num(field(md, 5)) ?? 0,
    start: dictionaryAt !== undefined && dictionaryAt > 0 && dictionaryAt < dataAt ? dictionaryAt : dataAt,
    length: num(field(md, 7)) ?? 0,
    external,
  };
}

/** The layout of a file from its footer (FileMetaData), as parquet-wasm was given it. */
export function fileLayout(footer: Uint8Array): FileLayout {
  const fmd = readStruct(footer).struct;
  const schema = structsOf(field(fmd, 2));
  if (schema.length === 0) throw new Error('the footer has no schema');
  return {
    columns: leaves(schema),
    rowGroups: structsOf(field(fmd, 4)).map((rg) => ({
      numRows: num(field(rg, 3)) ?? 0,
      chunks: structsOf(field(rg, 1)).map(chunkOf),
    })),
  };
}
