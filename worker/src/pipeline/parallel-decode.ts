/**
 * The decode stage with several decoder threads, for nodes whose model outruns one thread's decoding
 * (a GPU scores a small model far faster than one core decodes Parquet).
 *
 * The shard's row groups are dealt round-robin to `decoders` readers. Each is a readShardRanges over
 * its own row groups, with its own parquet-wasm thread, checks and crash isolation, and runs ahead into
 * a bounded channel (`depth` batches). Batches come out in plan order: every row of row group g from
 * reader g % decoders, then row group g + 1. Batches never span row groups, so a row group is done
 * exactly when its planned row count has been taken. Memory: about decoders x (depth + 1) batches.
 *
 * Read-ahead: with one decoder, `readAhead` row groups are fetched ahead (readShardRanges). With
 * several, each reader fetches a row group when it starts it, and the readers' fetches overlap one
 * another's decoding instead (`readAhead` has no further effect).
 */
import type * as arrow from 'apache-arrow';
import { BadInputError } from '../../../core/src/contract/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import {
  arrowBatches, checkRanges, newReadStats, packedBatches, readShard,
  type BatchKind, type PackedRows, type PackSetup, type ReadOptions, type ReadStats, type ShardInput,
} from '../reader/index.js';
import { pipe, type Channel } from './channel.js';

export interface ParallelReadOptions extends ReadOptions {
  /** Decoder threads (1: readShardRanges itself). */
  decoders: number;
  /** Batches each reader decodes ahead of the consumer (default 2). */
  depth?: number;
}

/** The most decoder threads a worker starts (each holds its own wasm memory). */
export const MAX_DECODERS = 16;

/**
 * Decoder threads for a pod with `cpus` CPUs, 1 to MAX_DECODERS. With the model on a GPU, its thread
 * needs about one CPU to feed it and the encoder about one: every other CPU decodes (`cpus - 2`; a GPU
 * node's 8-16 CPUs give 6-14 decoders). With the model on the CPU, ONNX Runtime needs cores as much as
 * decoding does: half of them. On 2 cores either way that is one: a second decoder only takes CPU
 * from the model and the encoder there.
 */
export function defaultDecoders(cpus: number, model: 'gpu' | 'cpu' = 'cpu'): number {
  const n = model === 'gpu' ? cpus - 2 : Math.floor(cpus / 2);
  return Math.max(1, Math.min(MAX_DECODERS, n));
}

/**
 * ONNX Runtime's intra-op threads beside `decoders` decoder threads: with the model on the CPU, the
 * CPUs the decoders leave (at least one), so the two halves do not both claim every core; undefined
 * with the model on a GPU (the session's default: its threads only run what the GPU does not). On 2
 * cores, one thread instead of two used 3-9% less CPU end to end, at the same rate or up to 10% faster.
 */
export function defaultModelThreads(cpus: number, model: 'gpu' | 'cpu', decoders: number): number | undefined {
  return model === 'cpu' ? Math.max(1, cpus - decoders) : undefined;
}

const STATS_KEYS = Object.keys(newReadStats()) as (keyof ReadStats)[];

/** The shard's rows as Arrow record batches, from `options.decoders` threads. */
export function readShardParallel(
  storage: Storage, shard: ShardInput, options: ParallelReadOptions,
): AsyncGenerator<arrow.RecordBatch, void, undefined> {
  return readParallel(storage, shard, options, arrowBatches);
}

/** The shard's rows packed into the model's input tensors in the decoder threads (reader/packed.ts). */
export function readShardParallelPacked(
  storage: Storage, shard: ShardInput, options: ParallelReadOptions & { pack: PackSetup },
): AsyncGenerator<PackedRows, void, undefined> {
  return readParallel(storage, shard, options, packedBatches(options.pack, [...new Set(options.columns)]));
}

async function* readParallel<T>(
  storage: Storage, shard: ShardInput, options: ParallelReadOptions, kind: BatchKind<T>,
): AsyncGenerator<T, void, undefined> {
  checkRanges(shard);
  const order: { file: number; rowGroup: number; rows: number }[] = [];
  for (const r of shard.ranges) {
    for (let g = r.rowGroupStart; g < r.rowGroupEnd; g++) order.push({ file: r.file, rowGroup: g, rows: shard.files[r.file].rowGroupRows[g] });
  }
  const k = Math.max(1, Math.min(Math.floor(options.decoders), MAX_DECODERS, order.length));
  if (k === 1) {
    yield* readShard(storage, shard, options, kind);
    return;
  }
  // Counters: the caller's plus the readers' (like readShardRanges, which adds to them); every reader
  // opens the files of its row groups, so files count once each here, as row groups reach the caller.
  const stats = options.stats ?? newReadStats();
  const base = { ...stats };
  const own = Array.from({ length: k }, () => newReadStats());
  const files = new Set<number>();
  const total = (): void => {
    for (const key of STATS_KEYS) stats[key] = base[key] + own.reduce((a, s) => a + s[key], 0);
    stats.files = base.files + files.size;
  };
  const channels: Channel<T>[] = own.map((s, j) => {
    const ranges = order.filter((_, i) => i % k === j)
      .map((o) => ({ file: o.file, rowGroupStart: o.rowGroup, rowGroupEnd: o.rowGroup + 1, rows: o.rows }));
    return pipe<T>(options.depth ?? 2, async (send) => {
      for await (const b of readShard(storage, { files: shard.files, ranges }, { ...options, stats: s }, kind)) await send(b);
    });
  });
  const readers = channels.map((c) => c[Symbol.asyncIterator]());
  // More rows than the footer says: the reader finds it too, but only after handing over the surplus,
  // which must not pass for the start of that reader's next row group.
  const surplus = (o: (typeof order)[number]) => new BadInputError(`input file ${shard.files[o.file].uri}: `
    + `row group ${o.rowGroup} decoded to more rows than its footer says (${o.rows})`);
  try {
    for (const [i, o] of order.entries()) {
      files.add(o.file);
      let left = o.rows;
      while (left > 0) {
        const next = await readers[i % k].next();
        if (next.done) {
          // Readers check each row group's count against the footer (a BadInputError), so: a bug.
          throw new Error(`decoder ${i % k} ended with ${left} rows of row group ${o.rowGroup} of ${shard.files[o.file].uri} still to come`);
        }
        const n = kind.rows(next.value);
        if (n > left) throw surplus(o);
        left -= n;
        total();
        yield next.value;
      }
    }
    for (const [j, r] of readers.entries()) {
      const next = await r.next(); // waits for the reader to end (its thread stopped)
      if (!next.done) throw surplus(order[order.length - 1 - ((order.length - 1 - j) % k)]);
    }
  } finally {
    // Done, failed or abandoned: every reader stops (a blocked send wakes up and its thread ends).
    const stop = new Error('the shard read stopped');
    for (const c of channels) c.fail(stop);
    total();
  }
}
