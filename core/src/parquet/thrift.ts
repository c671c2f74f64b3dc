/**
 * The Thrift compact protocol, generically: enough to read a Parquet footer (FileMetaData) and write
 * it back with a few fields changed, without a schema of it. A struct keeps every field it was read
 * with, known or not, in order, so writing it back loses nothing.
 */

/** Compact-protocol type codes (a struct field's header, a list's element type). */
export const T = {
  STOP: 0, TRUE: 1, FALSE: 2, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, BINARY: 8, LIST: 9, SET: 10, MAP: 11, STRUCT: 12,
} as const;

export interface TStruct { kind: 'struct'; fields: TField[] }
export interface TList { kind: 'list'; elemType: number; set: boolean; items: TValue[] }
export interface TMap { kind: 'map'; keyType: number; valueType: number; entries: [TValue, TValue][] }
/** bool (TRUE/FALSE), number (BYTE, I16, I32, DOUBLE), bigint (I64), bytes (BINARY), or a container. */
export type TValue = boolean | number | bigint | Uint8Array | TStruct | TList | TMap;
/** `type` is TRUE for a bool field whatever its value. */
export interface TField { id: number; type: number; value: TValue }

/** Deeper nesting than any Parquet footer has: a corrupt footer must not blow the stack. */
const MAX_DEPTH = 64;

export class ThriftError extends Error {
  override readonly name = 'ThriftError';
}

/**
 * Reads compact Thrift. `struct()` builds a whole struct; `fields()`, `list()` and `skip()` walk one
 * without building anything (a big footer is megabytes: walking it costs no allocation).
 */
export class ThriftCursor {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  /** Walks the fields of the struct at the cursor. `each` reads the field's value (and returns
   * true), or returns false to have it skipped. */
  fields(each: (id: number, type: number) => boolean, depth = 0): void {
    if (depth > MAX_DEPTH) throw new ThriftError(`nested deeper than ${MAX_DEPTH} at byte ${this.pos}`);
    let last = 0;
    for (;;) {
      const h = this.byte();
      const type = h & 0x0f;
      if (type === T.STOP) return;
      const id = h >> 4 === 0 ? this.int() : last + (h >> 4);
      last = id;
      if (type !== T.TRUE && type !== T.FALSE && !each(id, type)) this.skip(type, depth);
    }
  }

  /** Walks the elements of the list at the cursor, like `fields`. */
  list(each: (elemType: number, index: number) => boolean, depth = 0): void {
    const h = this.byte();
    const elemType = h & 0x0f;
    const n = h >> 4 === 15 ? this.size() : h >> 4;
    for (let i = 0; i < n; i++) if (!each(elemType, i)) this.skipElement(elemType, depth + 1);
  }

  i64(): bigint {
    return this.zigzag();
  }

  /** Skips a value of this type. */
  skip(type: number, depth = 0): void {
    if (depth > MAX_DEPTH) throw new ThriftError(`nested deeper than ${MAX_DEPTH} at byte ${this.pos}`);
    switch (type) {
      case T.TRUE:
      case T.FALSE: return;
      case T.BYTE: this.byte(); return;
      case T.I16:
      case T.I32:
      case T.I64:
        while (this.byte() & 0x80) { /* varint */ }
        return;
      case T.DOUBLE: this.advance(8); return;
      case T.BINARY: this.advance(this.size()); return;
      case T.LIST:
      case T.SET: this.list(() => false, depth); return;
      case T.MAP: {
        const n = this.size();
        const kv = n > 0 ? this.byte() : 0;
        for (let i = 0; i < n; i++) {
          this.skipElement(kv >> 4, depth + 1);
          this.skipElement(kv & 0x0f, depth + 1);
        }
        return;
      }
      case T.STRUCT: this.fields(() => false, depth + 1); return;
      default: throw new ThriftError(`unknown type ${type} at byte ${this.pos}`);
    }
  }

  private skipElement(type: number, depth: number): void {
    if (type === T.TRUE || type === T.FALSE) this.byte();
    else this.skip(type, depth);
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new ThriftError(`truncated at byte ${this.pos}`);
    this.pos += n;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new ThriftError(`truncated at byte ${this.pos}`);
    return this.buf[this.pos++];
  }

  /** An unsigned varint of up to 64 bits: a number while it is below 2^49 (the common case, cheap),
   * else a bigint. */
  uvarint(): number | bigint {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.byte();
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return n;
      mul *= 128;
    }
    let big = BigInt(n);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.byte();
      big |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return big;
    }
    throw new ThriftError(`varint too long at byte ${this.pos}`);
  }

  /** A zigzag varint as a bigint (I64 values). */
  zigzag(): bigint {
    const u = this.uvarint();
    if (typeof u === 'number') return BigInt(u % 2 === 0 ? u / 2 : -(u + 1) / 2);
    return (u >> 1n) ^ -(u & 1n);
  }

  /** A zigzag varint as a number (I16, I32, field ids). */
  int(): number {
    const u = this.uvarint();
    if (typeof u !== 'number') throw new ThriftError(`32-bit value out of range at byte ${this.pos}`);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  size(): number {
    const n = Number(this.uvarint());
    if (n > this.buf.length - this.pos && n > 0) {
      // Every element takes at least a byte (empty structs: one STOP), so more than that is corrupt.
      throw new ThriftError(`size ${n} at byte ${this.pos} exceeds the ${this.buf.length - this.pos} bytes left`);
    }
    return n;
  }

  value(type: number, depth: number): TValue {
    if (depth > MAX_DEPTH) throw new ThriftError(`nested deeper than ${MAX_DEPTH} at byte ${this.pos}`);
    switch (type) {
      case T.TRUE: return true;
      case T.FALSE: return false;
      case T.BYTE: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case T.I16:
      case T.I32: return this.int();
      case T.I64: return this.zigzag();
      case T.DOUBLE: {
        if (this.pos + 8 > this.buf.length) throw new ThriftError(`truncated double at byte ${this.pos}`);
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
        this.pos += 8;
        return v;
      }
      case T.BINARY: {
        const n = this.size();
        const v = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case T.LIST:
      case T.SET: {
        const h = this.byte();
        const elemType = h & 0x0f;
        const n = (h >> 4) === 15 ? this.size() : h >> 4;
        const items: TValue[] = [];
        for (let i = 0; i < n; i++) items.push(this.element(elemType, depth + 1));
        return { kind: 'list', elemType, set: type === T.SET, items };
      }
      case T.MAP: {
        const n = this.size();
        const kv = n > 0 ? this.byte() : 0;
        const keyType = kv >> 4;
        const valueType = kv & 0x0f;
        const entries: [TValue, TValue][] = [];
        for (let i = 0; i < n; i++) entries.push([this.element(keyType, depth + 1), this.element(valueType, depth + 1)]);
        return { kind: 'map', keyType, valueType, entries };
      }
      case T.STRUCT: return this.struct(depth + 1);
      default: throw new ThriftError(`unknown type ${type} at byte ${this.pos}`);
    }
  }

  /** In containers a bool is a byte of its own (1 true, 2 false; 0 read as false too). */
  element(type: number, depth: number): TValue {
    if (type === T.TRUE || type === T.FALSE) return this.byte() === T.TRUE;
    return this.value(type, depth);
  }

  struct(depth: number): TStruct {
    const fields: TField[] = [];
    let last = 0;
    for (;;) {
      const h = this.byte();
      const type = h & 0x0f;
      if (type === T.STOP) return { kind: 'struct', fields };
      const delta = h >> 4;
      const id = delta === 0 ? this.int() : last + delta;
      last = id;
      const value = this.value(type, depth);
      fields.push({ id, type: type === T.FALSE ? T.TRUE : type, value });
    }
  }
}

/** Reads one struct from the start of `bytes`; `end` is where it ended. */
export function readStruct(bytes: Uint8Array): { struct: TStruct; end: number } {
  const r = new ThriftCursor(bytes);
  const struct = r.struct(0);
  return { struct, end: r.pos };
}

class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  uvarint(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      this.byte(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.byte(Number(u));
  }

  zigzag(v: bigint): void {
    this.uvarint((v << 1n) ^ (v >> 63n));
  }

  value(type: number, v: TValue): void {
    switch (type) {
      case T.TRUE:
      case T.FALSE: return; // in the field header
      case T.BYTE: this.byte(v as number); return;
      case T.I16:
      case T.I32: this.zigzag(BigInt(v as number)); return;
      case T.I64: this.zigzag(BigInt(v as bigint | number)); return;
      case T.DOUBLE: {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v as number, true);
        this.bytes(b);
        return;
      }
      case T.BINARY: {
        const b = v as Uint8Array;
        this.uvarint(BigInt(b.length));
        this.bytes(b);
        return;
      }
      case T.LIST:
      case T.SET: {
        const l = v as TList;
        if (l.items.length < 15) this.byte((l.items.length << 4) | l.elemType);
        else {
          this.byte(0xf0 | l.elemType);
          this.uvarint(BigInt(l.items.length));
        }
        for (const item of l.items) this.element(l.elemType, item);
        return;
      }
      case T.MAP: {
        const m = v as TMap;
        this.uvarint(BigInt(m.entries.length));
        if (m.entries.length > 0) this.byte((m.keyType << 4) | m.valueType);
        for (const [k, x] of m.entries) {
          this.element(m.keyType, k);
          this.element(m.valueType, x);
        }
        return;
      }
      case T.STRUCT: this.struct(v as TStruct); return;
      default: throw new ThriftError(`cannot write type ${type}`);
    }
  }

  element(type: number, v: TValue): void {
    if (type === T.TRUE || type === T.FALSE) this.byte(v ? T.TRUE : T.FALSE);
    else this.value(type, v);
  }

  struct(s: TStruct): void {
    let last = 0;
    for (const f of s.fields) {
      const type = f.type === T.TRUE || f.type === T.FALSE ? (f.value ? T.TRUE : T.FALSE) : f.type;
      const delta = f.id - last;
      if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
      else {
        this.byte(type);
        this.zigzag(BigInt(f.id));
      }
      last = f.id;
      this.value(type, f.value);
    }
    this.byte(T.STOP);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function writeStruct(s: TStruct): Uint8Array {
  const w = new Writer();
  w.struct(s);
  return w.result();
}

/** Field `id` of a struct, if present. */
export const fieldOf = (s: TStruct, id: number): TField | undefined => s.fields.find((f) => f.id === id);

/** Sets field `id` (keeping fields in id order, as writers emit them). */
export function setField(s: TStruct, id: number, type: number, value: TValue): void {
  const existing = fieldOf(s, id);
  if (existing) {
    existing.type = type;
    existing.value = value;
    return;
  }
  const at = s.fields.findIndex((f) => f.id > id);
  s.fields.splice(at < 0 ? s.fields.length : at, 0, { id, type, value });
}

export function removeField(s: TStruct, id: number): boolean {
  const at = s.fields.findIndex((f) => f.id === id);
  if (at < 0) return false;
  s.fields.splice(at, 1);
  return true;
}
