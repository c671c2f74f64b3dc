/** The worker's Parquet writer: output parts and errors parts under the attempt prefix. */
export { PartWriter, metadataKeys, type PartWriterOptions, type OutputMetadata } from './part-writer.js';
export { ErrorsWriter, type ErrorsWriterOptions } from './errors-writer.js';
export { encodeParquet, tableOf, schemaKey, DEFAULT_ROW_GROUP_ROWS, type EncodeOptions, type WriteCompression } from './encode.js';
export { PartitionedWriter, type PartitionedWriterOptions } from './partitioned-writer.js';
export { openDataWriter, type DataWriter, type DataWriterOptions } from './data-writer.js';
export { runColumns, runFacts, withRunColumns, type RunColumn, type RunFacts } from './run-columns.js';
