/**
 * The attempt's data writer as spec.output asks for it: run columns (addColumns) appended to every
 * batch, then flat parts (PartWriter) or partition folders (PartitionedWriter).
 */
import type * as arrow from 'apache-arrow';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { OutputFile } from '../../../core/src/contract/index.js';
import { PartWriter, type PartWriterOptions } from './part-writer.js';
import { PartitionedWriter } from './partitioned-writer.js';
import { runColumns, withRunColumns, type RunFacts } from './run-columns.js';

export interface DataWriter {
  write(batch: arrow.RecordBatch): Promise<void>;
  close(): Promise<OutputFile[]>;
  abort(): Promise<void>;
  readonly rows: number;
}

export interface DataWriterOptions extends Omit<PartWriterOptions, 'kind' | 'partition' | 'firstPart'> {
  output: Pick<BatchInferenceJobSpec['output'], 'partitionBy' | 'addColumns' | 'maxOpenPartitions'>;
  facts: RunFacts;
  /** Test hook: encoded bytes all open partitions may hold (partitioned-writer.ts DEFAULT_MAX_OPEN_BYTES). */
  maxOpenBytes?: number;
}

export function openDataWriter(o: DataWriterOptions): DataWriter {
  const { output, facts, maxOpenBytes, ...parts } = o;
  const added = runColumns(output.addColumns ?? [], facts);
  const inner = (output.partitionBy ?? []).length > 0
    ? new PartitionedWriter({
      ...parts, partitionBy: output.partitionBy!, maxOpenPartitions: output.maxOpenPartitions, maxOpenBytes,
      constants: new Map(added.map((c) => [c.name, c.text])),
    })
    : new PartWriter({ ...parts, kind: 'data' });
  return {
    write: (batch) => inner.write(withRunColumns(batch, added)),
    close: () => inner.close(),
    abort: () => inner.abort(),
    get rows() {
      return inner.rows;
    },
  };
}
