import * as A from 'apache-arrow';
import { BadInputError } from '../../../operator/src/contract/index.js';
import { packInputs, summarizeBadRows } from './pack.js';
import { packDense } from './pack-dense.js';
import { planScoring } from './plan.js';
import { f32List, meta, table, tensor } from './testing.js';
import type { ElementType, InputMappingLike, ValueMeta } from './types.js';

const out = { Y: { column: 'y' } };

function pack(t: A.Table | A.RecordBatch, inputs: Record<string, InputMappingLike>, metas: ValueMeta[], idColumn?: string) {
  const plan = planScoring({ inputs, outputs: out }, meta(metas), t.schema);
  return packInputs(t, plan, { idColumn });
}

const asNumbers = (a: ArrayLike<number | bigint>): number[] => Array.from(a, Number);

describe('packInputs: every numeric Arrow type into every model element type', () => {
  const signed = [0, 1, -5, 100];
  const unsigned = [0, 1, 5, 200];
  const sources: Array<[string, A.DataType, number[]]> = [
    ['Int8', new A.Int8(), signed], ['Int16', new A.Int16(), signed], ['Int32', new A.Int32(), signed], ['Int64', new A.Int64(), signed],
    ['Uint8', new A.Uint8(), unsigned], ['Uint16', new A.Uint16(), unsigned], ['Uint32', new A.Uint32(), unsigned], ['Uint64', new A.Uint64(), unsigned],
    ['Float16', new A.Float16(), [0, 1.5, -2.25, 100]], ['Float32', new A.Float32(), [0, 1.5, -2.25, 100]], ['Float64', new A.Float64(), [0, 1.5, -2.25, 100]],
  ];
  const targets: Array<[ElementType, new (n: number) => ArrayLike<number | bigint>]> = [
    ['float32', Float32Array], ['float64', Float64Array], ['int32', Int32Array], ['int64', BigInt64Array],
  ];
  const cases = sources.flatMap(([name, type, values]) => targets.map(([target, ctor]) => [name, target, type, values, ctor] as const));

  test.each(cases)('%s -> %s', (_name, target, type, values, ctor) => {
    const t = table({ a: [values, type], b: [[0.5, 2.7, -2.7, 3], new A.Float64()] });
    const p = pack(t, { X: { columns: ['a', 'b'] } }, [tensor('X', target, ['batch', 2])]);
    const x = p.tensors[0];
    expect(x).toMatchObject({ name: 'X', type: target, dims: [4, 2] });
    expect(x.data).toBeInstanceOf(ctor);
    // Row-major [a, b] pairs; floats going to int types truncate toward zero.
    const trunc = target.startsWith('int') ? Math.trunc : (v: number) => v;
    const expected = values.flatMap((v, i) => [trunc(v), trunc([0.5, 2.7, -2.7, 3][i])]);
    expect(asNumbers(x.data)).toEqual(target === 'float32' ? asNumbers(Float32Array.from(expected)) : expected);
    expect(Array.from(p.goodRows)).toEqual([0, 1, 2, 3]);
    expect(p.bad.rows.length).toBe(0);
  });

  test('int64 keeps full precision into int64 and converts exactly to float64', () => {
    const big = [2n ** 53n + 1n, -(2n ** 62n) - 3n, 2n ** 40n + 3n];
    const t = new A.Table({ a: A.vectorFromArray(big, new A.Int64()), u: A.vectorFromArray([2n ** 63n + 2048n, 1n, 2n ** 32n], new A.Uint64()) });
    const i64 = pack(t, { X: { columns: ['a'] } }, [tensor('X', 'int64', ['batch', 1])]).tensors[0].data;
    expect(Array.from(i64 as BigInt64Array)).toEqual(big);
    const f64 = pack(t, { X: { columns: ['a', 'u'] } }, [tensor('X', 'float64', ['batch', 2])]).tensors[0].data;
    expect(Array.from(f64 as Float64Array)).toEqual([2 ** 53, 2 ** 63 + 2048, -(2 ** 62) - 3, 1, 2 ** 40 + 3, 2 ** 32]);
  });

  test('a value outside the int32 range for an int32 input is an error naming the column and row', () => {
    const t = table({ id: [['a', 'b'], new A.Utf8()], a: [[1, 2 ** 31], new A.Int64()] });
    expect(() => pack(t, { X: { columns: ['a'] } }, [tensor('X', 'int32', ['batch', 1])], 'id'))
      .toThrow(new BadInputError("model input 'X' takes int32, but column 'a' holds a value outside the int32 range at row 1 (id \"b\")"));
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

  test('a bad row in one input drops it from every input; Float16 NaN and list nulls count', () => {
    const t = table({
      a: [[1, 2, 3, 4, 5], new A.Float16()],
      b: [[1, 2, NaN, 4, 5], new A.Float16()],
      e: [[[1, 1], null, [3, 3], [4, NaN], [5, 5]], f32List(2)],
      v: [[[1], [2], [3], [4], [null]], f32List()],
    });
    const p = pack(t, { X: { columns: ['a', 'b'] }, E: { column: 'e' }, V: { column: 'v' } },
      [tensor('X', 'float64', ['batch', 2]), tensor('E', 'float32', ['batch', 2]), tensor('V', 'int64', ['batch', 1])]);
    expect(Array.from(p.goodRows)).toEqual([0]);
    expect(p.bad.reasons).toEqual(['NaN in column b', 'null in column e', 'NaN in column e', 'null in column v']);
    expect(Array.from(p.bad.reason)).toEqual([1, 0, 2, 3]);
    expect(p.tensors.map((x) => [x.dims, asNumbers(x.data)])).toEqual([[[1, 2], [1, 1]], [[1, 2], [1, 1]], [[1, 1], [1]]]);
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
