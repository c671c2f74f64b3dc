/** The S3 backend against a real (fake) S3: s3rver in a child process (e2e/support/s3-server.ts). */
import { createHash } from 'node:crypto';
import { CreateMultipartUploadCommand, ListObjectsV2Command, UploadPartCommand } from '@aws-sdk/client-s3';
import { BadInputError, ChangedError, NotFoundError, describeError } from '../../../operator/src/contract/errors.js';
import { s3OptionsFor, startS3Server, useS3rverCredentials, type S3Server } from '../../../e2e/support/s3-server.js';
import { AlreadyExistsError } from './errors.js';
import { openStorage } from './index.js';
import { mapLimit } from './retry.js';
import { MIB, S3Storage, stripQuotes } from './s3.js';

let server: S3Server;
let s3: S3Storage;
let restoreEnv: () => void;

beforeAll(async () => {
  restoreEnv = useS3rverCredentials();
  server = await startS3Server({ buckets: ['bkt', 'other'], uploadsPageSize: 2 });
  s3 = new S3Storage(s3OptionsFor(server, { retryBaseMs: 1 }));
});
afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  restoreEnv?.();
});

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const o of it) out.push(o);
  return out;
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
async function* chunksOf(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
const pattern = (n: number, seed = 1): Buffer => {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
};

test('write, read, readText, stat, exists', async () => {
  const info = await s3.write('s3://bkt/basic/x.json', '{"v":1}', { contentType: 'application/json' });
  expect(info).toEqual({ uri: 's3://bkt/basic/x.json', size: 7, etag: createHash('md5').update('{"v":1}').digest('hex') });
  expect(await s3.readText('s3://bkt/basic/x.json')).toBe('{"v":1}');
  expect(await s3.stat('s3://bkt/basic/x.json')).toEqual(info);
  expect(await s3.exists('s3://bkt/basic/x.json')).toBe(true);
  expect(await s3.exists('s3://bkt/basic/nope')).toBe(false);
  // keys with characters that need encoding round-trip
  const odd = 's3://bkt/basic/a b+c&d=e,f;g@h$i:j#k%l.txt';
  await s3.write(odd, 'odd');
  expect(await s3.readText(odd)).toBe('odd');
  expect((await collect(s3.list('s3://bkt/basic/a b'))).map((o) => o.uri)).toEqual([odd]);
});

test('ranged read returns exactly the bytes asked for', async () => {
  const data = pattern(100_000, 7);
  await s3.write('s3://bkt/range/data.bin', data);
  const u = 's3://bkt/range/data.bin';
  for (const [a, b] of [[0, 1], [0, 10], [1, 2], [12_345, 54_321], [99_990, 100_000], [0, 100_000]] as const) {
    const got = await s3.readRange(u, a, b);
    expect(got.length).toBe(b - a);
    expect(Buffer.from(got).equals(data.subarray(a, b))).toBe(true);
  }
  // past the end: fewer bytes, or none (S3 answers 416), as on files
  expect(Buffer.from(await s3.readRange(u, 99_995, 100_100)).equals(data.subarray(99_995))).toBe(true);
  expect((await s3.readRange(u, 100_000, 100_010)).length).toBe(0);
  expect((await s3.readRange(u, 5, 5)).length).toBe(0);
  await expect(s3.readRange('s3://bkt/range/missing', 0, 5)).rejects.toThrow('no such key s3://bkt/range/missing');
});

test('ranged read with ifMatch: the planned version reads; after a same-size overwrite it is ChangedError', async () => {
  const u = 's3://bkt/range/versioned.bin';
  const { etag } = await s3.write(u, pattern(1000, 1));
  expect(Buffer.from(await s3.readRange(u, 0, 10, { ifMatch: etag })).equals(pattern(1000, 1).subarray(0, 10))).toBe(true);
  const { etag: next } = await s3.write(u, pattern(1000, 2)); // same size, new content
  expect(next).not.toBe(etag);
  // s3rver ignores If-Match; the ETag of the answer still gives the rewrite away (real S3 answers 412).
  const err = await s3.readRange(u, 0, 10, { ifMatch: etag }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ChangedError);
  expect((err as Error).message).toBe(`${u} changed: it is no longer version ${etag} (now ${next})`);
  await expect(s3.readRange(u, 3, 3, { ifMatch: etag })).rejects.toThrow(ChangedError);
  expect(Buffer.from(await s3.readRange(u, 0, 10, { ifMatch: next })).equals(pattern(1000, 2).subarray(0, 10))).toBe(true);
});

test('list follows ListObjectsV2 pagination past 1,000 keys, sorted', async () => {
  const n = 1050;
  const keys = Array.from({ length: n }, (_, i) => `many/k-${String(i).padStart(5, '0')}`);
  await mapLimit(keys, 32, (k) => s3.write(`s3://bkt/${k}`, k));
  // sanity: the server really pages at 1,000
  const first = await s3.client.send(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'many/' }));
  expect(first.Contents).toHaveLength(1000);
  expect(first.IsTruncated).toBe(true);

  const listed = await collect(s3.list('s3://bkt/many/'));
  expect(listed).toHaveLength(n);
  expect(listed.map((o) => o.uri)).toEqual(keys.map((k) => `s3://bkt/${k}`));
  expect(listed[5]).toMatchObject({ size: keys[5].length, etag: expect.stringMatching(/^[0-9a-f]{32}$/) });

  // a prefix that is not a "directory", and the key order of S3 ("a-1" < "a.txt" < "a/z")
  await Promise.all(['order/a.txt', 'order/a/z', 'order/a-1', 'order/b'].map((k) => s3.write(`s3://bkt/${k}`, 'x')));
  expect((await collect(s3.list('s3://bkt/order/a'))).map((o) => o.uri)).toEqual([
    's3://bkt/order/a-1', 's3://bkt/order/a.txt', 's3://bkt/order/a/z',
  ]);

  expect(await s3.deletePrefix('s3://bkt/many/')).toBe(n);
  expect(await collect(s3.list('s3://bkt/many/'))).toEqual([]);
});

test('multipart upload of ~12 MiB round-trips; a small upload is one PutObject', async () => {
  const data = pattern(12 * MIB + 12_345, 3);
  const info = await s3.upload('s3://bkt/mp/big.bin', chunksOf(data, 1_000_003), { partBytes: 5 * MIB });
  expect(info.size).toBe(data.length);
  expect(info.etag).toMatch(/^[0-9a-f]{32}/);
  const back = await s3.read('s3://bkt/mp/big.bin');
  expect(back.length).toBe(data.length);
  expect(sha(back)).toBe(sha(data));
  expect((await s3.stat('s3://bkt/mp/big.bin')).size).toBe(data.length);
  // a range that spans a part boundary
  expect(Buffer.from(await s3.readRange('s3://bkt/mp/big.bin', 5 * MIB - 10, 5 * MIB + 10)).equals(data.subarray(5 * MIB - 10, 5 * MIB + 10))).toBe(true);

  const small = await s3.upload('s3://bkt/mp/small.bin', chunksOf(pattern(1000), 100));
  expect(small.size).toBe(1000);
  expect(sha(await s3.read('s3://bkt/mp/small.bin'))).toBe(sha(pattern(1000)));
  expect((await s3.upload('s3://bkt/mp/empty.bin', chunksOf(Buffer.alloc(0), 1))).size).toBe(0);
  expect((await s3.read('s3://bkt/mp/empty.bin')).length).toBe(0);
});

test('a failing upload is aborted, leaving neither object nor open upload', async () => {
  async function* failing(): AsyncIterable<Uint8Array> {
    yield pattern(6 * MIB);
    yield pattern(6 * MIB);
    throw new Error('producer broke');
  }
  await expect(s3.upload('s3://bkt/mpfail/x.bin', failing(), { partBytes: 5 * MIB })).rejects.toThrow('producer broke');
  expect(await s3.exists('s3://bkt/mpfail/x.bin')).toBe(false);
  expect(await s3.abortUploads('s3://bkt/mpfail/')).toBe(0);
});

test('conditional write: the second writer gets AlreadyExistsError', async () => {
  await s3.write('s3://bkt/cond/plan.json', 'first', { ifNoneMatch: true });
  const err = await s3.write('s3://bkt/cond/plan.json', 'second', { ifNoneMatch: true }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AlreadyExistsError);
  expect((err as Error).message).toBe('s3://bkt/cond/plan.json already exists');
  expect((err as Error).cause).toMatchObject({ $metadata: { httpStatusCode: 412 } });
  expect(await s3.readText('s3://bkt/cond/plan.json')).toBe('first');
  await s3.write('s3://bkt/cond/plan.json', 'third'); // unconditional overwrite
  expect(await s3.readText('s3://bkt/cond/plan.json')).toBe('third');
});

test('copy: server-side, across buckets, keys that need encoding, and part by part above a threshold', async () => {
  const src = 's3://bkt/copy/src file+1&x.bin';
  const data = pattern(300_000, 9);
  await s3.write(src, data);
  expect(await s3.copy(src, 's3://other/copied/a b.bin')).toMatchObject({ uri: 's3://other/copied/a b.bin', size: data.length });
  expect(sha(await s3.read('s3://other/copied/a b.bin'))).toBe(sha(data));
  await expect(s3.copy('s3://bkt/copy/missing', 's3://bkt/copy/x')).rejects.toThrow('no such key s3://bkt/copy/missing');

  const multi = new S3Storage(s3OptionsFor(server, { retryBaseMs: 1 }), { copyMultipartThreshold: 100_000, copyPartBytes: 128 * 1024 });
  const commands: string[] = [];
  multi.client.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize' },
  );
  try {
    const info = await multi.copy(src, 's3://bkt/copy/multipart.bin');
    expect(info.size).toBe(data.length);
    expect(commands.filter((c) => c === 'UploadPartCopyCommand')).toHaveLength(3);
    expect(commands).not.toContain('CopyObjectCommand');
    expect(sha(await s3.read('s3://bkt/copy/multipart.bin'))).toBe(sha(data));
  } finally {
    multi.destroy();
  }
});

test('delete and deletePrefix', async () => {
  await s3.write('s3://bkt/del/a', 'a');
  await s3.delete('s3://bkt/del/a');
  await s3.delete('s3://bkt/del/a'); // deleting what is not there succeeds
  expect(await s3.exists('s3://bkt/del/a')).toBe(false);

  await mapLimit(Array.from({ length: 30 }, (_, i) => i), 8, (i) => s3.write(`s3://bkt/dp/run1/f${i}`, 'x'));
  await s3.write('s3://bkt/dp/run10/keep', 'x');
  await s3.write('s3://bkt/dp/run1/', ''); // a "folder" placeholder: not listed, but deleted
  expect((await collect(s3.list('s3://bkt/dp/run1/'))).length).toBe(30);
  expect(await s3.deletePrefix('s3://bkt/dp/run1/')).toBe(31);
  expect((await collect(s3.list('s3://bkt/dp/'))).map((o) => o.uri)).toEqual(['s3://bkt/dp/run10/keep']);
  await expect(s3.deletePrefix('s3://bkt/')).rejects.toThrow(BadInputError);
});

test('abortUploads aborts the open multipart uploads under a prefix, across pages', async () => {
  const open = async (key: string): Promise<string> => {
    const r = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: key }));
    await s3.client.send(new UploadPartCommand({ Bucket: 'bkt', Key: key, UploadId: r.UploadId, PartNumber: 1, Body: pattern(1000) }));
    return r.UploadId!;
  };
  // the harness pages ListMultipartUploads by 2 here, so 5 uploads take 3 pages
  for (const k of ['ab/x/1', 'ab/x/1', 'ab/x/2', 'ab/x/3', 'ab/x/4']) await open(k);
  await open('ab/y/keep');
  expect(await s3.abortUploads('s3://bkt/ab/x/')).toBe(5);
  expect(await s3.abortUploads('s3://bkt/ab/x/')).toBe(0);
  expect(await s3.abortUploads('s3://bkt/ab/')).toBe(1);
});

test('NotFound and NoSuchBucket name the bucket and key; the SDK error is the cause', async () => {
  const e1 = (await s3.read('s3://bkt/nf/missing.bin').catch((e: unknown) => e)) as Error;
  expect(e1).toBeInstanceOf(NotFoundError);
  expect(e1.message).toBe('no such key s3://bkt/nf/missing.bin');
  expect(e1.cause).toMatchObject({ name: 'NoSuchKey' });

  const e2 = (await s3.read('s3://no-such-bucket/k/x').catch((e: unknown) => e)) as Error;
  expect(e2).toBeInstanceOf(NotFoundError);
  expect(e2.message).toMatch(/no such bucket "no-such-bucket"/);
  expect(e2.message).toContain('s3://no-such-bucket/k/x');
  expect(e2.cause).toMatchObject({ name: 'NoSuchBucket' });

  // HEAD answers have no body: stat finds out which one is missing
  await expect(s3.stat('s3://bkt/nf/missing.bin')).rejects.toThrow('no such key s3://bkt/nf/missing.bin');
  await expect(s3.stat('s3://no-such-bucket/x')).rejects.toThrow(/no such bucket "no-such-bucket"/);
  await expect(collect(s3.list('s3://no-such-bucket/p/'))).rejects.toThrow(/no such bucket "no-such-bucket"/);
  expect(await s3.exists('s3://no-such-bucket/x')).toBe(false);
});

test('bad credentials are bad input, pointing at the credentials', async () => {
  const saved = process.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_ACCESS_KEY_ID = 'WRONGKEY';
  const bad = new S3Storage(s3OptionsFor(server, { retryBaseMs: 1 }));
  try {
    const err = (await bad.read('s3://bkt/basic/x.json').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(BadInputError);
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect(err.message).toMatch(/^access denied to s3:\/\/bkt\/basic\/x\.json \(InvalidAccessKeyId\): check the credentials/);
    expect(err.message).toContain('spec.storage.s3.credentialsSecret');
    expect(describeError(err)).toContain('The AWS Access Key Id you provided does not exist');
  } finally {
    bad.destroy();
    process.env.AWS_ACCESS_KEY_ID = saved;
  }
});

test('openStorage routes s3:// to S3 and copies between S3 and files', async () => {
  const { mkdtemp, rm, readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/bij-s3route-`);
  const st = openStorage({ s3: { ...s3OptionsFor(server, { retryBaseMs: 1 }), credentialsSecret: 'ignored' } as never, cwd: dir });
  try {
    await st.write('s3://bkt/route/a.txt', 'via s3');
    expect(await st.readText('s3://bkt/route/a.txt')).toBe('via s3');
    await st.copy('s3://bkt/route/a.txt', 'local/a.txt');
    expect(await readFile(`${dir}/local/a.txt`, 'utf8')).toBe('via s3');
    await st.copy('local/a.txt', 's3://bkt/route/b.txt');
    expect(await st.readText('s3://bkt/route/b.txt')).toBe('via s3');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ETags lose their quotes and a weak marker the same way everywhere', () => {
  expect(stripQuotes('"abc"')).toBe('abc');
  expect(stripQuotes('W/"abc"')).toBe('abc');
  expect(stripQuotes('abc-3')).toBe('abc-3');
  expect(stripQuotes(undefined)).toBeUndefined();
});
