import * as arrow from 'apache-arrow';
import { assembleOutput, runsOf } from './assemble.js';

describe('runsOf', () => {
  test.each([
    [[], []],
    [[0, 1, 2], [[0, 3]]],
    [[0, 2, 3, 7], [[0, 1], [2, 4], [7, 8]]],
    [[5], [[5, 6]]],
  ])('%j -> %j', (rows, runs) => {
    expect(runsOf(Int32Array.from(rows))).toEqual(runs);
  });
});

describe('assembleOutput', () => {
  const input = new arrow.Table({
    id: arrow.vectorFromArray(['a', 'b', 'c', 'd', 'e']),
    region: arrow.vectorFromArray(['x', 'y', 'x', 'y', 'x']),
    f0: arrow.vectorFromArray([1, 2, NaN, 4, 5], new arrow.Float32()),
  }).batches[0];
  const rows = (batches: arrow.RecordBatch[]) => new arrow.Table(batches).toArray().map((r) => ({ ...r.toJSON() }));

  test('keeps id and passthrough columns next to the scores of the scored rows only', () => {
    const good = Int32Array.from([0, 1, 3, 4]);
    const score = arrow.vectorFromArray([0.1, 0.2, 0.4, 0.5], new arrow.Float32());
    const out = assembleOutput(input, ['id', 'region'], good, [['score', score]]);
    expect(rows(out).map((r) => [r.id, r.region, Math.round((r.score as number) * 10)])).toEqual([
      ['a', 'x', 1], ['b', 'y', 2], ['d', 'y', 4], ['e', 'x', 5],
    ]);
    expect(out[0].schema.fields.map((f) => f.name)).toEqual(['id', 'region', 'score']);
  });

  test('all rows good: one batch, no copies', () => {
    const score = arrow.vectorFromArray([1, 2, 3, 4, 5], new arrow.Float64());
    const out = assembleOutput(input, ['id'], Int32Array.from([0, 1, 2, 3, 4]), [['score', score]]);
    expect(out).toHaveLength(1);
    expect(out[0].numRows).toBe(5);
  });

  test('no rows good: nothing to write', () => {
    expect(assembleOutput(input, ['id'], new Int32Array(0), [['score', arrow.vectorFromArray([], new arrow.Float32())]])).toEqual([]);
  });
});
