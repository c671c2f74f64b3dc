import { batchSizeChosen } from './batch-size.js';
import type { BatchSizeUsed } from '../../../core/src/contract/index.js';

describe('status.batchSize: the sizes batchSize: auto chose, from the shard manifests', () => {
  test.each<[string, BatchSizeUsed[], ReturnType<typeof batchSizeChosen>]>([
    ['no manifest', [], undefined],
    ['a fixed batchSize says nothing', [{ chosen: 4096, auto: false }, { chosen: 4096, auto: false }], undefined],
    ['one shard', [{ chosen: 2048, auto: true }], { min: 2048, max: 2048, shards: 1, outOfMemoryShards: 0 }],
    ['shards that chose differently, one of them out of memory',
      [{ chosen: 2048, auto: true }, { chosen: 512, auto: true, outOfMemory: [1024] }, { chosen: 4096, auto: true, outOfMemory: [] }],
      { min: 512, max: 4096, shards: 3, outOfMemoryShards: 1 }],
  ])('%s', (_name, used, expected) => {
    expect(batchSizeChosen(used)).toEqual(expected);
  });
});
