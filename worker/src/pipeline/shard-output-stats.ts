/**
 * The shard's prediction statistics: each output column's values, as they are scored, into a
 * ColumnAccumulator (contract/output-stats.ts). The bins are fixed before the first value is counted,
 * the same for every shard of the run:
 * - a column the baseline run has (plan.monitoring.baseline) takes the baseline's bins (PSI needs them);
 * - the others take the bins in `_bij/<run>/shards/bins.json`: the first attempt to score a batch chooses them
 *   from that batch (layoutFromSample) and writes the file if-none-match; every other attempt (and a
 *   loser of that race) reads the file.
 */
import type * as arrow from 'apache-arrow';
import type { Storage } from '../../../core/src/storage/types.js';
import { AlreadyExistsError } from '../../../core/src/storage/backend-errors.js';
import {
  BadInputError, BinLayoutSchema, ColumnAccumulator, NotFoundError, layoutFromSample, toJson,
  type BinLayout, type OutputStats,
} from '../../../core/src/contract/index.js';
import { z } from 'zod';

const BinsFileSchema = z.object({ kind: z.literal('OutputBins'), columns: z.record(z.string(), BinLayoutSchema) });

/** One data chunk's values as numbers (a fixed-size list's elements, row by row) and their validity. */
function valuesOf(d: arrow.Data): { values: ArrayLike<number | bigint>; valid?: (i: number) => boolean } {
  const child = d.children[0];
  if (child) {
    const w = (d.type as arrow.FixedSizeList).listSize;
    const values = (child.values as ArrayLike<number>) as Float64Array;
    const start = (d.offset * w) + child.offset;
    return {
      values: values.subarray(start, start + d.length * w),
      ...(d.nullCount > 0 ? { valid: (i: number) => d.getValid(Math.floor(i / w)) } : {}),
    };
  }
  const values = d.values as Float64Array;
  return { values: values.subarray(d.offset, d.offset + d.length), ...(d.nullCount > 0 ? { valid: (i: number) => d.getValid(i) } : {}) };
}

export class ShardOutputStats {
  private accumulators?: Map<string, ColumnAccumulator>;

  constructor(
    private readonly storage: Storage,
    /** bins.json of the run. */
    private readonly binsUri: string,
    /** The output columns, in spec order. */
    private readonly columns: readonly string[],
    /** Bins from the baseline run, by column. */
    private readonly fixed: Readonly<Record<string, BinLayout>>,
  ) {}

  /** The bins of every column, choosing those not yet chosen from `sample` (column -> values). */
  private async layouts(sample: ReadonlyMap<string, ArrayLike<number>>): Promise<Record<string, BinLayout>> {
    const out: Record<string, BinLayout> = {};
    const open = this.columns.filter((c) => {
      if (this.fixed[c]) out[c] = { ...this.fixed[c], source: 'baseline' };
      return !this.fixed[c];
    });
    if (open.length === 0) return out;
    let chosen = await this.readBins();
    if (!chosen) {
      const mine: Record<string, BinLayout> = {};
      for (const c of open) mine[c] = layoutFromSample(sample.get(c) ?? []);
      try {
        await this.storage.write(this.binsUri, toJson({ kind: 'OutputBins', columns: mine }, 2) + '\n', { ifNoneMatch: true, contentType: 'application/json' });
        chosen = mine;
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        chosen = await this.readBins();
        if (!chosen) throw new Error(`${this.binsUri} exists but could not be read`, { cause: err });
      }
    }
    for (const c of open) {
      const l = chosen[c];
      if (!l) throw new BadInputError(`${this.binsUri} has no bins for output column ${c}`);
      out[c] = l;
    }
    return out;
  }

  private async readBins(): Promise<Record<string, BinLayout> | undefined> {
    let text: string;
    try {
      text = await this.storage.readText(this.binsUri);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    const parsed = BinsFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new BadInputError(`${this.binsUri} is not an output bins file: ${parsed.error.issues[0]?.message}`);
    return parsed.data.columns;
  }

  private async ready(sample: ReadonlyMap<string, ArrayLike<number>>): Promise<Map<string, ColumnAccumulator>> {
    if (!this.accumulators) {
      const layouts = await this.layouts(sample);
      this.accumulators = new Map(this.columns.map((c) => [c, new ColumnAccumulator(layouts[c])]));
    }
    return this.accumulators;
  }

  /** Counts one batch of output vectors ([column, vector], as unpackOutputs gives them). */
  async add(vectors: readonly [string, arrow.Vector][]): Promise<void> {
    let sample: Map<string, ArrayLike<number>> | undefined;
    if (!this.accumulators) {
      sample = new Map();
      for (const [c, v] of vectors) {
        const nums: number[] = [];
        for (const d of v.data) {
          const { values } = valuesOf(d);
          for (let i = 0; i < values.length; i++) nums.push(Number(values[i]));
        }
        sample.set(c, nums);
      }
    }
    const accs = await this.ready(sample ?? new Map());
    for (const [c, v] of vectors) {
      const acc = accs.get(c);
      if (!acc) continue;
      for (const d of v.data) {
        const { values, valid } = valuesOf(d);
        acc.add(values, valid);
      }
    }
  }

  /** The statistics so far (before the first batch: none). */
  snapshot(): OutputStats | undefined {
    if (!this.accumulators) return undefined;
    const out: OutputStats = {};
    for (const [c, acc] of this.accumulators) out[c] = acc.finish();
    return out;
  }

  /** The final statistics: a shard that scored nothing still records every column, in the run's bins. */
  async finish(): Promise<OutputStats> {
    await this.ready(new Map());
    return this.snapshot() as OutputStats;
  }
}
