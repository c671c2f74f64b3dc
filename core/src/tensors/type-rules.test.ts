import * as A from 'apache-arrow';
import { ELEMENT_TYPES, feedOf, feedProblem, isNumericListType, isNumericType } from './type-rules.js';
import { f32List } from '../../testing/tensors.js';

/**
 * The whole rule set as a table: how each column type feeds each element type. `E`: every value
 * exactly; `N`: the nearest value; `!`: each value is checked (one that does not fit makes its row
 * unscorable); `-`: refused.
 */
const TABLE = `
                 float32 float64 float16 int64 int32 int16 int8 uint64 uint32 uint16 uint8
Int8             E       E       E       E     E     E     E    E!     E!     E!     E!
Int16            E       E       N       E     E     E     E!   E!     E!     E!     E!
Int32            N       E       N!      E     E     E!    E!   E!     E!     E!     E!
Int64            N       N       N!      E     E!    E!    E!   E!     E!     E!     E!
Uint8            E       E       E       E     E     E     E!   E      E      E      E
Uint16           E       E       N!      E     E     E!    E!   E      E      E      E!
Uint32           N       E       N!      E     E!    E!    E!   E      E      E!     E!
Uint64           N       N       N!      E!    E!    E!    E!   E      E!     E!     E!
Float16          E       E       E       -     -     -     -    -      -      -      -
Float32          E       E       N!      -     -     -     -    -      -      -      -
Float64          N       E       N!      -     -     -     -    -      -      -      -
DECIMAL(4,2)     N       N       N       -     -     -     -    -      -      -      -
DECIMAL(9,0)     N       E       N!      -     -     -     -    -      -      -      -
DECIMAL(38,10)   N       N       N!      -     -     -     -    -      -      -      -
DECIMAL(76,0)    N!      N       N!      -     -     -     -    -      -      -      -
`;

const TYPES: Record<string, A.DataType> = {
  Int8: new A.Int8(), Int16: new A.Int16(), Int32: new A.Int32(), Int64: new A.Int64(),
  Uint8: new A.Uint8(), Uint16: new A.Uint16(), Uint32: new A.Uint32(), Uint64: new A.Uint64(),
  Float16: new A.Float16(), Float32: new A.Float32(), Float64: new A.Float64(),
  'DECIMAL(4,2)': new A.Decimal(2, 4, 128), 'DECIMAL(9,0)': new A.Decimal(0, 9, 128),
  'DECIMAL(38,10)': new A.Decimal(10, 38, 128), 'DECIMAL(76,0)': new A.Decimal(0, 76, 256),
};

const [header, ...rows] = TABLE.trim().split('\n').map((l) => l.trim().split(/\s+/));
const cells = rows.flatMap(([source, ...marks]) => marks.map((mark, i) => [source, header[i], mark] as const));

describe('feedOf: every column type into every element type', () => {
  test('the table covers every element type', () => {
    expect([...header].sort()).toEqual([...ELEMENT_TYPES].sort());
  });

  test.each(cells)('%s -> %s: %s', (source, target, mark) => {
    const feed = feedOf(TYPES[source], target as (typeof ELEMENT_TYPES)[number]);
    const got = feed === null ? '-' : `${feed.exact ? 'E' : 'N'}${feed.checked ? '!' : ''}`;
    expect(got).toBe(mark);
  });

  test.each([
    ['Utf8', new A.Utf8()], ['Bool', new A.Bool()], ['Timestamp', new A.TimestampMicrosecond()], ['Date', new A.DateDay()],
    ['Binary', new A.Binary()], ['List<Float32>', f32List()],
  ])('%s feeds nothing as a scalar', (_name, type) => {
    expect(isNumericType(type)).toBe(false);
    for (const t of ELEMENT_TYPES) expect(feedOf(type, t)).toBeNull();
  });

  test('list types of numbers (decimals included) are list sources; lists of anything else are not', () => {
    const list = (t: A.DataType) => new A.List(new A.Field('item', t, true));
    expect([f32List(), f32List(4), new A.LargeList(new A.Field('x', new A.Int8())), list(new A.Decimal(2, 9, 128))].map(isNumericListType)).toEqual([true, true, true, true]);
    expect([list(new A.Utf8()), list(new A.Bool()), new A.Float32()].map(isNumericListType)).toEqual([false, false, false]);
  });
});

describe('feedProblem: the refusal names the field, the column, the data, both types and the fix', () => {
  const at = (column: string, field = 'spec.model.inputs.X.columns[0]') => ({ field, column, where: 's3://lake/part-0.parquet', input: 'X' });

  test('a float column into an integer input', () => {
    expect(feedProblem(at('amount'), new A.Float64(), 'columns', 'int64')).toBe(
      'spec.model.inputs.X.columns[0]: column "amount" in s3://lake/part-0.parquet is Float64, but model input \'X\' takes int64: the fractions '
      + 'would be cut off (1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(amount AS BIGINT)) if it holds whole '
      + 'numbers, or export the model with a float input');
  });

  test('a decimal column is printed as SQL writes it', () => {
    expect(feedProblem(at('price'), new A.Decimal(4, 12, 128), 'columns', 'int32')).toMatch(/^spec\.model\.inputs\.X\.columns\[0\]: column "price" in \S+ is DECIMAL\(12,4\), but model input 'X' takes int32: /);
  });

  test('fine pairings, and unknown targets, give no problem', () => {
    expect(feedProblem(at('n'), new A.Uint64(), 'columns', 'int64')).toBeUndefined();
    expect(feedProblem(at('p'), new A.Decimal(4, 12, 128), 'columns', 'float16')).toBeUndefined();
    expect(feedProblem(at('e', 'spec.model.inputs.X.column'), f32List(3), 'column', 'float64')).toBeUndefined();
    expect(feedProblem(at('f'), new A.Float32(), 'columns', undefined)).toBeUndefined();
  });

  test('shape of the mapping: a list under columns, a scalar under column', () => {
    expect(feedProblem(at('e'), f32List(3), 'columns', 'float32')).toBe(
      'spec.model.inputs.X.columns[0]: column "e" in s3://lake/part-0.parquet is FixedSizeList[3]<Float32>, not a numeric column (map a list column with column, not columns)');
    expect(feedProblem(at('f', 'spec.model.inputs.X.column'), new A.Float32(), 'column', 'float32')).toBe(
      'spec.model.inputs.X.column: column "f" in s3://lake/part-0.parquet is Float32, not a list of numbers (map numeric scalar columns with columns, not column)');
  });
});
