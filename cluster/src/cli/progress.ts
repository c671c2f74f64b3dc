/** How `bij run` shows a job's progress: a live bar on a terminal, plain lines otherwise. Pure formatting. */
import type { BatchInferenceJobStatus } from '../../../operator/src/api/status.js';
import { shardsSummary } from '../../../operator/src/reconciler/compute-status.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressView {
  phase: string;
  shards: string;
  rows: string;
  percent: number;
  rate?: number;
  etaSeconds?: number;
}

export function progressView(status: BatchInferenceJobStatus | undefined): ProgressView {
  const phase = status?.phase ?? 'Pending';
  const total = status?.rows?.total ?? 0;
  const done = status?.rows?.processed ?? 0;
  const percent = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  const rate = status?.rowsPerSecond;
  const etaSeconds = rate && rate > 0 && total > done ? (total - done) / rate : undefined;
  const s = status?.shards;
  return {
    phase,
    shards: s ? shardsSummary(s) : '-',
    rows: total > 0 ? `${fmt(done)}/${fmt(total)}` : '-',
    percent,
    rate,
    etaSeconds,
  };
}

export function formatLine(v: ProgressView): string {
  const parts = [
    v.phase.padEnd(9),
    `shards ${v.shards}`,
    `rows ${v.rows} (${v.percent.toFixed(0)}%)`,
  ];
  if (v.rate !== undefined) parts.push(`${fmt(v.rate)} rows/s`);
  if (v.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(v.etaSeconds)}`);
  return parts.join('  ');
}

export function formatBar(v: ProgressView, width = 24): string {
  const filled = Math.round((v.percent / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatLine(v)}`;
}

/** Writes progress to a stream: redraws one line on a TTY, prints a line per change otherwise. */
export class ProgressPrinter {
  private last = '';
  private lastPlainAt = 0;
  constructor(private readonly out: NodeJS.WriteStream | NodeJS.WritableStream, private readonly tty: boolean) {}

  update(status: BatchInferenceJobStatus | undefined, nowMs = Date.now()): void {
    const v = progressView(status);
    if (this.tty) {
      const line = formatBar(v);
      if (line !== this.last) this.out.write(`\r\x1b[2K${line}`);
      this.last = line;
      return;
    }
    // Plain output: a line when the phase or shard count changes, else at most every 5 s.
    const key = `${v.phase} ${v.shards}`;
    if (key !== this.last || nowMs - this.lastPlainAt >= 5_000) {
      this.out.write(formatLine(v) + '\n');
      this.last = key;
      this.lastPlainAt = nowMs;
    }
  }

  finish(): void {
    if (this.tty && this.last) this.out.write('\n');
    this.last = '';
  }
}
