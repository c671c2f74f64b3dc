/**
 * A copy of a RecordBatch that owns its memory. An output batch's id and passthrough columns are
 * zero-copy slices of the decoded input batch, whose buffers are views into one allocation holding
 * every input column. Buffered as they are, the 8 bytes of an id would pin the 70-odd bytes of its
 * whole input row until the part is written: several GB for a 128 MiB part of a wide input. Copying
 * just the viewed ranges costs one memcpy of the kept bytes.
 */
import * as arrow from 'apache-arrow';

type Buf = ArrayBufferView & { slice(): Buf };
const copyOf = <T>(b: T): T => (b ? ((b as unknown as Buf).slice() as unknown as T) : b);

function ownData(d: arrow.Data): arrow.Data {
  // Fixed-width values and offsets are already cut to the slice (arrow-js subarrays them); the
  // validity bitmap is not (it is read at `offset + i`), so it is copied whole: 1 bit per row.
  const buffers = [copyOf(d.valueOffsets), copyOf(d.values), copyOf(d.nullBitmap), copyOf(d.typeIds)];
  return new arrow.Data(d.type, d.offset, d.length, d.nullCount, buffers as never, d.children.map(ownData), d.dictionary,
    d.variadicBuffers.map((b) => b.slice()));
}

export function ownBuffers(batch: arrow.RecordBatch): arrow.RecordBatch {
  return new arrow.RecordBatch(batch.schema, ownData(batch.data) as arrow.Data<arrow.Struct>);
}

/** Distinct ArrayBuffers a batch keeps alive, in bytes (what it really holds in memory). */
export function retainedBytes(batches: readonly arrow.RecordBatch[]): number {
  const seen = new Set<ArrayBufferLike>();
  const visit = (d: arrow.Data): void => {
    for (const b of [d.valueOffsets, d.values, d.nullBitmap, d.typeIds]) if (b) seen.add((b as ArrayBufferView).buffer);
    d.children.forEach(visit);
  };
  for (const b of batches) visit(b.data);
  let n = 0;
  for (const buf of seen) n += buf.byteLength;
  return n;
}
