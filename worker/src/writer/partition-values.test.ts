import * as arrow from 'apache-arrow';
import { formatTimestamp, partitionTypeProblem, routeRows } from '../../../core/src/contract/partition-values.js';
import { takeRows } from './take.js';

const batchOf = (cols: Record<string, arrow.Vector>): arrow.RecordBatch => new arrow.Table(cols).batches[0];

describe('routeRows', () => {
  test.each([
    ['strings with null and empty (one default folder)', arrow.vectorFromArray(['a', null, 'b', '', 'a'], new arrow.Utf8()),
      [['region=a', [0, 4]], ['region=__HIVE_DEFAULT_PARTITION__', [1, 3]], ['region=b', [2]]]],
    ['int64', arrow.vectorFromArray([3n, -1n, 3n], new arrow.Int64()), [['region=3', [0, 2]], ['region=-1', [1]]]],
    ['uint8', arrow.vectorFromArray([255, 0], new arrow.Uint8()), [['region=255', [0]], ['region=0', [1]]]],
    ['bool', arrow.vectorFromArray([true, false, null], new arrow.Bool()), [['region=true', [0]], ['region=false', [1]], ['region=__HIVE_DEFAULT_PARTITION__', [2]]]],
    ['date32', arrow.vectorFromArray([new Date(Date.UTC(2026, 11, 5)), new Date(Date.UTC(1969, 11, 31))], new arrow.DateDay()),
      [['region=2026-12-05', [0]], ['region=1969-12-31', [1]]]],
    ['timestamp µs UTC', arrow.vectorFromArray([Date.UTC(2026, 11, 5, 2, 0, 0), Date.UTC(2026, 11, 5, 2, 0, 0, 500)], new arrow.TimestampMicrosecond('UTC')),
      [['region=2026-12-05 02%3A00%3A00', [0]], ['region=2026-12-05 02%3A00%3A00.5', [1]]]],
  ])('%s', (_n, vector, expected) => {
    const routed = routeRows(batchOf({ region: vector as arrow.Vector }), ['region']);
    expect(routed.map((r) => [r.path, [...r.rows]])).toEqual(expected);
  });

  test('two columns, a constant (run) column, and rows of a slice', () => {
    const b = batchOf({
      id: arrow.vectorFromArray([0, 1, 2, 3, 4, 5], new arrow.Int32()),
      region: arrow.vectorFromArray(['x', 'y', 'x', 'y', 'x/z', 'x'], new arrow.Utf8()),
    }).slice(1, 5);
    const routed = routeRows(b, ['region', 'run'], new Map([['run', 'r1']]));
    expect(routed.map((r) => [r.path, r.values, [...r.rows]])).toEqual([
      ['region=y/run=r1', ['y', 'r1'], [0, 2]], ['region=x/run=r1', ['x', 'r1'], [1]], ['region=x%2Fz/run=r1', ['x/z', 'r1'], [3]],
    ]);
    expect(routeRows(b, ['run'], new Map([['run', 'r1']])).map((r) => [r.path, r.rows.length])).toEqual([['run=r1', 4]]);
  });

  test.each([
    [-1n, arrow.TimeUnit.NANOSECOND, '1969-12-31 23:59:59.999999999'],
    [1_500n, arrow.TimeUnit.MILLISECOND, '1970-01-01 00:00:01.5'],
    [0n, arrow.TimeUnit.SECOND, '1970-01-01 00:00:00'],
  ])('formatTimestamp(%p, %p) = %p', (v, unit, s) => expect(formatTimestamp(v, unit)).toBe(s));

  test.each([
    [new arrow.Utf8(), undefined], [new arrow.Int16(), undefined], [new arrow.DateDay(), undefined],
    [new arrow.Float64(), /Float64 cannot name a partition folder/],
    [new arrow.List(new arrow.Field('item', new arrow.Float32())), /List<Float32> cannot name/],
    [new arrow.Binary(), /cannot name/],
  ])('partitionTypeProblem(%s)', (t, problem) => {
    const p = partitionTypeProblem(t);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });
});

describe('takeRows', () => {
  test('copies rows of every kind of column, from a slice, in the given order', () => {
    const t = new arrow.Table({
      i: arrow.vectorFromArray([1, 2, null, 4, 5], new arrow.Int32()),
      s: arrow.vectorFromArray(['a', 'bb', null, 'dddd', 'e'], new arrow.Utf8()),
      b: arrow.vectorFromArray([true, null, false, true, false], new arrow.Bool()),
      l: arrow.vectorFromArray([[1], [2, 3], null, [], [5, 6, 7]], new arrow.List(new arrow.Field('item', new arrow.Float32(), true))),
      st: arrow.vectorFromArray([{ a: 1 }, { a: 2 }, null, { a: 4 }, { a: 5 }], new arrow.Struct([new arrow.Field('a', new arrow.Int32(), true)])),
      ts: arrow.vectorFromArray([1, 2, 3, 4, 5], new arrow.TimestampMillisecond()),
    });
    const batch = t.batches[0].slice(1, 5); // rows 1..4
    const taken = takeRows(batch, [3, 0, 1]);
    expect(taken.numRows).toBe(3);
    const want = [4, 1, 2].map((r) => t.get(r)!.toJSON());
    const got = [0, 1, 2].map((r) => taken.get(r)!.toJSON());
    const plain = (o: Record<string, unknown>) => JSON.parse(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
    expect(got.map(plain)).toEqual(want.map(plain));
  });
});
