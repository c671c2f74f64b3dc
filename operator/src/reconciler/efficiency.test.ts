import type { StageTimings } from '../../../core/src/contract/index.js';
import { describeEfficiency, efficiencyOf } from './efficiency.js';

const t = (x: Partial<StageTimings>): StageTimings => ({ read: 0, decode: 0, pack: 0, infer: 0, unpack: 0, write: 0, total: 0, ...x });

describe('efficiencyOf', () => {
  test.each([
    ['one shard', [t({ infer: 9, decode: 0.5, write: 0.2, total: 10 })], { modelBusyPercent: 90, inputWaitPercent: 5, outputWaitPercent: 2, shards: 1 }],
    ['weighted by wall time, not averaged per shard', [t({ infer: 1, total: 1 }), t({ infer: 0, decode: 9, total: 9 })],
      { modelBusyPercent: 10, inputWaitPercent: 90, outputWaitPercent: 0, shards: 2 }],
    ['rounded to whole percents', [t({ infer: 2, decode: 1, write: 1, total: 3 })], { modelBusyPercent: 67, inputWaitPercent: 33, outputWaitPercent: 33, shards: 1 }],
    ['clamped at 100 (overlapping scores counted once, timing noise)', [t({ infer: 10.2, total: 10 })],
      { modelBusyPercent: 100, inputWaitPercent: 0, outputWaitPercent: 0, shards: 1 }],
  ] as const)('%s', (_name, timings, expected) => {
    expect(efficiencyOf(timings)).toEqual(expected);
  });

  test('nothing to go on: undefined', () => {
    expect(efficiencyOf([])).toBeUndefined();
    expect(efficiencyOf([t({ total: 0 })])).toBeUndefined();
  });

  test('described for people', () => {
    expect(describeEfficiency({ modelBusyPercent: 87, inputWaitPercent: 5, outputWaitPercent: 3, shards: 12 }))
      .toBe('model busy 87% (input wait 5%, output wait 3%; 12 shards)');
    expect(describeEfficiency({ modelBusyPercent: 40, inputWaitPercent: 55, outputWaitPercent: 0, shards: 1 }))
      .toBe('model busy 40% (input wait 55%, output wait 0%; 1 shard)');
  });
});
