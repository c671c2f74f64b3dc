/** The worker's Parquet reader: footers for the planner, shard streams for the worker. */
export { readFooter, type ParquetFooter, type ParquetColumn, type ReadFooterOptions } from '../../../core/src/parquet/footer.js';
export {
  readShardRanges, readShard, arrowBatches, checkRanges, checkUnchanged, newReadStats,
  type BatchKind, type ShardInput, type ReadOptions, type ReadStats, type ThreadBatch,
} from './shard-reader.js';
export { readShardPacked, packedBatches, readSchema, type PackedRows, type PackSetup } from './packed.js';
export { normalizeBatch, normalizedType, decodeDictionary } from '../../../core/src/parquet/normalize.js';
export { ParquetThread, ParquetThreadError, sharedParquetThread, type WriteCompression } from '../../../core/src/parquet/parquet-thread.js';
