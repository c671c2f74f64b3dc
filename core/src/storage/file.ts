/**
 * Storage on the local file system, with S3's semantics where they differ from a file system's:
 * a list prefix is a string prefix ("dir/" lists a directory, "dir/part-" the files starting so, a file's
 * own path lists that file), writes are atomic (a temp file beside the target, then rename), and
 * deleting what is not there succeeds.
 *
 * Temp files are named `.<name>.bij-tmp-<pid>-<random>` in the target's directory: list() skips them
 * and abortUploads() removes them (the file-system analogue of aborting multipart uploads).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { BadInputError, ChangedError, NotFoundError } from '../contract/error-kinds.js';
import { AlreadyExistsError, changedError, mapFsError } from './backend-errors.js';
import { mapLimit } from './retry.js';
import type { ObjectInfo, ReadOptions, Storage, WriteOptions } from './types.js';
import { encodeFileUriPath, parseUri } from './uri.js';
import { checkRange } from './range.js';

const TMP_MARK = '.bij-tmp-';
const TMP_NAME = /^\.(.+)\.bij-tmp-\d+-[0-9a-f]+$/;

/** Is `name` (a file name, no directory) one of our temp files? */
export const isTempName = (name: string): boolean => TMP_NAME.test(name);

const tempPathFor = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}${TMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);

const etagOf = (st: { mtimeMs: number; size: number }): string => `${st.mtimeMs}-${st.size}`;

interface Found {
  abs: string;
  size: number;
  mtimeMs: number;
}

export class FileStorage implements Storage {
  constructor(private readonly cwd: string = process.cwd()) {}

  /** The absolute path of a local URI (trailing slash kept). */
  resolve(uri: string): string {
    const p = parseUri(uri, this.cwd);
    if (p.scheme !== 'file') throw new BadInputError(`not a local path: ${uri}`);
    return p.path;
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const prefix = this.resolve(prefixUri);
    const { files } = await this.scan(prefix, false);
    files.sort((a, b) => (a.abs < b.abs ? -1 : a.abs > b.abs ? 1 : 0));
    const isFileUri = /^file:/i.test(prefixUri);
    for (const f of files) {
      const rest = f.abs.slice(prefix.length);
      yield { uri: prefixUri + (isFileUri ? encodeFileUriPath(rest) : rest), size: f.size, etag: etagOf(f) };
    }
  }

  async stat(uri: string): Promise<ObjectInfo> {
    const p = this.resolve(uri);
    let st;
    try {
      st = await fs.stat(p);
    } catch (e) {
      throw mapFsError(e, 'stat', p);
    }
    if (!st.isFile()) throw new NotFoundError(`no such file ${p} (it is ${st.isDirectory() ? 'a directory' : 'not a regular file'})`);
    return { uri, size: st.size, etag: etagOf(st) };
  }

  async exists(uri: string): Promise<boolean> {
    const p = this.resolve(uri);
    try {
      return (await fs.stat(p)).isFile();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw mapFsError(e, 'stat', p);
    }
  }

  async readRange(uri: string, start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    checkRange(uri, start, end);
    const p = this.resolve(uri);
    const { ifMatch } = options;
    if (end === start) {
      const info = await this.stat(uri); // still a NotFoundError for a missing file
      if (ifMatch !== undefined && info.etag !== ifMatch) throw changedError(uri, ifMatch, info.etag!);
      return new Uint8Array(0);
    }
    let fh: FileHandle | undefined;
    try {
      fh = await fs.open(p, 'r');
      const buf = Buffer.allocUnsafeSlow(end - start); // not from the shared pool: callers may transfer it
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, start + filled);
        if (bytesRead === 0) break; // end of file: fewer bytes than asked for
        filled += bytesRead;
      }
      if (ifMatch !== undefined) {
        // After the read: a rewrite before or during it moved the mtime (a replaced file is another inode).
        const now = etagOf(await fh.stat());
        if (now !== ifMatch) throw changedError(uri, ifMatch, now);
      }
      return filled === buf.length ? buf : buf.subarray(0, filled);
    } catch (e) {
      if (e instanceof ChangedError) throw e;
      throw mapFsError(e, 'read', p);
    } finally {
      await fh?.close();
    }
  }

  async read(uri: string): Promise<Uint8Array> {
    const p = this.resolve(uri);
    try {
      return await fs.readFile(p);
    } catch (e) {
      throw mapFsError(e, 'read', p);
    }
  }

  async readText(uri: string): Promise<string> {
    return Buffer.from(await this.read(uri)).toString('utf8');
  }

  async write(uri: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    const p = this.resolve(uri);
    if (p.endsWith('/')) throw new BadInputError(`cannot write ${uri}: it names a directory`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const tmp = await this.writeTemp(p, async (fh) => {
      await writeAll(fh, bytes);
    });
    await this.publish(uri, tmp, p, options.ifNoneMatch ?? false);
    return this.stat(uri);
  }

  async upload(uri: string, chunks: AsyncIterable<Uint8Array>, _options?: { partBytes?: number }): Promise<ObjectInfo> {
    const p = this.resolve(uri);
    if (p.endsWith('/')) throw new BadInputError(`cannot write ${uri}: it names a directory`);
    const tmp = await this.writeTemp(p, async (fh) => {
      for await (const chunk of chunks) await writeAll(fh, chunk);
    });
    await this.publish(uri, tmp, p, false);
    return this.stat(uri);
  }

  async copy(fromUri: string, toUri: string): Promise<ObjectInfo> {
    const from = this.resolve(fromUri);
    const to = this.resolve(toUri);
    const st = await this.stat(fromUri); // NotFoundError naming the source
    if (from === to) return { ...st, uri: toUri };
    await this.mkdirFor(to);
    const tmp = tempPathFor(to);
    try {
      await fs.copyFile(from, tmp, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      const code = (e as { code?: string }).code;
      throw mapFsError(e, 'copy', code === 'ENOENT' ? from : `${from} to ${to}`);
    }
    await this.publish(toUri, tmp, to, false);
    return this.stat(toUri);
  }

  async delete(uri: string): Promise<void> {
    const p = this.resolve(uri);
    try {
      await fs.unlink(p);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw mapFsError(e, 'delete', p);
    }
  }

  async deletePrefix(prefixUri: string): Promise<number> {
    const prefix = this.resolve(prefixUri);
    if (prefix === '/' || path.resolve(prefix) === '/') throw new BadInputError(`refusing to delete everything under ${prefixUri}`);
    const { files, dirs } = await this.scan(prefix, false);
    let n = 0;
    await mapLimit(files, 16, async (f) => {
      try {
        await fs.unlink(f.abs);
        n++;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT') throw mapFsError(e, 'delete', f.abs);
      }
    });
    // S3 has no directories: remove the ones the prefix covers wholly, once empty (deepest first).
    const covered = dirs.filter((d) => (d + '/').startsWith(prefix)).sort((a, b) => b.length - a.length);
    for (const d of covered) {
      try {
        await fs.rmdir(d);
      } catch {
        // not empty (a temp file, a concurrent writer) or already gone: leave it
      }
    }
    return n;
  }

  /** Removes our temp files (interrupted writes/uploads) whose target lies under the prefix. There are no
   * multipart uploads on a file system, so this returns 0. */
  async abortUploads(prefixUri: string): Promise<number> {
    const prefix = this.resolve(prefixUri);
    const { temps } = await this.scan(prefix, true);
    for (const t of temps) await fs.rm(t, { force: true });
    return 0;
  }

  // ---- internals -----------------------------------------------------------------------------------

  /** Files (and, with `withTemps`, our temp files) whose path starts with `prefix`, and the directories
   * walked. A missing directory is an empty listing, as on S3. */
  private async scan(prefix: string, withTemps: boolean): Promise<{ files: Found[]; temps: string[]; dirs: string[] }> {
    const files: Found[] = [];
    const temps: string[] = [];
    const dirs: string[] = [];
    const root = prefix.endsWith('/') ? prefix.slice(0, -1) || '/' : path.dirname(prefix);
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw mapFsError(e, 'list', dir);
      }
      dirs.push(dir);
      const subdirs: string[] = [];
      await mapLimit(entries, 32, async (ent) => {
        const abs = dir === '/' ? `/${ent.name}` : `${dir}/${ent.name}`;
        const tmp = TMP_NAME.exec(ent.name);
        if (tmp) {
          if (withTemps && `${dir}/${tmp[1]}`.startsWith(prefix)) temps.push(abs);
          return;
        }
        let isDir = ent.isDirectory();
        let isFile = ent.isFile();
        let st: { size: number; mtimeMs: number } | undefined;
        if (ent.isSymbolicLink() || isFile) {
          try {
            const s = await fs.stat(abs);
            isDir = s.isDirectory();
            isFile = s.isFile();
            st = s;
          } catch (e) {
            if ((e as { code?: string }).code === 'ENOENT') return; // vanished, or a dangling link
            throw mapFsError(e, 'stat', abs);
          }
        }
        if (isDir) {
          // descend only where the prefix and the directory's contents can meet
          if ((abs + '/').startsWith(prefix) || prefix.startsWith(abs + '/')) subdirs.push(abs);
        } else if (isFile && st && abs.startsWith(prefix)) {
          files.push({ abs, size: st.size, mtimeMs: st.mtimeMs });
        }
      });
      for (const d of subdirs) await walk(d);
    };
    await walk(root);
    return { files, temps, dirs };
  }

  private async mkdirFor(p: string): Promise<void> {
    try {
      await fs.mkdir(path.dirname(p), { recursive: true });
    } catch (e) {
      throw mapFsError(await mkdirCause(path.dirname(p), e), 'create the directory of', p);
    }
  }

  /** Writes a temp file beside `target` (synced to disk) and returns its path; removes it on failure. */
  private async writeTemp(target: string, fill: (fh: FileHandle) => Promise<void>): Promise<string> {
    await this.mkdirFor(target);
    const tmp = tempPathFor(target);
    let fh: FileHandle | undefined;
    try {
      try {
        fh = await fs.open(tmp, 'wx');
      } catch (e) {
        // a concurrent deletePrefix may have removed the (empty) directory just now
        if ((e as { code?: string }).code !== 'ENOENT') throw e;
        await this.mkdirFor(target);
        fh = await fs.open(tmp, 'wx');
      }
      await fill(fh);
      await fh.datasync();
      await fh.close();
      fh = undefined;
      return tmp;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw mapFsError(e, 'write', target);
    }
  }

  /** Moves a finished temp file to its target: rename, or with ifNoneMatch a hard link, which fails
   * atomically when the target exists (then the temp file is removed). */
  private async publish(uri: string, tmp: string, target: string, ifNoneMatch: boolean): Promise<void> {
    try {
      if (!ifNoneMatch) {
        await fs.rename(tmp, target);
        return;
      }
      try {
        await fs.link(tmp, target);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EEXIST') throw new AlreadyExistsError(uri, { cause: e });
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code ?? '')) throw e;
        // no hard links here: check, then rename (not atomic against a concurrent writer)
        if (await fs.stat(target).then(() => true, () => false)) throw new AlreadyExistsError(uri, { cause: e });
        await fs.rename(tmp, target);
        return;
      }
      await fs.rm(tmp, { force: true });
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw mapFsError(e, 'write', target);
    }
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** Node's recursive mkdir answers ENOENT where the real cause is a read-only file system or a folder
 * it may not write (EROFS, EACCES): the first missing folder, made on its own, tells the truth. */
async function mkdirCause(dir: string, err: unknown): Promise<unknown> {
  if ((err as { code?: string }).code !== 'ENOENT') return err;
  let missing: string | undefined;
  for (let cur = dir; ; cur = path.dirname(cur)) {
    try {
      await fs.stat(cur);
      break;
    } catch {
      missing = cur;
      if (path.dirname(cur) === cur) return err;
    }
  }
  if (missing === undefined) return err;
  try {
    await fs.mkdir(missing);
    return err;
  } catch (e) {
    return (e as { code?: string }).code === 'EEXIST' ? err : e;
  }
}
