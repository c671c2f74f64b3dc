/**
 * The inference thread itself (see inference-thread.ts for why a thread, and thread-protocol.ts for
 * the messages). Started by the client as a module file: `dist/worker/src/session/inference-thread-main.js`.
 *
 * It loads onnxruntime-node from the absolute path the client resolved (ThreadData.ortPath: the
 * client's own copy, or a test's), posts `ready` (or dies, which the client reports as "cannot load
 * onnxruntime-node in a worker thread"), and then serves requests one at a time, in the order they
 * arrive: `load` keeps the model's bytes, `create` makes a session of them, `unload` drops the bytes,
 * `run` is one run, `score` runs rows in batches exactly as the session does in process (the same
 * tensors/batch.ts scoreInBatches), and `release` releases a session.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { BadInputError } from '../../../core/src/contract/error-kinds.js';
import { scoreInBatches } from '../tensors/batch.js';
import type { DenseTensor, PackedTensor, TensorData } from '../../../core/src/tensors/types.js';
import { releaseBuffer } from '../../../core/src/threads/transfer.js';
import { retrySmallerOnOom } from './auto-batch.js';
import { ortTensorOf, type OrtModule } from './ort-tensor.js';
import type { Op, Replies, Request, ThreadData, ThreadMessage, WireError, WireTensor } from './thread-protocol.js';

if (!parentPort) throw new Error('inference-thread-main.js runs as a worker thread');
const port = parentPort;
const data = workerData as ThreadData;
const ort = createRequire(import.meta.url)(data.ortPath) as OrtModule;

let modelBytes: Uint8Array | undefined;
const sessions = new Map<number, InferenceSession>();

function session(sid: number): InferenceSession {
  const s = sessions.get(sid);
  if (!s) throw new Error(`no session ${sid} in the inference thread`);
  return s;
}

function post(m: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

const toOrt = (t: { type: string; data: TensorData; dims: readonly number[] }): Tensor => ortTensorOf(ort, t.type, t.data, t.dims);

async function runSession(s: InferenceSession, feeds: readonly { name: string; type: string; data: TensorData; dims: readonly number[] }[], names?: string[]): Promise<Record<string, DenseTensor>> {
  const inputs: Record<string, Tensor> = {};
  for (const f of feeds) inputs[f.name] = toOrt(f);
  const result = names ? await s.run(inputs, names) : await s.run(inputs);
  return result as unknown as Record<string, DenseTensor>;
}

/** The outputs as they cross, each buffer in the transfer list once. */
function wireOutputs(result: Record<string, DenseTensor>, transfer: ArrayBuffer[]): WireTensor[] {
  const seen = new Set<ArrayBufferLike>();
  return Object.entries(result).map(([name, t]) => {
    if (t.data?.buffer && !seen.has(t.data.buffer)) {
      seen.add(t.data.buffer);
      transfer.push(t.data.buffer as ArrayBuffer);
    }
    return { name, type: t.type, dims: Array.from(t.dims), data: t.data };
  });
}

type Answer<K extends Op> = [Replies[K], ArrayBuffer[]?];

async function handle(m: Request): Promise<Answer<Op>> {
  switch (m.op) {
    case 'load':
      modelBytes = m.bytes as Uint8Array;
      return [true];
    case 'create': {
      if (!modelBytes) throw new Error('no model bytes loaded in the inference thread');
      const s = await ort.InferenceSession.create(modelBytes, m.options);
      sessions.set(m.sid, s);
      return [{ inputs: [...s.inputMetadata], outputs: [...s.outputMetadata] }];
    }
    case 'unload':
      modelBytes = undefined;
      return [true];
    case 'run': {
      const transfer: ArrayBuffer[] = [];
      return [wireOutputs(await runSession(session(m.sid), m.feeds, m.names), transfer), transfer];
    }
    case 'score': {
      const t0 = performance.now();
      const s = session(m.sid);
      const r = await scoreInBatches(m.feeds as PackedTensor[], m.rows,
        { fixedBatch: m.fixedBatch, maxBatch: m.maxBatch, retrySmaller: m.shrinkOnOom ? retrySmallerOnOom : undefined },
        (feeds) => runSession(s, feeds, m.names));
      const transfer: ArrayBuffer[] = [];
      const outputs = wireOutputs(r.outputs, transfer);
      releaseFeeds(m.feeds as PackedTensor[], transfer);
      return [{ outputs, ms: performance.now() - t0, size: r.size, oom: r.retried, runs: r.runs }, transfer];
    }
    case 'release': {
      const s = sessions.get(m.sid);
      sessions.delete(m.sid);
      if (s) await s.release();
      return [true];
    }
    default:
      throw new Error(`unknown op ${(m as { op: unknown }).op}`);
  }
}

/** The inputs of a finished run are garbage (the main thread moved or copied them here): freed now
 * rather than at V8's next collection of this thread, which lets tens of MiB of them pile up. An input
 * buffer that is also an output (moved back in `transfer`) is left alone. */
function releaseFeeds(feeds: readonly PackedTensor[], transfer: readonly ArrayBuffer[]): void {
  for (const f of feeds) {
    const b = f.data.buffer;
    if (!transfer.includes(b as ArrayBuffer)) releaseBuffer(b);
  }
}

function wireError(e: unknown): WireError {
  const err = e as { message?: unknown; name?: unknown } | undefined;
  return { message: String(err?.message ?? e), name: String(err?.name ?? 'Error'), badInput: e instanceof BadInputError };
}

// One request at a time, in order: a request that arrives while a run is in progress waits here,
// ready to start the moment that run ends.
let queue: Promise<unknown> = Promise.resolve();
port.on('message', (m: Request) => {
  queue = queue.then(() => handle(m)).then(
    ([result, transfer]) => post({ t: 'reply', id: m.id, result }, transfer ?? []),
    (e: unknown) => post({ t: 'reply', id: m.id, error: wireError(e) }),
  );
});
post({ t: 'ready' });
