/**
 * The source of the parquet-wasm worker thread (see parquet-thread.ts for why a thread). Plain
 * JavaScript in a string, run with `eval: true`, so it works the same from dist/ and under jest.
 * Messages: open (footer), stream (a row group), next (a batch), close, part-open/-append/-close/
 * -abort (a Parquet file written as rows arrive), ping, and
 * `read` requests back to the main thread for byte ranges.
 */
export const THREAD_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
// parquet-wasm's ESM build, instantiated from the module the parent compiled (shared machine code).
let pw;
const ready = import(workerData.esmUrl).then((m) => { m.initSync({ module: workerData.module }); pw = m; });

const files = new Map();   // handle -> ParquetFile
const streams = new Map(); // stream id -> { reader, pending }
const reads = new Map();   // read id -> { resolve, reject }
const parts = new Map();   // part id -> a Parquet file being written (openPart)
let nextReadId = 1;

function fetchRange(file, start, end) {
  return new Promise((resolve, reject) => {
    const rid = nextReadId++;
    reads.set(rid, { resolve, reject });
    parentPort.postMessage({ t: 'read', rid, file, start, end });
  });
}

function clampIndex(i, size) {
  i = Math.trunc(Number(i));
  if (!Number.isFinite(i)) return 0;
  if (i < 0) return Math.max(0, size + i);
  return Math.min(i, size);
}

class RangedBlob extends Blob {
  constructor(file, start, end) {
    super([]);
    this._file = file; this._start = start; this._end = end;
  }
  get size() { return this._end - this._start; }
  get type() { return ''; }
  slice(start, end) {
    const size = this.size;
    const s = start === undefined ? 0 : clampIndex(start, size);
    const e = end === undefined ? size : clampIndex(end, size);
    return new RangedBlob(this._file, this._start + s, this._start + Math.max(s, e));
  }
  async arrayBuffer() {
    if (this._end <= this._start) return new ArrayBuffer(0);
    const bytes = await fetchRange(this._file, this._start, this._end);
    return bytes.buffer;
  }
  async bytes() { return new Uint8Array(await this.arrayBuffer()); }
  stream() { throw new Error('RangedBlob.stream() is not supported'); }
  async text() { return new TextDecoder().decode(await this.arrayBuffer()); }
}

function freeQuietly(obj) {
  if (obj && obj.__wbg_ptr) { try { obj.free(); } catch { /* already consumed */ } }
}

const COMPRESSION = {
  none: 'UNCOMPRESSED',
  snappy: 'SNAPPY',
  gzip: 'GZIP',
  lz4: 'LZ4_RAW',
  zstd: 'ZSTD',
};

// Dictionary encoding only where it pays (strings: ids, regions, labels). On scores and unique ids
// it costs 3x the encode time and grows the file before falling back.
function writerProps(m) {
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression[COMPRESSION[m.compression]])
    .setDictionaryEnabled(false)
    .setKeyValueMetadata(new Map(Object.entries(m.keyValueMetadata || {})));
  for (const col of m.dictionaryColumns || []) builder = builder.setColumnDictionaryEnabled(col, true);
  for (const col of m.deltaColumns || []) builder = builder.setColumnEncoding(col, pw.Encoding.DELTA_BINARY_PACKED);
  if (m.maxRowGroupRows) builder = builder.setMaxRowGroupSize(m.maxRowGroupRows);
  if (m.createdBy) builder = builder.setCreatedBy(m.createdBy);
  return builder.build();
}

/**
 * A Parquet file written as its rows arrive (parquet-wasm's transformParquetStream): each appended
 * IPC stream is encoded at once, and each row group's bytes are kept as it completes, so encoding
 * overlaps whatever produces the rows instead of all happening when the file is cut.
 */
function openPart(m) {
  const st = { pending: [], wake: null, ended: false, error: null, chunks: [], done: null, fail: null, rows: 0,
    closeTimeoutMs: m.closeTimeoutMs || 120000 };
  st.fail = (e) => {
    if (!st.error) st.error = e;
    st.ended = true;
    for (const p of st.pending.splice(0)) p.reject(st.error);
    if (st.wake) st.wake();
  };
  const input = new ReadableStream({
    async pull(controller) {
      while (st.pending.length === 0 && !st.ended) await new Promise((r) => { st.wake = r; });
      st.wake = null;
      if (st.error) { controller.error(st.error); return; }
      const next = st.pending.shift();
      if (!next) { controller.close(); return; }
      let table;
      try {
        table = pw.Table.fromIPCStream(next.ipc);
        for (const rb of table.recordBatches()) {
          st.rows += rb.numRows;
          controller.enqueue(rb);
        }
      } catch (e) {
        next.reject(e);
        st.fail(e);
        controller.error(e);
        return;
      } finally {
        freeQuietly(table);
      }
      next.resolve();
    },
  }, { highWaterMark: 0 });
  st.done = (async () => {
    const out = await pw.transformParquetStream(input, writerProps(m));
    for await (const chunk of out) {
      if (st.error) throw st.error;
      st.chunks.push(chunk);
    }
    if (st.error) throw st.error;
  })();
  st.done.catch((e) => st.fail(e));
  return st;
}

/** Rows a Parquet file's footer says it holds. */
async function footerRows(bytes) {
  const pf = await pw.ParquetFile.fromFile(new Blob([bytes]));
  const md = pf.metadata();
  const fmd = md.fileMetadata();
  try {
    return Number(fmd.numRows());
  } finally {
    freeQuietly(fmd); freeQuietly(md); freeQuietly(pf);
  }
}

async function handle(m) {
  await ready;
  switch (m.op) {
    case 'open': {
      const pf = await pw.ParquetFile.fromFile(new RangedBlob(m.file, 0, m.size));
      files.set(m.file, pf);
      const md = pf.metadata();
      try {
        const n = md.numRowGroups();
        const rowGroupRows = [];
        for (let i = 0; i < n; i++) {
          const rg = md.rowGroup(i);
          rowGroupRows.push(rg.numRows());
          freeQuietly(rg);
        }
        const fmd = md.fileMetadata();
        const numRows = fmd.numRows();
        const createdBy = fmd.createdBy();
        const kv = {};
        for (const [k, v] of fmd.keyValueMetadata()) kv[String(k)] = v == null ? '' : String(v);
        freeQuietly(fmd);
        const schema = pf.schema().intoIPCStream();
        return [{ rowGroupRows, numRows, createdBy, keyValueMetadata: kv, schema }, [schema.buffer]];
      } finally {
        freeQuietly(md);
      }
    }
    case 'stream': {
      const pf = files.get(m.file);
      if (!pf) throw new Error('file handle ' + m.file + ' is not open');
      const s = await pf.stream({ rowGroups: [m.rowGroup], columns: m.columns, batchSize: m.batchSize });
      const reader = s.getReader();
      // Start decoding the first batch at once: this fetches the row group's column chunks (read-ahead).
      const st = { reader, pending: reader.read() };
      st.pending.catch(() => {});
      streams.set(m.id, st);
      return [true];
    }
    case 'next': {
      const st = streams.get(m.stream);
      if (!st) throw new Error('stream ' + m.stream + ' is not open');
      const r = await st.pending;
      if (r.done) { streams.delete(m.stream); return [{ done: true }]; }
      // Decode the following batch while the caller works on this one.
      st.pending = st.reader.read();
      st.pending.catch(() => {});
      const rows = r.value.numRows;
      const ipc = r.value.intoIPCStream();
      freeQuietly(r.value);
      return [{ done: false, rows, ipc }, [ipc.buffer]];
    }
    case 'close': {
      const pf = files.get(m.file);
      files.delete(m.file);
      freeQuietly(pf);
      return [true];
    }
    case 'ping':
      return [true]; // answered once parquet-wasm is instantiated: the thread is ready
    case 'part-open': {
      parts.set(m.part, openPart(m));
      return [true];
    }
    case 'part-append': {
      const st = parts.get(m.part);
      if (!st) throw new Error('part ' + m.part + ' is not open');
      if (st.error) throw st.error;
      // Resolves when the encoder takes these rows (it has finished the ones before): backpressure.
      await new Promise((resolve, reject) => {
        st.pending.push({ ipc: m.ipc, resolve, reject });
        if (st.wake) st.wake();
      });
      return [true];
    }
    case 'part-close': {
      const st = parts.get(m.part);
      if (!st) throw new Error('part ' + m.part + ' is not open');
      st.ended = true;
      if (st.wake) st.wake();
      // parquet-wasm's stream writer drops write errors on the floor: a batch it could not take
      // leaves its output open forever, or short of rows. Neither may pass for a finished file.
      let timer;
      try {
        await Promise.race([st.done, new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the Parquet encoder did not finish the part within ' + st.closeTimeoutMs + ' ms')), st.closeTimeoutMs);
        })]);
      } catch (e) {
        st.fail(e);
        throw e;
      } finally {
        clearTimeout(timer);
        parts.delete(m.part);
      }
      let n = 0;
      for (const c of st.chunks) n += c.byteLength;
      const out = new Uint8Array(n);
      let at = 0;
      for (const c of st.chunks) { out.set(c, at); at += c.byteLength; }
      st.chunks = [];
      const written = await footerRows(out);
      if (written !== st.rows) throw new Error('the Parquet encoder wrote ' + written + ' rows of the ' + st.rows + ' it was given');
      return [out, [out.buffer]];
    }
    case 'part-abort': {
      const st = parts.get(m.part);
      parts.delete(m.part);
      if (st) {
        st.fail(new Error('the part was aborted'));
        await st.done.catch(() => {});
      }
      return [true];
    }
    default:
      throw new Error('unknown op ' + m.op);
  }
}

parentPort.on('message', (m) => {
  if (m.t === 'data') {
    const r = reads.get(m.rid);
    if (!r) return;
    reads.delete(m.rid);
    if (m.error !== undefined) r.reject(new Error(m.error));
    else r.resolve(m.bytes);
    return;
  }
  handle(m).then(
    ([result, transfer]) => parentPort.postMessage({ t: 'reply', id: m.id, result }, transfer || []),
    (e) => parentPort.postMessage({
      t: 'reply', id: m.id,
      error: { message: String((e && e.message) || e), name: String((e && e.name) || 'Error'), fatal: e instanceof WebAssembly.RuntimeError },
    }),
  );
});
`;
