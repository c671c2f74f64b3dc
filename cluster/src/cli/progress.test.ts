import { PassThrough } from 'node:stream';
import { formatDuration, formatLine, progressView, ProgressPrinter } from './progress.js';

describe('progress', () => {
  const status = {
    phase: 'Running' as const,
    shards: { total: 8, pending: 3, running: 2, succeeded: 3, failed: 0, retries: 1 },
    rows: { total: 120_000, processed: 45_000, failed: 0 },
    rowsPerSecond: 15_000,
  };
  test('view and line', () => {
    const v = progressView(status);
    expect(v).toMatchObject({ phase: 'Running', shards: '3/8', rows: '45,000/120,000', etaSeconds: 5 });
    expect(formatLine(v)).toBe('Running    shards 3/8  rows 45,000/120,000 (38%)  15,000 rows/s  ETA 5s');
  });
  test('shards waiting for Kueue are shown beside the done ones', () => {
    const v = progressView({ ...status, shards: { ...status.shards, pending: 1, queued: 2 } });
    expect(formatLine(v)).toBe('Running    shards 3/8 (2 queued)  rows 45,000/120,000 (38%)  15,000 rows/s  ETA 5s');
  });
  test('before any status', () => {
    expect(formatLine(progressView(undefined))).toBe('Pending    shards -  rows - (0%)');
  });
  test.each([[5, '5s'], [75, '1m15s'], [3700, '1h01m'], [-1, '?']])('duration %s -> %s', (s, out) => {
    expect(formatDuration(s)).toBe(out);
  });
  test('plain output prints on phase/shard changes, not on every update', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    const p = new ProgressPrinter(out, false);
    p.update(status, 0);
    p.update({ ...status, rows: { ...status.rows, processed: 46_000 } }, 1000);
    p.update({ ...status, shards: { ...status.shards, succeeded: 4 } }, 2000);
    expect(text.trim().split('\n')).toHaveLength(2);
  });
});
