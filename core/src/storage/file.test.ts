import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BadInputError, ChangedError, NotFoundError } from '../contract/error-kinds.js';
import { AlreadyExistsError } from './backend-errors.js';
import { FileStorage, isTempName } from './file.js';
import { openStorage } from './index.js';

let dir: string;
let st: FileStorage;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bij-file-'));
  st = new FileStorage(dir);
});
afterEach(async () => {
  await fs.chmod(dir, 0o755).catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true });
});

const collect = async (it: AsyncIterable<{ uri: string }>): Promise<string[]> => {
  const out: string[] = [];
  for await (const o of it) out.push(o.uri);
  return out;
};

async function* chunksOf(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('FileStorage', () => {
  test('write, read, readText, stat, exists', async () => {
    const info = await st.write('a/b/x.json', '{"v":1}');
    expect(info).toEqual({ uri: 'a/b/x.json', size: 7, etag: expect.stringMatching(/^[\d.]+-7$/) });
    expect(await st.readText('a/b/x.json')).toBe('{"v":1}');
    expect(await st.readText(`${dir}/a/b/x.json`)).toBe('{"v":1}');
    expect(await st.readText(`file://${dir}/a/b/x.json`)).toBe('{"v":1}');
    expect((await st.stat('a/b/x.json')).etag).toBe(info.etag);
    expect(await st.exists('a/b/x.json')).toBe(true);
    expect(await st.exists('a/b/nope')).toBe(false);
    expect(await st.exists('a/b')).toBe(false); // a directory is not an object
    // the etag changes with the content
    await new Promise((r) => setTimeout(r, 5));
    const again = await st.write('a/b/x.json', '{"v":22}');
    expect(again.etag).not.toBe(info.etag);
    // no temp files left behind
    expect((await fs.readdir(path.join(dir, 'a/b'))).sort()).toEqual(['x.json']);
  });

  test('NotFoundError names the path (EACCES mapping: errors.test.ts)', async () => {
    await expect(st.read('missing.bin')).rejects.toThrow(NotFoundError);
    await expect(st.read('missing.bin')).rejects.toThrow(`no such file ${dir}/missing.bin`);
    await expect(st.stat('missing.bin')).rejects.toThrow(NotFoundError);
    await expect(st.readRange('missing.bin', 0, 4)).rejects.toThrow(NotFoundError);
    await expect(st.stat('.')).rejects.toThrow(/is a directory/);
  });

  test('readRange reads exactly [start, end), fewer bytes only past the end', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await st.write('r.bin', data);
    expect(Buffer.from(await st.readRange('r.bin', 10, 20))).toEqual(data.subarray(10, 20));
    expect(Buffer.from(await st.readRange('r.bin', 0, 1))).toEqual(data.subarray(0, 1));
    expect(Buffer.from(await st.readRange('r.bin', 0, 1000))).toEqual(data);
    expect((await st.readRange('r.bin', 500, 500)).length).toBe(0);
    expect(Buffer.from(await st.readRange('r.bin', 990, 2000))).toEqual(data.subarray(990));
    expect((await st.readRange('r.bin', 1000, 1010)).length).toBe(0);
    await expect(st.readRange('r.bin', 20, 10)).rejects.toThrow(RangeError);
    await expect(st.readRange('r.bin', -1, 10)).rejects.toThrow(RangeError);
  });

  test('readRange with ifMatch: the planned version reads; a same-size rewrite is ChangedError', async () => {
    await st.write('v.bin', Buffer.alloc(100, 1));
    const { etag } = await st.stat('v.bin');
    expect(Buffer.from(await st.readRange('v.bin', 0, 10, { ifMatch: etag }))).toEqual(Buffer.alloc(10, 1));
    expect((await st.readRange('v.bin', 5, 5, { ifMatch: etag })).length).toBe(0);
    // Same size, new content, a different mtime: what a job rewriting its input in place looks like.
    await fs.writeFile(path.join(dir, 'v.bin'), Buffer.alloc(100, 2));
    await fs.utimes(path.join(dir, 'v.bin'), new Date(), new Date(Date.now() + 5000));
    const err = await st.readRange('v.bin', 0, 10, { ifMatch: etag }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChangedError);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain(`no longer version ${etag}`);
    await expect(st.readRange('v.bin', 5, 5, { ifMatch: etag })).rejects.toThrow(ChangedError);
    expect(Buffer.from(await st.readRange('v.bin', 0, 10))).toEqual(Buffer.alloc(10, 2)); // without ifMatch: the new bytes
  });

  test('ifNoneMatch: the second writer gets AlreadyExistsError and the first content stays', async () => {
    await st.write('plan.json', 'first', { ifNoneMatch: true });
    const err = await st.write('plan.json', 'second', { ifNoneMatch: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect((err as Error).message).toBe('plan.json already exists');
    expect(await st.readText('plan.json')).toBe('first');
    expect(await fs.readdir(dir)).toEqual(['plan.json']);
    // racing writers: exactly one wins
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => st.write('race.json', `w${i}`, { ifNoneMatch: true })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof AlreadyExistsError)).toHaveLength(7);
  });

  test('list: recursive, sorted, prefix semantics, URIs in the style of the prefix', async () => {
    for (const f of ['d/b.txt', 'd/a/z.txt', 'd/a.txt', 'd/a-1.txt', 'd/sub/deep/x', 'd2/other', 'dx.txt', 'top.txt']) {
      await st.write(f, f);
    }
    expect(await collect(st.list('d/'))).toEqual(['d/a-1.txt', 'd/a.txt', 'd/a/z.txt', 'd/b.txt', 'd/sub/deep/x']);
    // a string prefix, as on S3: "d" also matches d2/ and dx.txt
    expect(await collect(st.list('d'))).toEqual([
      'd/a-1.txt', 'd/a.txt', 'd/a/z.txt', 'd/b.txt', 'd/sub/deep/x', 'd2/other', 'dx.txt',
    ]);
    expect(await collect(st.list('d/a'))).toEqual(['d/a-1.txt', 'd/a.txt', 'd/a/z.txt']);
    // a single file lists itself
    expect(await collect(st.list('top.txt'))).toEqual(['top.txt']);
    expect(await collect(st.list(`${dir}/d/sub/`))).toEqual([`${dir}/d/sub/deep/x`]);
    expect(await collect(st.list(`file://${dir}/d/sub/`))).toEqual([`file://${dir}/d/sub/deep/x`]);
    expect(await collect(st.list('nope/'))).toEqual([]);
    const infos: Array<{ size: number; etag?: string }> = [];
    for await (const o of st.list('d/sub/')) infos.push(o);
    expect(infos[0]).toMatchObject({ size: 'd/sub/deep/x'.length, etag: expect.stringMatching(/-12$/) });
  });

  test('list: URIs of a file: prefix are encoded and parse back', async () => {
    await st.write('e/a b#c.txt', 'x');
    const uris = await collect(st.list(`file://${dir}/e/`));
    expect(uris).toEqual([`file://${dir}/e/a%20b%23c.txt`]);
    expect(await st.readText(uris[0])).toBe('x');
  });

  test('upload streams chunks to a temp file and renames; a failing source leaves nothing', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const info = await st.upload('up/big.bin', chunksOf(data, 64 * 1024 + 3));
    expect(info.size).toBe(data.length);
    const back = Buffer.from(await st.read('up/big.bin'));
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));

    async function* failing(): AsyncIterable<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('producer broke');
    }
    await expect(st.upload('up/bad.bin', failing())).rejects.toThrow('producer broke');
    expect(await fs.readdir(path.join(dir, 'up'))).toEqual(['big.bin']);
    // an empty upload is an empty object
    expect((await st.upload('up/empty', chunksOf(Buffer.alloc(0), 1))).size).toBe(0);
  });

  test('copy, delete, deletePrefix', async () => {
    await st.write('src/a.bin', 'hello');
    const c = await st.copy('src/a.bin', 'dst/x/b.bin');
    expect(c).toMatchObject({ uri: 'dst/x/b.bin', size: 5 });
    expect(await st.readText('dst/x/b.bin')).toBe('hello');
    await expect(st.copy('src/nope', 'dst/c')).rejects.toThrow(`no such file ${dir}/src/nope`);

    await st.delete('dst/x/b.bin');
    await st.delete('dst/x/b.bin'); // deleting what is not there succeeds
    await st.delete('never/was/here');
    expect(await st.exists('dst/x/b.bin')).toBe(false);

    for (let i = 0; i < 5; i++) await st.write(`run/_bij/r1/shards/0000${i}/a0/part.parquet`, 'x');
    await st.write('run/_bij/r1/plan.json', '{}');
    await st.write('run/_bij/r10/keep.json', '{}');
    expect(await st.deletePrefix('run/_bij/r1/')).toBe(6);
    expect(await collect(st.list('run/'))).toEqual(['run/_bij/r10/keep.json']);
    // the directories the prefix covered are gone too
    await expect(fs.stat(path.join(dir, 'run/_bij/r1'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await st.deletePrefix('run/_bij/r1/')).toBe(0);
    await expect(st.deletePrefix('/')).rejects.toThrow(BadInputError);
  });

  test('abortUploads removes our temp files under the prefix, and list never shows them', async () => {
    await st.write('t/real.bin', 'x');
    const stale = path.join(dir, 't', '.part-0.parquet.bij-tmp-12345-abcdef');
    const other = path.join(dir, 'u', '.x.bij-tmp-1-00');
    await fs.writeFile(stale, 'half');
    await fs.mkdir(path.join(dir, 'u'));
    await fs.writeFile(other, 'half');
    expect(isTempName(path.basename(stale))).toBe(true);
    expect(isTempName('.x.bij-tmp-')).toBe(false);
    expect(await collect(st.list('t/'))).toEqual(['t/real.bin']);
    expect(await st.abortUploads('t/part-')).toBe(0);
    await expect(fs.stat(stale)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.stat(other)).resolves.toBeTruthy();
    expect(await st.readText('t/real.bin')).toBe('x');
  });
});

describe('openStorage', () => {
  test('routes local URIs to the file system, relative to cwd', async () => {
    const s = openStorage({ cwd: dir });
    await s.write('rel/x.txt', 'hi');
    expect(await s.readText(`${dir}/rel/x.txt`)).toBe('hi');
    expect(await s.readText(`file://${dir}/rel/x.txt`)).toBe('hi');
    await expect(s.read('gs://b/k')).rejects.toThrow(BadInputError);
  });
});
