import * as A from 'apache-arrow';
import { BadInputError } from '../contract/index.js';
import { packInputs, summarizeBadRows } from './pack.js';
import { packDense } from './pack-dense.js';
import { planScoring } from './scoring-plan.js';
import { decimalVector, f32List, meta, table, tensor } from '../../testing/tensors.js';
import type { ElementType, InputMappingLike, ValueMeta } from './types.js';

const out = { Y: { column: 'y' } };

function pack(t: A.Table | A.RecordBatch, inputs: Record<string, InputMappingLike>, metas: ValueMeta[], idColumn?: string) {
  const plan = planScoring({ inputs, outputs: out }, meta(metas), t.schema);
  return packInputs(t, plan, { idColumn });
}

const asNumbers = (a: ArrayLike<number | bigint>): number[] => Array.from(a, Number);

describe('packInputs: every numeric Arrow type into every model element type', () => {
  // Each source holds values of its kind that fit every target it may feed, and one (the last) that
  // does not fit the narrowest ones.
  const sources: Array<[string, A.DataType | null, (bigint | number)[]]> = [
    ['Int8', new A.Int8(), [0, 1, -5, 100, -128]], ['Int16', new A.Int16(), [0, 1, -5, 100, -32768]],
    ['Int32', new A.Int32(), [0, 1, -5, 100, -(2 ** 31)]], ['Int64', new A.Int64(), [0n, 1n, -5n, 100n, -(2n ** 63n)]],
    ['Uint8', new A.Uint8(), [0, 1, 5, 100, 255]], ['Uint16', new A.Uint16(), [0, 1, 5, 100, 65535]],
    ['Uint32', new A.Uint32(), [0, 1, 5, 100, 2 ** 32 - 1]], ['Uint64', new A.Uint64(), [0n, 1n, 5n, 100n, 2n ** 64n - 1n]],
    ['Float16', new A.Float16(), [0, 1.5, -2.25, 100, 0.099975586]], ['Float32', new A.Float32(), [0, 1.5, -2.25, 100, 0.1]],
    ['Float64', new A.Float64(), [0, 1.5, -2.25, 100, 0.1]],
    ['DECIMAL(9,4)', null, [0n, 15000n, -22500n, 1000000n, 1000n]], // 0, 1.5, -2.25, 100, 0.1
  ];
  /** Ranges, written out here rather than taken from type-rules.ts. */
  const RANGES: Record<string, [bigint, bigint]> = {
    int8: [-128n, 127n], int16: [-32768n, 32767n], int32: [-(2n ** 31n), 2n ** 31n - 1n], int64: [-(2n ** 63n), 2n ** 63n - 1n],
    uint8: [0n, 255n], uint16: [0n, 65535n], uint32: [0n, 2n ** 32n - 1n], uint64: [0n, 2n ** 64n - 1n],
  };
  const FLOATS: Record<string, (v: number) => number> = { float32: Math.fround, float64: (v) => v, float16: Math.f16round };
  const CTORS: Record<string, new (n: number) => ArrayLike<number | bigint>> = {
    float32: Float32Array, float64: Float64Array, float16: Uint16Array, int64: BigInt64Array, int32: Int32Array, int16: Int16Array,
    int8: Int8Array, uint64: BigUint64Array, uint32: Uint32Array, uint16: Uint16Array, uint8: Uint8Array,
  };
  const targets = Object.keys(CTORS) as ElementType[];
  const cases = sources.flatMap(([name, type, values]) => targets.map((target) => [name, target, type, values] as const));
  const column = (type: A.DataType | null, values: (bigint | number)[]) => (type === null
    ? decimalVector(values as bigint[], 9, 4)
    : A.vectorFromArray(values as never[], type));
  /** The exact value of a source value: a number, or a BigInt for integers. */
  const exact = (name: string, v: bigint | number): number | bigint => {
    if (name.startsWith('DECIMAL')) return Number(v) / 1e4; // exact for these values' float targets: the nearest double
    if (name === 'Float32') return Math.fround(v as number);
    if (name === 'Float16') return Math.f16round(v as number);
    return v;
  };

  test.each(cases)('%s -> %s', (name, target, type, values) => {
    const t = new A.Table({ a: column(type, values) });
    const isFloatSource = name.startsWith('Float') || name.startsWith('DECIMAL');
    const plan = () => planScoring({ inputs: { X: { columns: ['a'] } }, outputs: out }, meta([tensor('X', target, ['batch', 1])]), t.schema);
    if (isFloatSource && !target.startsWith('float')) {
      // Refused: a float or decimal column would be truncated by an integer input.
      expect(plan).toThrow(new RegExp(`column "a" in the input data is ${name.replace(/[()]/g, '\\$&')}, but model input 'X' takes ${target}: .* Cast the column`));
      return;
    }
    const p = packInputs(t, plan());
    const x = p.tensors[0];
    expect(x.data).toBeInstanceOf(CTORS[target]);
    const fits = (v: bigint | number) => (target in RANGES
      ? BigInt(v) >= RANGES[target][0] && BigInt(v) <= RANGES[target][1]
      : target !== 'float16' || Math.abs(Number(v)) <= 65504);
    const good = values.map((v, i) => [v, i] as const).filter(([v]) => fits(exact(name, v)));
    expect(Array.from(p.goodRows)).toEqual(good.map(([, i]) => i));
    expect(x.dims).toEqual([good.length, 1]);
    if (target in RANGES) {
      // Integers: exact, compared as BigInts.
      expect(Array.from(x.data as ArrayLike<number | bigint>, (v) => BigInt(v))).toEqual(good.map(([v]) => BigInt(v)));
    } else {
      const got = target === 'float16' ? Array.from(new Float16Array((x.data as Uint16Array).buffer)) : Array.from(x.data as Float64Array);
      expect(got).toEqual(good.map(([v]) => FLOATS[target](Number(exact(name, v)))));
    }
    if (good.length < values.length) {
      expect(p.bad.reasons).toEqual([target in RANGES
        ? `value outside the ${target} range (${RANGES[target].join(' to ')}) in column a`
        : 'value beyond the float16 range (±65504) in column a']);
    }
  });

  test('int64 keeps full precision into int64 and converts to the nearest float64', () => {
    const big = [2n ** 53n + 1n, -(2n ** 62n) - 3n, 2n ** 40n + 3n];
    const t = new A.Table({ a: A.vectorFromArray(big, new A.Int64()), u: A.vectorFromArray([2n ** 63n + 2048n, 1n, 2n ** 32n], new A.Uint64()) });
    const i64 = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'int64', ['batch', 1])]).tensors[0].data;
    expect(Array.from(i64 as BigInt64Array)).toEqual(big);
    const f64 = pack(t, { X: { columns: ['a', 'u'] } }, [tensor('X', 'float64', ['batch', 2])]).tensors[0].data;
    expect(Array.from(f64 as Float64Array)).toEqual([2 ** 53, 2 ** 63 + 2048, -(2 ** 62) - 3, 1, 2 ** 40 + 3, 2 ** 32]);
  });

  test('uint64 into int64: values that fit go in exactly; the rest are error rows, never wrapped', () => {
    const t = table({
      id: [['a', 'b', 'c', 'd'], new A.Utf8()],
      u: [[2n ** 63n - 1n, 2n ** 63n, 7n, 2n ** 64n - 1n], new A.Uint64()],
    });
    const p = pack(t, { X: { columns: ['u'] } }, [tensor('X', 'int64', ['batch', 1])], 'id');
    expect(Array.from(p.tensors[0].data as BigInt64Array)).toEqual([2n ** 63n - 1n, 7n]);
    expect(Array.from(p.bad.rows)).toEqual([1, 3]);
    expect(summarizeBadRows(p.bad)).toBe('2 rows cannot be scored: value outside the int64 range (-9223372036854775808 to 9223372036854775807) in column u (2 rows, first at row 1)');
  });

  test('int64 into int32: a value outside the int32 range makes its row an error row naming the column', () => {
    const t = table({ id: [['a', 'b', 'c'], new A.Utf8()], a: [[1, 2 ** 31, -(2 ** 31)], new A.Int64()] });
    const p = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'int32', ['batch', 1])], 'id');
    expect(Array.from(p.tensors[0].data as Int32Array)).toEqual([1, -(2 ** 31)]);
    expect(p.bad.reasons).toEqual(['value outside the int32 range (-2147483648 to 2147483647) in column a']);
    expect(Array.from(p.bad.rows)).toEqual([1]);
  });

  test('float16 inputs: the nearest float16 of every value; beyond ±65504 an error row, infinities kept only when scored', () => {
    const values = [0.1, -1 / 3, 65504, 65519.99, 65520, -1e6, Infinity, 1e-8, 3.14159];
    const t = table({ a: [values, new A.Float64()] });
    const refused = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'float16', ['batch', 1])]);
    expect(Array.from(refused.goodRows)).toEqual([0, 1, 2, 3, 7, 8]);
    expect(refused.bad.reasons).toEqual(['infinite value in column a', 'value beyond the float16 range (±65504) in column a']);
    const plan = planScoring({ inputs: { X: { columns: ['a'] } }, outputs: out }, meta([tensor('X', 'float16', ['batch', 1])]), t.schema);
    const p = packInputs(t, plan, { scoreInfinity: true });
    expect(p.tensors[0].type).toBe('float16');
    expect(p.tensors[0].data).toBeInstanceOf(Uint16Array);
    expect(Array.from(p.goodRows)).toEqual([0, 1, 2, 3, 6, 7, 8]);
    expect(p.bad.reasons).toEqual(['value beyond the float16 range (±65504) in column a']);
    const half = new Float16Array((p.tensors[0].data as Uint16Array).buffer);
    // The float16 bits of 0.1 are 0x2e66: 0.0999755859375.
    expect((p.tensors[0].data as Uint16Array)[0]).toBe(0x2e66);
    expect(Array.from(half)).toEqual([0.0999755859375, -0.333251953125, 65504, 65504, Infinity, 0, 3.140625]);
  });

  test('decimals of every width into float inputs: the nearest value, halfway cases included', () => {
    // 1 + 2^-24 + 10^-30 is just above halfway between float32 1 and 1 + 2^-23: nearest is 1 + 2^-23.
    const unscaled = [1000000059604644775390625000001n, -25n, 10n ** 37n, 0n, null];
    const t = new A.Table({ d: decimalVector(unscaled, 38, 30), w: decimalVector([1n, 2n, 3n, -4n, 5n], 76, 1, 256) });
    const p = pack(t, { X: { columns: ['d', 'w'] } }, [tensor('X', 'float32', ['batch', 2])]);
    expect(p.bad.reasons).toEqual(['null in column d']);
    expect(Array.from(p.tensors[0].data as Float32Array)).toEqual([1 + 2 ** -23, 0.1, -25e-30, 0.2, 1e7, 0.3, 0, -0.4].map(Math.fround));
    const f64 = pack(t, { X: { columns: ['d'] } }, [tensor('X', 'float64', ['batch', 1])]).tensors[0].data;
    expect(Array.from(f64 as Float64Array)).toEqual([1.000000059604644775390625000001, -25e-30, 1e7, 0]);
  });
});

describe('packInputs: bad rows', () => {
  test('nulls and NaNs make a row unscorable; the first problem found names the reason', () => {
    const t = table({
      f0: [[1, NaN, 3, 4, 5, 6], new A.Float32()],
      f1: [[1, 2, 3, null, 5, 6], new A.Int32()],
      f2: [[1, null, 3, 4, NaN, 6], new A.Float64()],
    });
    const p = pack(t, { X: { columns: ['f0', 'f1', 'f2'] } }, [tensor('X', 'float32', ['batch', 3])]);
    expect(Array.from(p.goodRows)).toEqual([0, 2, 5]);
    expect(Array.from(p.bad.rows)).toEqual([1, 3, 4]);
    expect(p.bad.reasons).toEqual(['NaN in column f0', 'null in column f1', 'NaN in column f2']);
    expect(Array.from(p.bad.reason)).toEqual([0, 1, 2]);
    expect(Array.from(p.bad.counts)).toEqual([1, 1, 1]);
    expect(p.tensors[0].dims).toEqual([3, 3]);
    expect(asNumbers(p.tensors[0].data)).toEqual([1, 1, 1, 3, 3, 3, 6, 6, 6]);
    expect(summarizeBadRows(p.bad)).toBe('3 rows cannot be scored: NaN in column f0 (1 row, first at row 1); null in column f1 (1 row, first at row 3); NaN in column f2 (1 row, first at row 4)');
  });

  test('±Infinity makes a row unscorable (float32, float64, float16, in columns and lists) unless spec.model.scoreInfinity', () => {
    const t = table({
      id: [[10, 11, 12, 13], new A.Int64()],
      f0: [[1, Infinity, 3, 4], new A.Float32()],
      f1: [[1, 2, -Infinity, 4], new A.Float64()],
      f2: [[1, 2, 3, Infinity], new A.Float16()],
    });
    const metas = [tensor('X', 'float32', ['batch', 3])];
    const plan = planScoring({ inputs: { X: { columns: ['f0', 'f1', 'f2'] } }, outputs: out }, meta(metas), t.schema);
    for (const dense of [true, false]) {
      const p = packInputs(t, plan, { idColumn: 'id', dense });
      expect(Array.from(p.goodRows)).toEqual([0]);
      expect(p.bad.reasons).toEqual(['infinite value in column f0', 'infinite value in column f1', 'infinite value in column f2']);
      const scored = packInputs(t, plan, { idColumn: 'id', dense, scoreInfinity: true });
      expect(Array.from(scored.goodRows)).toEqual([0, 1, 2, 3]);
      expect(asNumbers(scored.tensors[0].data).slice(3, 6)).toEqual([Infinity, 2, 2]);
    }
    const list = table({ e: [[[1, 2], [Infinity, 2], [3, 3]], f32List(2)] });
    const pl = pack(list, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 2])]);
    expect(Array.from(pl.bad.rows)).toEqual([1]);
    expect(pl.bad.reasons).toEqual(['infinite value in column e']);
  });

  test('a row whose id is null cannot be scored ("null id"), whatever its features; the fast path steps aside', () => {
    const t = table({
      id: [[1, null, 3, null], new A.Int64()],
      f0: [[1, 2, 3, NaN], new A.Float32()],
    });
    const p = pack(t, { X: { columns: ['f0'] } }, [tensor('X', 'float32', ['batch', 1])], 'id');
    expect(Array.from(p.goodRows)).toEqual([0, 2]);
    expect(Array.from(p.bad.rows)).toEqual([1, 3]);
    expect(p.bad.reasons).toEqual(['null id (column id)']);
    expect(Array.from(p.bad.counts)).toEqual([2]);
  });

  test('a bad row in one input drops it from every input; Float16 NaN and list nulls count', () => {
    const t = table({
      a: [[1, 2, 3, 4, 5], new A.Float16()],
      b: [[1, 2, NaN, 4, 5], new A.Float16()],
      e: [[[1, 1], null, [3, 3], [4, NaN], [5, 5]], f32List(2)],
      v: [[[1], [2], [3], [4], [null]], f32List()],
    });
    const p = pack(t, { X: { columns: ['a', 'b'] }, E: { column: 'e' }, V: { column: 'v' } },
      [tensor('X', 'float64', ['batch', 2]), tensor('E', 'float32', ['batch', 2]), tensor('V', 'float16', ['batch', 1])]);
    expect(Array.from(p.goodRows)).toEqual([0]);
    expect(p.bad.reasons).toEqual(['NaN in column b', 'null in column e', 'NaN in column e', 'null in column v']);
    expect(Array.from(p.bad.reason)).toEqual([1, 0, 2, 3]);
    expect(p.tensors.map((x) => [x.dims, asNumbers(x.type === 'float16' ? new Float16Array((x.data as Uint16Array).buffer) : x.data)])).toEqual([[[1, 2], [1, 1]], [[1, 2], [1, 1]], [[1, 1], [1]]]);
  });

  test('an all-null column with an empty values buffer packs nothing and reads nothing', () => {
    const data = A.makeData({ type: new A.Int64(), length: 3, nullCount: 3, nullBitmap: new Uint8Array(1), data: new BigInt64Array(0) });
    const t = new A.Table({ a: A.makeVector(data) });
    const p = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'float32', ['batch', 1])]);
    expect(p.tensors[0].dims).toEqual([0, 1]);
    expect(p.bad.reasons).toEqual(['null in column a']);
  });

  test('every row bad gives empty tensors with the right shapes', () => {
    const t = table({ a: [[null, null], new A.Float32()] });
    const p = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'float32', ['batch', 1])]);
    expect(p.goodRows.length).toBe(0);
    expect(p.tensors[0].dims).toEqual([0, 1]);
    expect(summarizeBadRows(p.bad, (r) => `id ${r + 10}`)).toBe('2 rows cannot be scored: null in column a (2 rows, first at id 10)');
  });
});

describe('packInputs: list columns', () => {
  const listTypes: Array<[string, A.DataType]> = [
    ['FixedSizeList', f32List(3)],
    ['List', f32List()],
    ['LargeList', new A.LargeList(new A.Field('item', new A.Float64(), true))],
    ['List<Int64>', new A.List(new A.Field('item', new A.Int64(), true))],
  ];
  test.each(listTypes)('%s packs rows of the model width', (_name, type) => {
    const is64 = String(type).includes('Int64');
    const rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]].map((r) => (is64 ? r.map(BigInt) : r));
    const t = new A.Table({ e: A.vectorFromArray(rows as never[], type) });
    const p = pack(t, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 3])]);
    expect(p.tensors[0].dims).toEqual([3, 3]);
    expect(asNumbers(p.tensors[0].data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a List row of the wrong width is an error naming the column and the row id', () => {
    const t = table({ id: [[11, 12], new A.Int64()], e: [[[1, 2, 3], [1, 2]], f32List()] });
    expect(() => pack(t, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 3])], 'id'))
      .toThrow(new BadInputError("model input 'E' takes 3 values per row, but column 'e' has 2 values at row 1 (id \"12\")"));
  });

  // Ids of any type go into the message as JSON (contract/json.ts); a list of INT64 used to throw
  // "Do not know how to serialize a BigInt" instead, a crash the operator retried.
  test.each([
    ['List<Int64>', A.vectorFromArray([[1n, 2n], [2n ** 60n, 3n]], new A.List(new A.Field('item', new A.Int64()))), '["1152921504606846976","3"]'],
    ['Struct', A.vectorFromArray([{ k: 1n, s: 'a' }, { k: 2n, s: 'b' }], new A.Struct([new A.Field('k', new A.Int64()), new A.Field('s', new A.Utf8())])), '{"k":"2","s":"b"}'],
    ['Binary', A.vectorFromArray([new Uint8Array([1]), new Uint8Array([0xca, 0xfe])], new A.Binary()), '"0xcafe"'],
    ['Float64 NaN', A.vectorFromArray([1, NaN], new A.Float64()), '"NaN"'],
    ['Int64 past 2^53', A.vectorFromArray([1n, 2n ** 53n + 1n], new A.Int64()), '"9007199254740993"'],
  ])('a row with an id of type %s is named in the message', (_type, id, shown) => {
    const t = new A.Table({ id, e: A.vectorFromArray([[1, 2, 3], [1, 2]], f32List()) });
    expect(() => pack(t, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 3])], 'id'))
      .toThrow(new BadInputError(`model input 'E' takes 3 values per row, but column 'e' has 2 values at row 1 (id ${shown})`));
  });

  test('with a symbolic model width, the first row sets it and the rest must agree', () => {
    const ok = table({ e: [[[1, 2], null, [3, 4]], f32List()] });
    const p = pack(ok, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 'dim'])]);
    expect(p.tensors[0].dims).toEqual([2, 2]);
    expect(asNumbers(p.tensors[0].data)).toEqual([1, 2, 3, 4]);
    const bad = table({ e: [[[1, 2], [3, 4, 5]], f32List()] });
    expect(() => pack(bad, { E: { column: 'e' } }, [tensor('E', 'float32', ['batch', 'dim'])]))
      .toThrow(new BadInputError("column 'e' has lists of different lengths: 2 values at row 0, 3 at row 1"));
  });

  test('rank-3 inputs get [rows, a, b]; rank-1 inputs get [rows]', () => {
    const t = table({ e: [[[1, 2, 3, 4], [5, 6, 7, 8]], f32List(4)], s: [[1, 2], new A.Int16()] });
    const p = pack(t, { E: { column: 'e' }, S: { columns: ['s'] } }, [tensor('E', 'float32', ['batch', 2, 2]), tensor('S', 'int32', ['batch'])]);
    expect(p.tensors.map((x) => x.dims)).toEqual([[2, 2, 2], [2]]);
  });
});

describe('packInputs: chunked and sliced data', () => {
  test('a Table of several batches and a sliced Table (Data offsets) pack like one batch', () => {
    const part = (vals: (number | null)[]) => A.vectorFromArray(vals, new A.Float64());
    const lists = (vals: (number[] | null)[]) => A.vectorFromArray(vals, f32List(2));
    const t = new A.Table({ a: part([1, null, 3]).concat(part([4, 5])), e: lists([[1, 1], [2, 2], null]).concat(lists([[4, 4], [5, 5]])) });
    expect(t.batches.length).toBe(2);
    const run = (src: A.Table | A.RecordBatch) => pack(src, { X: { columns: ['a'] }, E: { column: 'e' } }, [tensor('X', 'float32', ['batch', 1]), tensor('E', 'float32', ['batch', 2])]);
    const p = run(t);
    expect(Array.from(p.goodRows)).toEqual([0, 3, 4]);
    expect(asNumbers(p.tensors[1].data)).toEqual([1, 1, 4, 4, 5, 5]);
    const s = run(t.slice(1, 4)); // rows 1..3: null, 3 (null list), 4
    expect(Array.from(s.goodRows)).toEqual([2]);
    expect(asNumbers(s.tensors[0].data)).toEqual([4]);
    expect(asNumbers(s.tensors[1].data)).toEqual([4, 4]);
    const b = run(t.batches[1]);
    expect(asNumbers(b.tensors[0].data)).toEqual([4, 5]);
  });
});

describe('packInputs: the dense fast path (pack-dense.ts)', () => {
  const n = 1000;
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 200 - 100;
  const col = (type: A.DataType, f: (i: number) => number) => A.vectorFromArray(Array.from({ length: n }, (_, i) => f(i)), type);
  const batch: A.RecordBatch = new A.Table({
    a: col(new A.Float32(), () => rand()),
    b: col(new A.Float64(), () => rand()),
    c: col(new A.Int32(), (i) => i * 37 - 5000),
    d: col(new A.Uint8(), (i) => i % 256),
    e: col(new A.Int16(), (i) => -i),
    f: col(new A.Float32(), () => rand()),
    g: A.vectorFromArray(Array.from({ length: n }, (_, i) => [i, -i, i / 2]), new A.FixedSizeList(3, new A.Field('v', new A.Float32(), false))),
  }).batches[0];
  const inputs = { X: { columns: ['a', 'b', 'c', 'd', 'e', 'f'] }, Y: { columns: ['f', 'a', 'd'] }, G: { column: 'g' } };
  const metas = (t: ElementType) => [tensor('X', t, ['batch', 6]), tensor('Y', 'float64', ['batch', 3]), tensor('G', t, ['batch', 3])];

  const both = (src: A.RecordBatch, t: ElementType) => {
    const plan = planScoring({ inputs, outputs: out }, meta(metas(t)), src.schema);
    return [packInputs(src, plan), packInputs(src, plan, { dense: false }), packDense(src, plan)] as const;
  };

  test.each(['float32', 'float64'] as const)('it packs what the general path packs (%s), sliced batches included', (t) => {
    for (const src of [batch, batch.slice(123, 611)]) {
      const [fast, general, dense] = both(src, t);
      expect(dense).not.toBeNull(); // the fast path did the packing
      expect(fast.tensors.map((x) => x.dims)).toEqual(general.tensors.map((x) => x.dims));
      fast.tensors.forEach((x, i) => {
        expect(x.data.constructor).toBe(general.tensors[i].data.constructor);
        expect(Array.from(x.data as Float64Array)).toEqual(Array.from(general.tensors[i].data as Float64Array));
      });
      expect(Array.from(fast.goodRows)).toEqual(Array.from(general.goodRows));
      expect(fast.bad.rows).toHaveLength(0);
    }
    // Spot-check the layout: row 2 of X is [a, b, c, d, e, f] at row 2.
    const [fast] = both(batch, t);
    const x = fast.tensors[0].data as Float64Array;
    const expected = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => Number(batch.getChild(c)!.get(2)));
    expect(Array.from(x.subarray(12, 18))).toEqual(t === 'float32' ? Array.from(Float32Array.from(expected)) : expected);
  });

  test('a NaN, a null, an int64 column or an int target hands the batch to the general path', () => {
    const withNaN = new A.Table({ ...Object.fromEntries(batch.schema.fields.map((f) => [f.name, batch.getChild(f.name)!])),
      f: col(new A.Float32(), (i) => (i === 500 ? NaN : 1)) }).batches[0];
    const [fast, , dense] = both(withNaN, 'float32');
    expect(dense).toBeNull();
    expect(Array.from(fast.bad.rows)).toEqual([500]);
    expect(fast.bad.reasons).toEqual(['NaN in column f']);
    expect(fast.tensors[0].dims).toEqual([n - 1, 6]);

    const withNull = new A.Table({ c: A.vectorFromArray([1, null, 3], new A.Int32()) }).batches[0];
    const nullPlan = planScoring({ inputs: { X: { columns: ['c'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 1])]), withNull.schema);
    expect(packDense(withNull, nullPlan)).toBeNull();
    expect(Array.from(packInputs(withNull, nullPlan).goodRows)).toEqual([0, 2]);

    const int64 = new A.Table({ c: A.vectorFromArray([1n, 2n], new A.Int64()) }).batches[0];
    const int64Plan = planScoring({ inputs: { X: { columns: ['c'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 1])]), int64.schema);
    expect(packDense(int64, int64Plan)).toBeNull();
    const clean = new A.Table({ c: A.vectorFromArray([1, 2, 3], new A.Int32()) }).batches[0];
    const floatPlan = planScoring({ inputs: { X: { columns: ['c'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 1])]), clean.schema);
    expect(packDense(clean, floatPlan)).not.toBeNull();
    const intPlan = planScoring({ inputs: { X: { columns: ['c'] } }, outputs: out }, meta([tensor('X', 'int32', ['batch', 1])]), clean.schema);
    expect(packDense(clean, intPlan)).toBeNull();
  });
});
