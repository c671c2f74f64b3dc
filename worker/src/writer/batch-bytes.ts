/**
 * How many bytes a batch really stands for, and how many it keeps alive.
 *
 * An output batch's id and passthrough columns are zero-copy slices of the decoded input. arrow-js
 * cuts fixed-width values to a slice, but a string or list slice keeps the whole values buffer of
 * its parent (only the offsets are cut), so `data.byteLength` can count a 64K-row string column for
 * a 10-row piece. `logicalBytes` counts only what the rows hold: what part sizing must use.
 */
import * as arrow from 'apache-arrow';

const bitmapBytes = (d: arrow.Data): number => (d.nullCount > 0 ? Math.ceil(d.length / 8) : 0);

function dataBytes(d: arrow.Data): number {
  let n = bitmapBytes(d);
  const t = d.type;
  if (arrow.DataType.isBool(t)) return n + Math.ceil(d.length / 8);
  const offsets = d.valueOffsets as Int32Array | BigInt64Array | undefined;
  if (offsets && d.length > 0) {
    n += (d.length + 1) * offsets.BYTES_PER_ELEMENT;
    const start = Number(offsets[0]);
    const end = Number(offsets[d.length]);
    if (d.children.length > 0) {
      // List / LargeList / Map: the child rows this slice points at.
      for (const c of d.children) n += dataBytes(c.slice(start, end - start));
    } else {
      n += end - start; // Utf8 / Binary: the bytes of these rows' values
    }
    return n;
  }
  if (d.values) n += (d.values as ArrayBufferView).byteLength; // fixed width: already cut to the slice
  for (const c of d.children) n += dataBytes(c); // Struct, FixedSizeList: children cut to the slice
  for (const b of d.variadicBuffers) n += b.byteLength; // views (rare): counted whole
  return n;
}

/** Bytes of the values the batch's rows hold (slices counted as slices). */
export function logicalBytes(batch: arrow.RecordBatch): number {
  let n = 0;
  for (const c of batch.data.children) n += dataBytes(c);
  return n;
}

/** Distinct ArrayBuffers the batches keep alive, in bytes (what they really hold in memory). */
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
