/** ShardOutputStats: every shard of a run counts into the same bins, chosen once (bins.json, a
 * conditional write), or the baseline's; fixed-size-list outputs count each element. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedSizeList, Field, Float32, makeData, makeVector, vectorFromArray } from 'apache-arrow';
import { openStorage } from '../../../core/src/storage/index.js';
import { ShardOutputStats } from './shard-output-stats.js';

const f32 = (xs: number[]) => makeVector(new Float32Array(xs));

describe('ShardOutputStats', () => {
  test('shards racing to choose the bins agree: one writes bins.json, the others read it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bij-stats-'));
    const uri = join(dir, 'bins.json');
    const shards = [[10, 20], [-500, 500], [0.5, 0.7], [3, 3]].map(() => new ShardOutputStats(openStorage(), uri, ['score'], {}));
    const samples = [[10, 20], [-500, 500], [0.5, 0.7], [3, 3]];
    await Promise.all(shards.map((s, i) => s.add([['score', f32(samples[i])]])));
    const layouts = shards.map((s) => s.snapshot()!.score.histogram.layout);
    for (const l of layouts) expect(l).toEqual(layouts[0]);
    expect(JSON.parse(readFileSync(uri, 'utf8'))).toEqual({ kind: 'OutputBins', columns: { score: layouts[0] } });
    expect(shards.map((s) => s.snapshot()!.score.count)).toEqual([2, 2, 2, 2]);
  });

  test('a column the baseline has takes its bins; probabilities take 0-1; nothing scored still records the bins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bij-stats-'));
    const fixed = { min: -1, max: 1, bins: 8, source: 'sample' as const };
    const s = new ShardOutputStats(openStorage(), join(dir, 'bins.json'), ['a', 'b'], { a: fixed });
    await s.add([['a', f32([0.5])], ['b', f32([0.25, 0.75])]]);
    const out = s.snapshot()!;
    expect(out.a.histogram.layout).toEqual({ ...fixed, source: 'baseline' });
    expect(out.b.histogram.layout).toEqual({ min: 0, max: 1, bins: 20, source: 'probability' });
    const empty = await new ShardOutputStats(openStorage(), join(dir, 'bins.json'), ['a', 'b'], { a: fixed }).finish();
    expect(empty.b).toMatchObject({ count: 0, histogram: { layout: out.b.histogram.layout } });
  });

  test('a fixed-size-list column counts each element; nulls are counted apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bij-stats-'));
    const s = new ShardOutputStats(openStorage(), join(dir, 'bins.json'), ['probs', 'n'], {});
    const child = makeData({ type: new Float32(), length: 6, nullCount: 0, data: new Float32Array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7]) });
    const list = makeVector(makeData({ type: new FixedSizeList(2, new Field('item', new Float32(), true)), length: 3, nullCount: 0, child }));
    await s.add([['probs', list], ['n', vectorFromArray([0.5, null, 0.25], new Float32())]]);
    const out = s.snapshot()!;
    expect(out.probs).toMatchObject({ count: 6, nulls: 0, min: Math.fround(0.1), max: Math.fround(0.9) });
    expect(out.probs.mean).toBeCloseTo(0.5, 6);
    expect(out.n).toMatchObject({ count: 3, nulls: 1, mean: 0.375 });
  });
});
