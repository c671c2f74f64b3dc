/**
 * A minimal protobuf encoder and decoder: just what encoding ONNX models, and reading their graph's
 * inputs and outputs back (tensors/model-info.ts), needs: varints, length-delimited fields, packed
 * repeated scalars, fixed 32/64-bit values. Messages are built bottom-up: encode a child into its own
 * writer, then embed its bytes as a length-delimited field of the parent.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes that are not the protobuf message they should be. */
export class ProtoError extends Error {
  override readonly name = 'ProtoError';
}

export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** A base-128 varint. Negative numbers are written as 64-bit two's complement (10 bytes), as protobuf does
   * for int32/int64 fields. Accepts safe integers or bigints. */
  varint(value: number | bigint): this {
    let v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : null;
    if (v === null) {
      const n = value as number;
      if (!Number.isSafeInteger(n)) throw new RangeError(`varint needs a safe integer, got ${n}`);
      if (n >= 0) {
        let x = n;
        while (x >= 0x80) {
          this.byte((x % 0x80) | 0x80);
          x = Math.floor(x / 0x80);
        }
        this.byte(x);
        return this;
      }
      v = BigInt.asUintN(64, BigInt(n));
    }
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
    return this;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** int32/int64/enum/bool field (varint). */
  int(field: number, value: number | bigint | boolean): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }

  /** A float field (fixed 32-bit, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_I32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  /** A double field (fixed 64-bit, little-endian). */
  double(field: number, value: number): this {
    this.tag(field, WIRE_I64);
    this.reserve(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, value, true);
    this.len += 8;
    return this;
  }

  /** A length-delimited field: raw bytes, or an embedded message's bytes. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.raw(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message, built by `build` into a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const child = new ProtoWriter();
    build(child);
    return this.bytes(field, child.finish());
  }

  /** Packed repeated varints (int32/int64 lists). */
  packedVarints(field: number, values: ArrayLike<number | bigint>): this {
    const child = new ProtoWriter();
    for (let i = 0; i < values.length; i++) child.varint(values[i]);
    return this.bytes(field, child.finish());
  }

  /** Packed repeated floats (fixed 32-bit). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const f = Float32Array.from(values);
    return this.bytes(field, littleEndianBytes(f));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One field's key, and where its value lies in the buffer: [start, end). A varint's value is read
 * with `varintAt`, a length-delimited one is the bytes themselves. */
export interface ProtoField {
  field: number;
  wire: number;
  start: number;
  end: number;
}

/** Reads a message's fields in order from bytes in memory, [start, end) of `buf`. */
export class ProtoReader {
  pos: number;

  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a number: int64 values beyond 2^53 lose precision, negative ones come back negative. */
  varint(): number {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.end) throw new ProtoError(`truncated varint at byte ${this.pos}`);
      if (shift > 63n) throw new ProtoError(`varint longer than 10 bytes at byte ${this.pos}`);
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    return Number(BigInt.asIntN(64, v));
  }

  /** The next field's key and the span of its value, which need not lie in the buffer (a varint's
   * must). The reader stays after the key (and the length or the varint). */
  header(): ProtoField {
    const at = this.pos;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field < 1) throw new ProtoError(`field number ${field} at byte ${at}`);
    const start = this.pos;
    switch (wire) {
      case WIRE_VARINT: this.varint(); return { field, wire, start, end: this.pos };
      case WIRE_I64: return { field, wire, start, end: start + 8 };
      case WIRE_I32: return { field, wire, start, end: start + 4 };
      case WIRE_LEN: {
        const len = this.varint();
        if (len < 0) throw new ProtoError(`negative length at byte ${start}`);
        return { field, wire, start: this.pos, end: this.pos + len };
      }
      default: throw new ProtoError(`wire type ${wire} (field ${field}) at byte ${at}`);
    }
  }

  /** The next field's key and value span; the reader moves past the value. */
  next(): ProtoField {
    const f = this.header();
    if (f.end > this.end) throw new ProtoError(`field ${f.field} at byte ${f.start} runs past the end of its message (byte ${this.end})`);
    this.pos = f.end;
    return f;
  }

  /** The varint value of a field returned by next(). */
  varintAt(f: ProtoField): number {
    return new ProtoReader(this.buf, f.start, f.end).varint();
  }

  stringAt(f: ProtoField): string {
    try {
      return utf8Decoder.decode(this.buf.subarray(f.start, f.end));
    } catch (e) {
      throw new ProtoError(`field ${f.field} at byte ${f.start} is not UTF-8`, { cause: e });
    }
  }

  /** A reader over an embedded message (a length-delimited field). */
  messageAt(f: ProtoField): ProtoReader {
    return new ProtoReader(this.buf, f.start, f.end);
  }
}

/** The little-endian bytes of a typed array (a copy; byte-swapped on big-endian hosts). */
export function littleEndianBytes(a: ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number }): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  if (!IS_LITTLE_ENDIAN) {
    const w = a.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += w) bytes.subarray(i, i + w).reverse();
  }
  return bytes;
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
