/** Small fixtures for the tensor tests: Arrow tables and model metadata. */
import * as A from 'apache-arrow';
import type { ModelMeta, ValueMeta } from '../src/tensors/types.js';

export const f32List = (n?: number): A.DataType =>
  n === undefined ? new A.List(new A.Field('item', new A.Float32(), true)) : new A.FixedSizeList(n, new A.Field('item', new A.Float32(), true));

/** A table from columns given as [values, arrow type] (numbers become bigints for 64-bit ints). */
export function table(cols: Record<string, [unknown[], A.DataType]>): A.Table {
  const vectors: Record<string, A.Vector> = {};
  for (const [name, [values, type]] of Object.entries(cols)) {
    const is64 = A.DataType.isInt(type) && type.bitWidth === 64;
    const vs = is64 ? values.map((v) => (typeof v === 'number' ? BigInt(v) : v)) : values;
    vectors[name] = A.vectorFromArray(vs as never[], type);
  }
  return new A.Table(vectors);
}

export const tensor = (name: string, type: string, dims: (number | string)[]): ValueMeta => ({ name, isTensor: true, type, dims });

export const meta = (inputs: ValueMeta[], outputs: ValueMeta[] = [tensor('Y', 'float32', ['batch', 1])]): ModelMeta => ({ inputs, outputs });

/** A Decimal column from unscaled values (value = unscaled / 10^scale), as Arrow stores it: little-endian
 * two's-complement words, bitWidth / 32 of them per value. */
export function decimalVector(unscaled: readonly (bigint | null)[], precision: number, scale: number, bitWidth = 128): A.Vector {
  const words = bitWidth / 32;
  const data = new Uint32Array(unscaled.length * words);
  const nullBitmap = new Uint8Array((unscaled.length + 7) >> 3);
  unscaled.forEach((u, i) => {
    if (u === null) return;
    nullBitmap[i >> 3] |= 1 << (i & 7);
    let v = BigInt.asUintN(bitWidth, u);
    for (let k = 0; k < words; k++, v >>= 32n) data[i * words + k] = Number(v & 0xffffffffn);
  });
  const nullCount = unscaled.filter((u) => u === null).length;
  return A.makeVector(A.makeData({ type: new A.Decimal(scale, precision, bitWidth), length: unscaled.length, nullCount, nullBitmap: nullCount ? nullBitmap : undefined, data }));
}
