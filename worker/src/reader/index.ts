/** The worker's Parquet reader: footers for the planner, shard streams for the worker. */
export { readFooter, type ParquetFooter, type ParquetColumn, type ReadFooterOptions } from './footer.js';
export {
  readShardRanges, checkRanges, checkUnchanged, newReadStats, type ShardInput, type ReadOptions, type ReadStats,
} from './shard-reader.js';
export { normalizeBatch, normalizedType, decodeDictionary } from './normalize.js';
export { ParquetThread, ParquetThreadError, sharedParquetThread, type WriteCompression } from './parquet-thread.js';
