import { DEFAULT_PARTITION_NAME, escapePathName, parsePartitionPath, partitionPath, partitionSegment, unescapePathName } from './hive-path.js';

describe('Hive partition paths (Spark ExternalCatalogUtils.escapePathName)', () => {
  test.each([
    ['emea', 'emea'],
    ['a/b', 'a%2Fb'],
    ['2026-12-05 02:00:00', '2026-12-05 02%3A00%3A00'],
    ['x=y', 'x%3Dy'],
    ['100%', '100%25'],
    ['"#\'*?\\{[]^', '%22%23%27%2A%3F%5C%7B%5B%5D%5E'],
    ['tab\there\nnl', 'tab%09here%0Anl'],
    ['\u007f', '%7F'],
    ['space stays, <>| too', 'space stays, <>| too'],
    ['München', 'München'],
    ['a.b-c_d~e!f@g$h&i(j)k+l,m;', 'a.b-c_d~e!f@g$h&i(j)k+l,m;'],
  ])('%j -> %j, and back', (raw, escaped) => {
    expect(escapePathName(raw)).toBe(escaped);
    expect(unescapePathName(escaped)).toBe(raw);
  });

  test.each([
    ['region', null, `region=${DEFAULT_PARTITION_NAME}`],
    ['region', '', `region=${DEFAULT_PARTITION_NAME}`],
    ['my:col', 'v', 'my%3Acol=v'],
  ])('segment %j %j -> %j', (col, value, seg) => expect(partitionSegment(col, value)).toBe(seg));

  test('a path names its columns in order, and parses back', () => {
    const p = partitionPath(['region', 'day'], ['a/b', null]);
    expect(p).toBe(`region=a%2Fb/day=${DEFAULT_PARTITION_NAME}`);
    expect(parsePartitionPath(p)).toEqual([{ column: 'region', value: 'a/b' }, { column: 'day', value: null }]);
    expect(() => partitionPath(['a'], [])).toThrow(/1 columns but 0 values/);
  });
});
