/**
 * Test support: a Storage over the local filesystem that records every ranged read. Only for tests of
 * the reader and writer (the real backends live in core/src/storage).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../../../core/src/contract/index.js';
import type { ObjectInfo, Storage, WriteOptions } from '../../../core/src/storage/types.js';

export interface RangeRead {
  uri: string;
  start: number;
  end: number;
}

const toPath = (uri: string): string => (uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri));

export class LocalTestStorage implements Storage {
  readonly rangeReads: RangeRead[] = [];
  readonly writes: { uri: string; bytes: number; via: 'write' | 'upload' }[] = [];
  /** Called before each readRange; throw from it to simulate a failing store. */
  onReadRange?: (r: RangeRead) => void | Promise<void>;

  get bytesRead(): number {
    return this.rangeReads.reduce((a, r) => a + (r.end - r.start), 0);
  }

  resetCounters(): void {
    this.rangeReads.length = 0;
    this.writes.length = 0;
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const root = toPath(prefixUri);
    const out: string[] = [];
    const walk = async (p: string): Promise<void> => {
      let st;
      try {
        st = await fs.stat(p);
      } catch {
        return;
      }
      if (st.isDirectory()) {
        for (const e of await fs.readdir(p)) await walk(path.join(p, e));
      } else {
        out.push(p);
      }
    };
    await walk(root);
    out.sort();
    for (const p of out) yield await this.stat(p);
  }

  async stat(uri: string): Promise<ObjectInfo> {
    try {
      const st = await fs.stat(toPath(uri));
      return { uri, size: st.size, etag: `${Math.floor(st.mtimeMs)}-${st.size}` };
    } catch (e) {
      throw new NotFoundError(`no such object: ${uri}`, { cause: e });
    }
  }

  async exists(uri: string): Promise<boolean> {
    return fs.stat(toPath(uri)).then(() => true, () => false);
  }

  async readRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    const r = { uri, start, end };
    this.rangeReads.push(r);
    await this.onReadRange?.(r);
    let fh;
    try {
      fh = await fs.open(toPath(uri), 'r');
    } catch (e) {
      throw new NotFoundError(`no such object: ${uri}`, { cause: e });
    }
    try {
      const buf = new Uint8Array(end - start);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  async read(uri: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await fs.readFile(toPath(uri)));
    } catch (e) {
      throw new NotFoundError(`no such object: ${uri}`, { cause: e });
    }
  }

  async readText(uri: string): Promise<string> {
    return new TextDecoder().decode(await this.read(uri));
  }

  async write(uri: string, data: Uint8Array | string, _options?: WriteOptions): Promise<ObjectInfo> {
    const p = toPath(uri);
    await fs.mkdir(path.dirname(p), { recursive: true });
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const tmp = `${p}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, p);
    this.writes.push({ uri, bytes: bytes.byteLength, via: 'write' });
    return this.stat(uri);
  }

  async upload(uri: string, chunks: AsyncIterable<Uint8Array>): Promise<ObjectInfo> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c.slice()); // a chunk is the caller's once the next is asked for (types.ts)
    const total = parts.reduce((a, c) => a + c.byteLength, 0);
    const all = new Uint8Array(total);
    let off = 0;
    for (const c of parts) {
      all.set(c, off);
      off += c.byteLength;
    }
    const info = await this.write(uri, all);
    this.writes[this.writes.length - 1].via = 'upload';
    return info;
  }

  async copy(fromUri: string, toUri: string): Promise<ObjectInfo> {
    return this.write(toUri, await this.read(fromUri));
  }

  async delete(uri: string): Promise<void> {
    await fs.rm(toPath(uri), { force: true });
  }

  async deletePrefix(prefixUri: string): Promise<number> {
    let n = 0;
    for await (const o of this.list(prefixUri)) {
      await this.delete(o.uri);
      n++;
    }
    return n;
  }

  async abortUploads(): Promise<number> {
    return 0;
  }
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
