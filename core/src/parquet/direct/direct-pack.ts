/**
 * A batch of a directly decoded row group packed in one pass: each feature column's values go from
 * its page (or its dictionary) straight into the model's row-major input tensor, with no column
 * buffer between and no second copy (thread-fast-pack.ts is the same packing for batches that come
 * as columns: parquet-wasm's, in wasm memory). The kept columns (id, passthrough) are taken as columns.
 *
 * It packs what thread-fast-pack.ts packs (float inputs made of numeric columns, every row good) and
 * gives up on the same things: the general path then packs the batch by every rule.
 */
import type { PackedTensor } from '../../tensors/types.js';
import { releaseBuffer } from '../../threads/transfer.js';
import { keptColumn, packedReply } from '../thread-fast-pack.js';
import type { PackSpec, WireColumn, WirePacked } from '../thread-protocol.js';
import type { StridedTarget } from './column-cursor.js';
import type { DirectRowGroup } from './direct-row-group.js';

/** Formats whose values a float tensor takes with a plain store (column-cursor.ts takeInto). */
const NUMERIC = new Set(['f', 'g', 'i']);

export type DirectPacked = { packed: WirePacked; transfer: ArrayBuffer[] };

/**
 * The next `n` rows of `group` packed for `spec`:
 * - undefined when the spec's shape is not one this packs (nothing is taken: pack the batch from
 *   its columns instead, group.take);
 * - null when the rows, once taken, could not be packed here (a null or a value that is not finite):
 *   the group is given up, and its rows from `group.position` before the call decoded again;
 * - else the packed batch.
 */
export function packDirect(group: DirectRowGroup, n: number, spec: PackSpec): DirectPacked | null | undefined {
  const formats = group.formats;
  const kept = new Set([...spec.keep, spec.idColumn]);
  for (const name of kept) if (!formats.has(name)) return undefined;
  const into = new Map<string, StridedTarget>();
  const rows = Math.min(n, group.left);
  const tensors: PackedTensor[] = [];
  for (const ip of spec.plan.inputs) {
    if ((ip.type !== 'float32' && ip.type !== 'float64') || ip.source.kind !== 'columns') return undefined;
    const width = ip.source.columns.length;
    if (ip.width !== width) return undefined;
    const dst = ip.type === 'float32' ? new Float32Array(rows * width) : new Float64Array(rows * width);
    for (const [j, name] of ip.source.columns.entries()) {
      // A column fed twice, or also kept, is packed from its column (group.take) instead.
      if (into.has(name) || kept.has(name) || !NUMERIC.has(formats.get(name) ?? '')) return undefined;
      into.set(name, { dst, at: j, stride: width });
    }
    tensors.push({ name: ip.name, type: ip.type, dims: [rows, ...(ip.rowDims ?? [width])], data: dst });
  }
  const { columns, written } = group.takeSplit(rows, into);
  try {
    if (!written) return null;
    const byName = new Map(columns.map((c) => [c.name, c]));
    const id = byName.get(spec.idColumn);
    if (!id || id.nullCount !== 0) return null; // a null id makes its row an error row: the general path
    const keptColumns: WireColumn[] = [];
    for (const name of new Set(spec.keep)) {
      const c = byName.get(name);
      const k = c?.mem && keptColumn(c.mem, c);
      if (!k) return null;
      keptColumns.push(k);
    }
    return packedReply(rows, tensors, keptColumns);
  } finally {
    for (const c of columns) if (c.mem) releaseBuffer(c.mem); // copied out, or given up
  }
}
