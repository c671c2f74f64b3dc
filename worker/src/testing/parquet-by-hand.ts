/**
 * Test support: a Parquet file written byte by byte, for what neither DuckDB nor parquet-wasm writes:
 * DECIMAL columns stored as BYTE_ARRAY (each value's unscaled integer in big-endian two's complement,
 * as few bytes as it needs; parquet-mr and Impala write these). One row group, one PLAIN data page per
 * column, no compression, an INT64 id column and the decimal columns, nulls allowed. The footer is
 * Thrift compact protocol, encoded here. DuckDB reads the result back in the tests, so the bytes are
 * checked by a reader that is not the worker's.
 */

/** Thrift compact protocol: just the field types the Parquet footer needs. */
const T = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

class Compact {
  private readonly out: number[] = [];
  private last: number[] = [0];

  private varint(v: bigint): void {
    let x = v;
    while (x >= 0x80n) {
      this.out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.out.push(Number(x));
  }

  private zigzag(v: number | bigint): void {
    const b = BigInt(v);
    this.varint(b >= 0n ? b << 1n : ((-b) << 1n) - 1n);
  }

  private header(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta < 1 || delta > 15) throw new Error(`field ${id}: fields must ascend by at most 15`);
    this.out.push((delta << 4) | type);
    this.last[this.last.length - 1] = id;
  }

  i32(id: number, v: number): this {
    this.header(id, T.I32);
    this.zigzag(v);
    return this;
  }

  i64(id: number, v: number | bigint): this {
    this.header(id, T.I64);
    this.zigzag(v);
    return this;
  }

  string(id: number, s: string): this {
    this.header(id, T.BINARY);
    const bytes = new TextEncoder().encode(s);
    this.varint(BigInt(bytes.length));
    this.out.push(...bytes);
    return this;
  }

  struct(id: number, body: (c: Compact) => void): this {
    this.header(id, T.STRUCT);
    this.inStruct(body);
    return this;
  }

  private inStruct(body: (c: Compact) => void): void {
    this.last.push(0);
    body(this);
    this.out.push(0); // stop
    this.last.pop();
  }

  private listHeader(id: number, n: number, elem: number): void {
    this.header(id, T.LIST);
    if (n < 15) this.out.push((n << 4) | elem);
    else {
      this.out.push(0xf0 | elem);
      this.varint(BigInt(n));
    }
  }

  structs<V>(id: number, items: readonly V[], body: (c: Compact, item: V) => void): this {
    this.listHeader(id, items.length, T.STRUCT);
    for (const item of items) this.inStruct((c) => body(c, item));
    return this;
  }

  i32s(id: number, items: readonly number[]): this {
    this.listHeader(id, items.length, T.I32);
    for (const v of items) this.zigzag(v);
    return this;
  }

  strings(id: number, items: readonly string[]): this {
    this.listHeader(id, items.length, T.BINARY);
    for (const s of items) {
      const bytes = new TextEncoder().encode(s);
      this.varint(BigInt(bytes.length));
      this.out.push(...bytes);
    }
    return this;
  }

  /** The encoded struct, with its stop byte. */
  bytes(): Uint8Array {
    return Uint8Array.from([...this.out, 0]);
  }
}

/** Parquet enums used here. */
const TYPE = { INT64: 2, BYTE_ARRAY: 6 };
const REPETITION = { REQUIRED: 0, OPTIONAL: 1 };
const CONVERTED_DECIMAL = 5;
const ENCODING = { PLAIN: 0, RLE: 3 };

/** The unscaled value as big-endian two's complement, in as few bytes as it needs. */
export function bigEndianTwosComplement(v: bigint): Uint8Array {
  let n = 1;
  while (v < -(1n << BigInt(8 * n - 1)) || v >= 1n << BigInt(8 * n - 1)) n++;
  const out = new Uint8Array(n);
  let x = BigInt.asUintN(8 * n, v);
  for (let i = n - 1; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

export interface ByteArrayDecimalColumn {
  name: string;
  precision: number;
  scale: number;
  /** Unscaled values (value = unscaled / 10^scale); null for a null. */
  values: readonly (bigint | null)[];
}

/** A Parquet file: `id` (INT64, required, the given ids) and DECIMAL columns stored as BYTE_ARRAY. */
export function byteArrayDecimalParquet(ids: readonly bigint[], columns: readonly ByteArrayDecimalColumn[]): Uint8Array {
  const rows = ids.length;
  const file: number[] = [...new TextEncoder().encode('PAR1')];
  const chunks: { offset: number; size: number; type: number; path: string; values: number }[] = [];
  const page = (type: number, path: string, data: number[]) => {
    const header = new Compact()
      .i32(1, 0) // DATA_PAGE
      .i32(2, data.length)
      .i32(3, data.length)
      .struct(5, (h) => h.i32(1, rows).i32(2, ENCODING.PLAIN).i32(3, ENCODING.RLE).i32(4, ENCODING.RLE))
      .bytes();
    chunks.push({ offset: file.length, size: header.length + data.length, type, path, values: rows });
    file.push(...header, ...data);
  };
  // id: required INT64, PLAIN (8 bytes little-endian each), no levels.
  page(TYPE.INT64, 'id', ids.flatMap((v) => Array.from(new Uint8Array(BigInt64Array.of(v).buffer))));
  for (const c of columns) {
    if (c.values.length !== rows) throw new Error(`column ${c.name}: ${c.values.length} values for ${rows} rows`);
    // Definition levels (bit width 1), RLE runs of equal levels, behind their 4-byte length.
    const levels: number[] = [];
    for (let i = 0; i < rows;) {
      const level = c.values[i] === null ? 0 : 1;
      let j = i;
      while (j < rows && (c.values[j] === null ? 0 : 1) === level) j++;
      let run = BigInt(j - i) << 1n;
      while (run >= 0x80n) {
        levels.push(Number(run & 0x7fn) | 0x80);
        run >>= 7n;
      }
      levels.push(Number(run), level);
      i = j;
    }
    const values = c.values.flatMap((v) => {
      if (v === null) return [];
      const b = bigEndianTwosComplement(v);
      return [...le32(b.length), ...b];
    });
    page(TYPE.BYTE_ARRAY, c.name, [...le32(levels.length), ...levels, ...values]);
  }
  type Element = { kind: 'root' } | { kind: 'id' } | ({ kind: 'decimal' } & ByteArrayDecimalColumn);
  const schema: Element[] = [{ kind: 'root' }, { kind: 'id' }, ...columns.map((c) => ({ kind: 'decimal' as const, ...c }))];
  const footer = new Compact()
    .i32(1, 1)
    .structs(2, schema, (s, e) => {
      if (e.kind === 'root') s.string(4, 'schema').i32(5, 1 + columns.length);
      else if (e.kind === 'id') s.i32(1, TYPE.INT64).i32(3, REPETITION.REQUIRED).string(4, 'id');
      else {
        s.i32(1, TYPE.BYTE_ARRAY).i32(3, REPETITION.OPTIONAL).string(4, e.name)
          .i32(6, CONVERTED_DECIMAL).i32(7, e.scale).i32(8, e.precision)
          .struct(10, (l) => l.struct(5, (d) => d.i32(1, e.scale).i32(2, e.precision)));
      }
    })
    .i64(3, rows)
    .structs(4, [rows], (g) => g
      .structs(1, chunks, (cc, ch) => cc.i64(2, ch.offset).struct(3, (m) => m
        .i32(1, ch.type).i32s(2, [ENCODING.PLAIN, ENCODING.RLE]).strings(3, [ch.path]).i32(4, 0)
        .i64(5, ch.values).i64(6, ch.size).i64(7, ch.size).i64(9, ch.offset)))
      .i64(2, chunks.reduce((n, ch) => n + ch.size, 0))
      .i64(3, rows))
    .string(6, 'bij test writer (parquet-by-hand.ts)')
    .bytes();
  file.push(...footer, ...le32(footer.length), ...new TextEncoder().encode('PAR1'));
  return Uint8Array.from(file);
}
