import * as arrow from 'apache-arrow';
import { toJson, toJsonValue } from './json.js';

describe('toJson: whatever data holds serializes', () => {
  const list = arrow.vectorFromArray([[1n, 2n ** 63n - 1n]], new arrow.List(new arrow.Field('item', new arrow.Int64())));
  const struct = arrow.vectorFromArray([{ a: 5n, b: [1.5, NaN] }], new arrow.Struct([
    new arrow.Field('a', new arrow.Int64()), new arrow.Field('b', new arrow.List(new arrow.Field('item', new arrow.Float64()))),
  ]));
  test.each([
    ['a bigint', 2n ** 64n, '"18446744073709551616"'],
    ['a negative bigint', -3n, '"-3"'],
    ['NaN and the infinities', [NaN, Infinity, -Infinity, 1.5], '["NaN","Infinity","-Infinity",1.5]'],
    ['bytes', new Uint8Array([0, 15, 255]), '"0x000fff"'],
    ['a BigInt64Array', BigInt64Array.of(1n, -2n), '["1","-2"]'],
    ['a Float32Array with NaN', Float32Array.of(0.5, NaN), '[0.5,"NaN"]'],
    ['an Arrow list of int64 (a vector)', list.get(0), '["1","9223372036854775807"]'],
    ['an Arrow struct row', struct.get(0), '{"a":"5","b":[1.5,"NaN"]}'],
    ['a Map and a Set', { m: new Map<unknown, unknown>([[1, 2n]]), s: new Set([3n]) }, '{"m":{"1":"2"},"s":["3"]}'],
    ['a Date', new Date(0), '"1970-01-01T00:00:00.000Z"'],
    ['undefined', undefined, 'null'],
    ['plain JSON', { a: [1, 'x', null, true] }, '{"a":[1,"x",null,true]}'],
  ])('%s', (_name, value, expected) => {
    expect(toJson(value)).toBe(expected);
    expect(toJsonValue(value)).toEqual(JSON.parse(expected));
  });

  test('indents like JSON.stringify', () => {
    expect(toJson({ a: 1n }, 2)).toBe('{\n  "a": "1"\n}');
  });
});
