/**
 * Inside a decoder thread: a decoded batch (Arrow IPC from parquet-wasm) -> the model's input tensors,
 * by the same rules and packers as ever (tensors/pack.ts, type-rules.ts), plus the few columns the
 * output keeps. What leaves the thread is only what the main thread needs, in buffers it can take
 * over (the transfer list): the packed tensors, the rows packed and the rows that cannot be scored
 * (with their reasons), and the id and passthrough columns as a small IPC stream.
 *
 * Loaded on the first packing request only (a thread that only encodes never loads Arrow JS).
 */
import * as arrow from 'apache-arrow';
import { normalizeBatch } from './normalize.js';
import { packInputs } from '../tensors/pack.js';
import { transferable } from '../threads/transfer.js';
import type { PackSpec, WirePacked } from './thread-protocol.js';

/** A packed batch, and the buffers to transfer with it. */
export interface PackedForWire {
  packed: WirePacked;
  transfer: ArrayBuffer[];
}

/** Packs the rows of one decoded IPC stream (read as the columns `columns`, in order). */
export function packIpc(ipc: Uint8Array, columns: string[], spec: PackSpec): PackedForWire {
  const batches = arrow.tableFromIPC(ipc).batches.map((b) => normalizeBatch(b, columns));
  // parquet-wasm hands over one record batch at a time: its rows, and its kept columns, are one batch.
  if (batches.length !== 1) throw new Error(`a decoded batch came as ${batches.length} Arrow record batches, not 1`);
  const table = new arrow.Table(batches);
  const p = packInputs(table, spec.plan, { idColumn: spec.idColumn, scoreInfinity: spec.scoreInfinity });
  const taken = new Set<ArrayBuffer>();
  const keep = transferable(arrow.tableToIPC(table.select(spec.keep), 'stream'), true, taken);
  const packed: WirePacked = {
    numRows: table.numRows,
    keep: { ipc: keep },
    goodRows: transferable(p.goodRows, true, taken),
    bad: {
      rows: transferable(p.bad.rows, true, taken),
      reason: transferable(p.bad.reason, true, taken),
      reasons: p.bad.reasons,
      counts: transferable(p.bad.counts, true, taken),
    },
    tensors: p.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims], data: transferable(t.data, true, taken) })),
  };
  return { packed, transfer: [...taken] };
}
