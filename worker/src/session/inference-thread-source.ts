/**
 * The source of the inference worker thread (see inference-thread.ts for why a thread). Plain
 * JavaScript in a string, run with `eval: true`, so it works the same from dist/ and under jest.
 *
 * It loads onnxruntime-node from the absolute path the main thread resolved, posts `ready` (or dies,
 * which the client reports as "cannot load onnxruntime-node in a worker thread"), and then serves
 * requests one at a time, in the order they arrive:
 *   load {bytes}            keep the model's bytes (transferred) for the sessions to come
 *   create {sid, options}   an InferenceSession from those bytes; replies with its metadata
 *   unload                  drop the bytes (every session needed is created)
 *   run {sid, feeds, names} one run; feeds/outputs are {name, type, dims, data} with transferred buffers
 *   score {sid, feeds, rows, fixedBatch, maxBatch, names}
 *                           the rows in runs of at most maxBatch (exactly fixedBatch, zero-padded),
 *                           back to back, outputs concatenated: the same as tensors/batch.ts
 *                           runInBatches, which it mirrors (tests compare the two paths)
 *   release {sid}           release a session
 *   crash                   test only: an uncaught exception ends the thread
 * No template placeholders may appear below (this is a TypeScript template string).
 */
export const INFERENCE_THREAD_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);

let modelBytes = null;
const sessions = new Map();

function badInput(message) {
  const e = new Error(message);
  e.badInput = true;
  return e;
}

function session(sid) {
  const s = sessions.get(sid);
  if (!s) throw new Error('no session ' + sid + ' in the inference thread');
  return s;
}

// float16 data goes to the binding as a Uint16Array of the bits: see ortTensor in session.ts.
function toOrt(f, data, dims) {
  const t = new ort.Tensor(f.type, data, dims);
  if (f.type === 'float16') t.cpuData = new Uint16Array(data.buffer, data.byteOffset, data.length);
  return t;
}

function wireOutputs(result, transfer) {
  const out = [];
  const seen = new Set();
  for (const name of Object.keys(result)) {
    const t = result[name];
    out.push({ name, type: t.type, dims: Array.from(t.dims), data: t.data });
    if (t.data && t.data.buffer && !seen.has(t.data.buffer)) { seen.add(t.data.buffer); transfer.push(t.data.buffer); }
  }
  return out;
}

// The inputs of a finished run are garbage (the main thread moved or copied them here): freed now
// (detached) rather than at V8's next collection of this thread, which lets tens of MiB of them pile
// up. An input buffer that is also an output (moved back in transfer) is left alone.
function releaseFeeds(feeds, transfer) {
  for (const f of feeds) {
    const b = f.data && f.data.buffer;
    if (b instanceof ArrayBuffer && !b.detached && !transfer.includes(b)) b.transfer(0);
  }
}

function rowSize(dims) {
  let n = 1;
  for (let i = 1; i < dims.length; i++) n *= dims[i];
  return n;
}

function sliceRows(data, dims, start, count, padTo) {
  const rs = rowSize(dims);
  const part = data.subarray(start * rs, (start + count) * rs);
  if (padTo <= count) return part;
  const out = new data.constructor(padTo * rs);
  out.set(part);
  return out;
}

function concatRows(parts) {
  if (parts.length === 1) return parts[0];
  let total = 0;
  let rows = 0;
  for (const p of parts) { total += p.data.length; rows += p.dims[0]; }
  const data = new parts[0].data.constructor(total);
  let at = 0;
  for (const p of parts) { data.set(p.data, at); at += p.data.length; }
  return { type: parts[0].type, dims: [rows].concat(parts[0].dims.slice(1)), data };
}

async function score(s, m) {
  const rows = m.rows;
  const fixed = m.fixedBatch;
  const size = fixed != null ? fixed : Math.max(1, Math.min(m.maxBatch != null ? m.maxBatch : rows, rows));
  const chunks = [];
  if (rows === 0) chunks.push([0, 0]);
  else for (let start = 0; start < rows; start += size) chunks.push([start, Math.min(size, rows - start)]);
  const parts = new Map();
  for (const [start, count] of chunks) {
    const fed = fixed != null ? fixed : Math.max(count, 1);
    const inputs = {};
    for (const f of m.feeds) inputs[f.name] = toOrt(f, sliceRows(f.data, f.dims, start, count, fed), [fed].concat(f.dims.slice(1)));
    const result = m.names ? await s.run(inputs, m.names) : await s.run(inputs);
    for (const name of Object.keys(result)) {
      const out = result[name];
      const dims = Array.from(out.dims);
      if (dims.length === 0 || dims[0] !== fed) {
        throw badInput("model output '" + name + "' has shape [" + dims.join(', ') + '] for a batch of ' + fed
          + ' rows; mapped outputs must have the batch as their first dimension');
      }
      const part = count === fed ? { type: out.type, dims, data: out.data }
        : { type: out.type, dims: [count].concat(dims.slice(1)), data: sliceRows(out.data, dims, 0, count, count) };
      if (!parts.has(name)) parts.set(name, []);
      parts.get(name).push(part);
    }
  }
  const result = {};
  for (const [name, ps] of parts) result[name] = concatRows(ps);
  return result;
}

async function handle(m) {
  switch (m.op) {
    case 'load':
      modelBytes = m.bytes;
      return [true];
    case 'create': {
      if (!modelBytes) throw new Error('no model bytes loaded in the inference thread');
      const s = await ort.InferenceSession.create(modelBytes, m.options);
      sessions.set(m.sid, s);
      return [{ inputs: s.inputMetadata, outputs: s.outputMetadata }];
    }
    case 'unload':
      modelBytes = null;
      return [true];
    case 'run': {
      const s = session(m.sid);
      const inputs = {};
      for (const f of m.feeds) inputs[f.name] = toOrt(f, f.data, f.dims);
      const result = m.names ? await s.run(inputs, m.names) : await s.run(inputs);
      const transfer = [];
      return [wireOutputs(result, transfer), transfer];
    }
    case 'score': {
      const t0 = performance.now();
      const result = await score(session(m.sid), m);
      const transfer = [];
      const reply = [{ outputs: wireOutputs(result, transfer), ms: performance.now() - t0 }, transfer];
      releaseFeeds(m.feeds, transfer);
      return reply;
    }
    case 'release': {
      const s = sessions.get(m.sid);
      sessions.delete(m.sid);
      if (s) await s.release();
      return [true];
    }
    case 'crash':
      setImmediate(() => { throw new Error('inference thread crash requested (test)'); });
      return [true];
    default:
      throw new Error('unknown op ' + m.op);
  }
}

// One request at a time, in order: a request that arrives while a run is in progress waits here,
// ready to start the moment that run ends.
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(() => handle(m)).then(
    ([result, transfer]) => parentPort.postMessage({ t: 'reply', id: m.id, result }, transfer || []),
    (e) => parentPort.postMessage({
      t: 'reply', id: m.id,
      error: { message: String((e && e.message) || e), name: String((e && e.name) || 'Error'), badInput: Boolean(e && e.badInput) },
    }),
  );
});
parentPort.postMessage({ t: 'ready' });
`;
