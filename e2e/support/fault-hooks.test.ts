import { faultAt, parseFaults } from './faults.js';

describe('BIJ_FAULT (test-only fault hook)', () => {
  test('unset: every fault point is a no-op that returns at once', () => {
    expect(process.env.BIJ_FAULT).toBeUndefined();
    expect(faultAt('batch', 0, 0)).toBeUndefined();
    expect(faultAt('before-manifest', 3, 1)).toBeUndefined();
  });

  test('parses each form, with * and left-out selectors meaning any', () => {
    expect(parseFaults('slow-rows:250, exit-before-manifest:1:0 ,exit-at-batch:1:2,slow-rows:5:*:3,exit-before-manifest:2:*:75')).toEqual([
      { kind: 'slow-rows', value: 250, shard: undefined, attempt: undefined },
      { kind: 'exit-before-manifest', shard: 1, attempt: 0, value: 137 },
      { kind: 'exit-at-batch', value: 1, shard: 2, attempt: undefined },
      { kind: 'slow-rows', value: 5, shard: undefined, attempt: 3 },
      { kind: 'exit-before-manifest', shard: 2, attempt: undefined, value: 75 },
    ]);
    expect(parseFaults('')).toEqual([]);
  });

  test('a bad value is refused, naming the part', () => {
    expect(() => parseFaults('slow-rows:fast')).toThrow(/ms per batch.*"fast".*slow-rows:fast/);
    expect(() => parseFaults('exit-at-batch')).toThrow(/exit code/);
    expect(() => parseFaults('exit-before-manifest:x:0')).toThrow(/shard must be a number or \*, got "x"/);
    expect(() => parseFaults('crash:1')).toThrow(/unknown fault "crash"/);
  });
});
