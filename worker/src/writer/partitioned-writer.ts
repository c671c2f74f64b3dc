/**
 * Writes an attempt's output under Hive-style partition folders (spec.output.partitionBy):
 * `<attempt prefix>/<col=value>/.../part-NNNNN-<w>.parquet`, parts of about targetFileBytes per
 * partition. The partition columns name the folders and are not repeated inside the files (as Spark,
 * Hive and pyarrow write them; readers take them from the path).
 *
 * Each batch's rows are routed to their partitions (partition-values.ts) and copied out compactly
 * (take.ts), so a waiting partition keeps no decoded input alive. Each open partition is a PartWriter
 * on the shared encoder thread. At most `maxOpenPartitions` are open, and together they hold at most
 * about `maxOpenBytes` of encoded output: past either bound the least recently used partition's part
 * is closed and uploaded, and the partition opens a new part (numbered on) when its rows come again.
 * So a shard with very many distinct values runs in bounded memory, with no file held open, at the
 * cost of more and smaller files when its values are interleaved; clustered input (sorted by the
 * partition columns, or by date) gets one part per partition per targetFileBytes.
 */
import * as arrow from 'apache-arrow';
import type { OutputFile, PartitionRef } from '../../../core/src/contract/index.js';
import { normalizeBatch } from '../../../core/src/parquet/normalize.js';
import { PartWriter, type PartWriterOptions } from './part-writer.js';
import { routeRows, type RoutedPartition } from '../../../core/src/contract/partition-values.js';
import { takeRows } from './take.js';

export const DEFAULT_MAX_OPEN_PARTITIONS = 16;
/** Encoded bytes all open partitions may hold before the least recently used one is closed. */
export const DEFAULT_MAX_OPEN_BYTES = 256 << 20;

export interface PartitionedWriterOptions extends Omit<PartWriterOptions, 'kind' | 'partition' | 'firstPart'> {
  /** spec.output.partitionBy: the columns, in folder order. */
  partitionBy: readonly string[];
  /** Columns with one value in every row (run columns): their folder text, so rows need not be read. */
  constants?: ReadonlyMap<string, string | null>;
  maxOpenPartitions?: number;
  maxOpenBytes?: number;
}

interface OpenPartition {
  writer: PartWriter;
  ref: PartitionRef;
}

export class PartitionedWriter {
  private readonly open = new Map<string, OpenPartition>(); // insertion order = least recently used first
  /** Parts numbered so far per partition path (a partition closed and opened again numbers on). */
  private readonly partsOf = new Map<string, number>();
  private readonly written: OutputFile[] = [];
  private readonly maxOpen: number;
  private readonly maxOpenBytes: number;
  private rowsAccepted = 0;
  private closed = false;
  /** Times a partition's writer was opened, and closed to make room (for tests and the log). */
  opened = 0;
  evicted = 0;
  /** The most partitions open at once. */
  peakOpen = 0;

  constructor(private readonly options: PartitionedWriterOptions) {
    if (options.partitionBy.length === 0) throw new Error('PartitionedWriter: no partition columns');
    this.maxOpen = options.maxOpenPartitions ?? DEFAULT_MAX_OPEN_PARTITIONS;
    this.maxOpenBytes = options.maxOpenBytes ?? DEFAULT_MAX_OPEN_BYTES;
    if (!(this.maxOpen >= 1)) throw new Error(`PartitionedWriter: maxOpenPartitions must be at least 1, not ${this.maxOpen}`);
  }

  get rows(): number {
    return this.rowsAccepted;
  }

  /** Partitions open now. */
  get openPartitions(): number {
    return this.open.size;
  }

  /** Files written so far (all of them once close() resolved). */
  get files(): readonly OutputFile[] {
    return this.written;
  }

  async write(batch: arrow.RecordBatch): Promise<void> {
    if (this.closed) throw new Error('PartitionedWriter: write after close');
    if (batch.numRows === 0) return;
    const plain = normalizeBatch(batch); // dictionaries decoded: values are read and copied as plain columns
    const routed = routeRows(plain, this.options.partitionBy, this.options.constants);
    const dataColumns = plain.schema.fields.map((f) => f.name).filter((n) => !this.options.partitionBy.includes(n));
    const data = normalizeBatch(plain, dataColumns); // zero-copy: the partition columns go to the path
    // Partitions already open first, so one batch does not close a partition it is about to write.
    const order = [...routed].sort((a, b) => Number(this.open.has(b.path)) - Number(this.open.has(a.path)));
    for (const r of order) {
      const piece = routed.length === 1 ? data : takeRows(data, r.rows);
      const w = await this.writerFor(r);
      await w.write(piece);
      this.rowsAccepted += piece.numRows;
      await this.enforceBytes();
    }
  }

  private async writerFor(r: RoutedPartition): Promise<PartWriter> {
    const hit = this.open.get(r.path);
    if (hit) {
      this.open.delete(r.path);
      this.open.set(r.path, hit); // most recently used
      return hit.writer;
    }
    while (this.open.size >= this.maxOpen) await this.evictOldest();
    const ref: PartitionRef = { path: r.path, values: Object.fromEntries(this.options.partitionBy.map((c, i) => [c, r.values[i]])) };
    const { partitionBy: _p, constants: _c, maxOpenPartitions: _m, maxOpenBytes: _b, ...partOptions } = this.options;
    const writer = new PartWriter({ ...partOptions, kind: 'data', partition: ref, firstPart: this.partsOf.get(r.path) ?? 0 });
    this.open.set(r.path, { writer, ref });
    this.opened++;
    this.peakOpen = Math.max(this.peakOpen, this.open.size);
    return writer;
  }

  private async enforceBytes(): Promise<void> {
    let total = 0;
    for (const p of this.open.values()) total += p.writer.openBytes;
    while (total > this.maxOpenBytes && this.open.size > 1) {
      const [, oldest] = this.open.entries().next().value as [string, OpenPartition];
      total -= oldest.writer.openBytes;
      await this.evictOldest();
    }
  }

  private async evictOldest(): Promise<void> {
    const [path, oldest] = this.open.entries().next().value as [string, OpenPartition];
    this.open.delete(path);
    await this.finish(path, oldest);
    this.evicted++;
  }

  private async finish(path: string, p: OpenPartition): Promise<void> {
    const files = await p.writer.close();
    this.partsOf.set(path, p.writer.partsStarted);
    this.written.push(...files);
  }

  /** Closes every open partition; returns every file written, in the order they were finished. */
  async close(): Promise<OutputFile[]> {
    if (this.closed) throw new Error('PartitionedWriter: closed twice');
    this.closed = true;
    try {
      for (const [path, p] of [...this.open]) {
        this.open.delete(path);
        await this.finish(path, p);
      }
    } catch (e) {
      await this.abort();
      throw e;
    }
    return [...this.written];
  }

  /** Gives up: drops every open part (files already written stay; the attempt has no manifest). */
  async abort(): Promise<void> {
    this.closed = true;
    const open = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(open.map((p) => p.writer.abort()));
  }
}
