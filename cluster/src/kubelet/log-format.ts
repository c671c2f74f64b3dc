/**
 * Pure: pod logs in the CRI log format the real kubelet reads (`<RFC3339Nano> <stream> <F|P> <content>`
 * per line: F ends a line, P is part of a longer one), and the selection `kubectl logs` asks for:
 * sinceTime, tailLines, timestamps and limitBytes.
 */

export type Stream = 'stdout' | 'stderr';

export interface LogEntry {
  time: string;
  stream: Stream;
  /** True when the entry ends a line (F); false for a part of one (P). */
  full: boolean;
  content: string;
}

/** Lines longer than this are split into P entries, as the kubelet does. */
export const MAX_ENTRY_BYTES = 16 * 1024;

/** RFC 3339 with nanoseconds, as Go prints it (trailing zeros of the fraction dropped). */
export function rfc3339Nano(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const iso = new Date(whole).toISOString(); // ...THH:MM:SS.mmmZ
  const nanos = String(Math.floor((epochMs - whole) * 1e6) + (whole % 1000) * 1e6).padStart(9, '0').slice(0, 9).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${nanos ? `.${nanos}` : ''}Z`;
}

export function formatEntry(e: LogEntry): string {
  return `${e.time} ${e.stream} ${e.full ? 'F' : 'P'} ${e.content}\n`;
}

/** Parses a log file's text; a malformed line (or an unfinished last line) is skipped. */
export function parseEntries(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
    if (m) out.push({ time: m[1], stream: m[2] as Stream, full: m[3] === 'F', content: m[4] });
  }
  return out;
}

/** Splits a stream's output into entries: complete lines now, the rest kept in `pending` for later. */
export class LineSplitter {
  private pending = '';
  constructor(private readonly stream: Stream, private readonly now: () => number = () => performance.timeOrigin + performance.now()) {}

  push(chunk: string): LogEntry[] {
    this.pending += chunk;
    const out: LogEntry[] = [];
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.emit(this.pending.slice(0, nl), true, out);
      this.pending = this.pending.slice(nl + 1);
    }
    while (Buffer.byteLength(this.pending) > MAX_ENTRY_BYTES) {
      this.emit(this.pending.slice(0, MAX_ENTRY_BYTES / 4), false, out);
      this.pending = this.pending.slice(MAX_ENTRY_BYTES / 4);
    }
    return out;
  }

  /** At the process's end: what is left, as a P entry (its line never ended). */
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    if (this.pending !== '') this.emit(this.pending, false, out);
    this.pending = '';
    return out;
  }

  private emit(content: string, full: boolean, out: LogEntry[]): void {
    out.push({ time: rfc3339Nano(this.now()), stream: this.stream, full, content });
  }
}

export interface LogQuery {
  timestamps?: boolean;
  tailLines?: number;
  /** Only entries at or after this time (from sinceSeconds or sinceTime). */
  since?: Date;
}

/** The text of the entries `kubectl logs` asks for (limitBytes is applied by the caller, across a follow). */
export function renderEntries(entries: LogEntry[], q: LogQuery): string {
  let chosen = q.since ? entries.filter((e) => Date.parse(e.time) >= q.since!.getTime()) : entries;
  if (q.tailLines !== undefined) {
    // count lines from the end: a line is a run of P entries closed by an F entry (or the unfinished last one)
    let lines = 0;
    let i = chosen.length;
    while (i > 0) {
      const e = chosen[i - 1];
      if (e.full || i === chosen.length) {
        if (lines === q.tailLines) break;
        lines++;
      }
      i--;
    }
    chosen = chosen.slice(i);
  }
  return chosen.map((e) => `${q.timestamps ? `${e.time} ` : ''}${e.content}${e.full ? '\n' : ''}`).join('');
}

/** The log's content for FallbackToLogsOnError (timestamps dropped). */
export function plainText(entries: LogEntry[]): string {
  return renderEntries(entries, {});
}
