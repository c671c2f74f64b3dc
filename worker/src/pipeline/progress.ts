/** Writes progress.json while a shard runs: rows done and the stage timings so far, cheap for the
 * operator to read. */
import type { Storage } from '../../../core/src/storage/types.js';
import { toJson, type OutputStats, type Progress, type StageTimings } from '../../../core/src/contract/index.js';

export class ProgressReporter {
  private rowsDone = 0;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private lastWritten = -1;

  constructor(
    private readonly storage: Storage,
    private readonly uri: string,
    private readonly base: Omit<Progress, 'rowsDone' | 'updatedAt' | 'timings'>,
    private readonly intervalMs: number,
    /** The stage timings so far, written with each count. */
    private readonly timings?: () => StageTimings,
    /** The output columns' statistics so far, written with each count (live statistics and drift). */
    private readonly outputs?: () => OutputStats | undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  add(rows: number): void {
    this.rowsDone += rows;
  }

  get rows(): number {
    return this.rowsDone;
  }

  /** Writes the current count unless it was already written; writes never overlap. Best effort. */
  flush(): Promise<void> {
    if (this.rowsDone === this.lastWritten) return this.inFlight;
    const rows = this.rowsDone;
    this.inFlight = this.inFlight.then(async () => {
      const p: Progress = { ...this.base, rowsDone: rows, updatedAt: new Date().toISOString() };
      if (this.timings) p.timings = this.timings();
      const outputs = this.outputs?.();
      if (outputs) p.outputs = outputs;
      try {
        await this.storage.write(this.uri, toJson(p));
        this.lastWritten = rows;
      } catch {
        /* progress is advisory: a failed write must not fail the shard */
      }
    });
    return this.inFlight;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
