/** Prediction statistics and drift in the reconciler: status.outputs, the Drifted condition and its
 * events, failPSI before the commit. Tables over observed state, no mocks. */
import { ColumnAccumulator, type BinLayout, type OutputStats, type ShardPlan } from '../../../core/src/contract/index.js';
import { attempt, currentRun, makeBIJ, makeInput } from '../testing/builders.js';
import { cond, reasons } from '../testing/reconcile-helpers.js';
import { reconcile } from './reconcile.js';
import { runStats } from './monitoring.js';

const PROB: BinLayout = { min: 0, max: 1, bins: 20, source: 'probability' };
/** Statistics of `n` values spread evenly over [lo, hi). */
function scores(n: number, lo: number, hi: number): OutputStats {
  const acc = new ColumnAccumulator(PROB);
  acc.add(Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / n));
  return { score: acc.finish() };
}
const baseline = (outputs = scores(1000, 0, 1)): ShardPlan['monitoring'] => ({ baseline: { uri: 's3://scores/churn/prev/_manifest.json', runId: 'rbase000000', outputs } });

/** Two shards of 100 rows; `done` shards have manifests with `stats[i]`, the others run with progress stats. */
function input(monitoring: ShardPlan['monitoring'] | undefined, stats: OutputStats[], done: boolean[], spec: Parameters<ReturnType<typeof makeBIJ>['withSpec']>[0] = {}) {
  const bij = makeBIJ().withSpec(spec).obj();
  const b = makeInput(bij);
  b.planIs({ state: 'ready', runId: currentRun(bij), totalRows: 200, shardRows: [100, 100], ...(monitoring ? { monitoring } : {}) });
  done.forEach((d, s) => {
    b.attempts(d ? attempt(0).shard(s).succeeded() : attempt(0).shard(s).active());
    if (d) b.manifest(s, 0);
    else b.progress(s, 0, 50);
    b.outputs(s, 0, stats[s]);
  });
  return b.obj();
}

describe('status.outputs and the Drifted condition', () => {
  test('live: done and running shards merged into status.outputs; no spec.monitoring, no Drifted condition', () => {
    const r = reconcile(input(undefined, [scores(100, 0, 0.5), scores(50, 0.5, 1)], [true, false]));
    expect(r.status.phase).toBe('Running');
    expect(r.status.outputs).toEqual([{ column: 'score', count: 150, nulls: 0, nan: 0, min: 0, max: 0.99, mean: expect.any(Number), std: expect.any(Number) }]);
    expect(r.status.outputs![0].mean).toBeCloseTo((0.2475 * 100 + 0.745 * 50) / 150, 5);
    expect(cond(r, 'Drifted')).toBeUndefined();
  });

  test.each([
    ['the same distribution: False, WithinThreshold', scores(100, 0, 1), 'False', 'WithinThreshold', false],
    ['all in the top half: True, PSIAboveWarning, one Warning event', scores(100, 0.5, 1), 'True', 'PSIAboveWarning', true],
  ] as const)('%s', (_name, stats, status, reason, warned) => {
    const r = reconcile(input(baseline(), [stats, stats], [true, false], { monitoring: { baseline: { previousRun: true } } }));
    expect(cond(r, 'Drifted')).toMatchObject({ status, reason });
    expect(cond(r, 'Drifted')?.message).toMatch(/output column score: PSI [0-9.]+ against baseline run rbase000000, mean [0-9.]+ \(baseline 0\.4995\), over 200 values of 2 shards so far/);
    expect(r.status.outputs![0].psi! > 0.2).toBe(warned);
    const events = r.events.filter((e) => e.reason === 'Drifted');
    expect(events).toHaveLength(warned ? 1 : 0);
    if (warned) expect(events[0]).toMatchObject({ type: 'Warning', key: `${currentRun(makeBIJ().withSpec({ monitoring: { baseline: { previousRun: true } } }).obj())}/Drifted/score` });
    expect(r.status.phase).toBe('Running'); // warn only
  });

  test('spec.monitoring removed mid-run: the Drifted condition goes with it', () => {
    const before = reconcile(input(baseline(), [scores(100, 0.5, 1), scores(100, 0.5, 1)], [true, false], { monitoring: { baseline: { previousRun: true } } }));
    expect(cond(before, 'Drifted')?.status).toBe('True');
    const next = input(baseline(), [scores(100, 0.5, 1), scores(100, 0.5, 1)], [true, false]);
    next.bij.status = { ...before.status, runId: currentRun(next.bij as never) };
    const after = reconcile(next);
    expect(after.status.runId).toBe(next.bij.status.runId);
    expect(cond(after, 'Drifted')).toBeUndefined();
    // The baseline stays the one frozen with the plan: the figures still say how far the run is from it.
    expect(after.status.outputs?.[0].psi).toBeGreaterThan(0.2);
  });

  test('no baseline yet (previousRun on the first run): False, NoBaseline, with the planner\'s note', () => {
    const r = reconcile(input({ note: 'no committed run at s3://scores/churn/ yet' }, [scores(10, 0, 1), scores(10, 0, 1)], [true, true], { monitoring: { baseline: { previousRun: true } } }));
    expect(cond(r, 'Drifted')).toMatchObject({ status: 'False', reason: 'NoBaseline', message: 'no committed run at s3://scores/churn/ yet' });
    expect(r.status.phase).toBe('Merging'); // on to the commit
  });
});

describe('failPSI', () => {
  const spec = { monitoring: { baseline: { uri: 's3://scores/churn/prev/' }, warnPSI: 0.1, failPSI: 1 } };
  test('every shard done, PSI above failPSI: Failed (Drifted) before the commit, naming the column and figure', () => {
    const r = reconcile(input(baseline(), [scores(100, 0.9, 1), scores(100, 0.9, 1)], [true, true], spec));
    expect(r.status.phase).toBe('Failed');
    expect(r.actions.commit).toBeUndefined();
    expect(cond(r, 'Failed')).toMatchObject({ status: 'True', reason: 'Drifted' });
    expect(r.status.message).toMatch(/^output column score: PSI [0-9.]+ against baseline run rbase000000, .* over 200 values of all 2 shards: above spec\.monitoring\.failPSI 1; run r[0-9a-f]+ is not committed$/);
    expect(reasons(r)).toContain('Drifted');
  });

  test.each([
    ['below failPSI (above warnPSI): committed', [scores(100, 0.05, 1), scores(100, 0.05, 1)], [true, true], 'Merging'],
    ['above failPSI but a shard still runs: not yet decided', [scores(100, 0.9, 1), scores(50, 0.9, 1)], [true, false], 'Running'],
  ] as const)('%s', (_name, stats, done, phase) => {
    const r = reconcile(input(baseline(), [...stats], [...done], spec));
    expect(r.status.phase).toBe(phase);
    expect(cond(r, 'Drifted')?.status).toBe('True');
  });
});

describe('runStats', () => {
  test('a shard without statistics (an older worker) leaves the run incomplete; none at all gives none', () => {
    const bij = makeBIJ().obj();
    const i = makeInput(bij).uniformPlan(2).attempts(attempt(0).shard(0).succeeded(), attempt(0).shard(1).succeeded()).manifest(0, 0).manifest(1, 0).obj();
    const shards = [0, 1].map((s) => ({ index: s, chosen: i.manifests.get(s)![0], active: [] })) as never;
    expect(runStats(shards, undefined)).toEqual({ shards: 0, complete: false });
    i.manifests.get(0)![0].outputs = scores(10, 0, 1);
    expect(runStats(shards, undefined)).toMatchObject({ shards: 1, complete: false });
  });

  test('shards whose bins differ: no statistics, and the problem names the shard', () => {
    const other = new ColumnAccumulator({ min: 0, max: 2, bins: 20, source: 'sample' });
    other.add([1]);
    const shards = [
      { index: 0, chosen: { attempt: 0, rows: { read: 1, scored: 1, failed: 0 }, outputs: scores(1, 0, 1) }, active: [] },
      { index: 1, chosen: { attempt: 2, rows: { read: 1, scored: 1, failed: 0 }, outputs: { score: other.finish() } }, active: [] },
    ] as never;
    expect(runStats(shards, undefined).problem).toMatch(/output column score: .*different bins.*at shard 1 attempt 2/);
  });
});
