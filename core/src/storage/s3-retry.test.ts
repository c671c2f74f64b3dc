/** Retries against real transient faults: a fault-injecting proxy (e2e/support/s3-fault-proxy.ts) in
 * front of a real S3 server (SeaweedFS, e2e/support/s3-server.ts) answers 503 SlowDown, resets
 * connections, cuts bodies short, hangs or loses answers. */
import { createHash } from 'node:crypto';
import { BadInputError, ChangedError, describeError, isBadInput } from '../contract/error-kinds.js';
import type { S3FaultProxy } from '../../../e2e/support/s3-fault-proxy.js';
import { s3OptionsFor } from '../../../e2e/support/s3-server.js';
import { startProxiedS3, type ProxiedS3 } from '../../../e2e/support/s3-target.js';
import { RetriesExhaustedError } from './backend-errors.js';
import type { RetryInfo } from './retry.js';
import { MIB, S3Storage } from './s3.js';

let local: ProxiedS3;
let proxy: S3FaultProxy;
let s3: S3Storage;
let direct: S3Storage;
const retries: RetryInfo[] = [];

beforeAll(async () => {
  local = await startProxiedS3(['bkt']);
  proxy = local.proxy;
  s3 = new S3Storage(s3OptionsFor(proxy, { maxAttempts: 4, retryBaseMs: 2 }), { onRetry: (i) => retries.push(i) });
  direct = new S3Storage(s3OptionsFor(local.server));
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  direct?.destroy();
  await local?.close();
});
beforeEach(() => {
  proxy.setRules([]);
  proxy.log.length = 0;
  retries.length = 0;
});

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const data = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 31) % 256));
const requests = (method: string): number => proxy.log.filter((l) => l.method === method).length;

beforeAll(async () => {
  await direct.write('s3://bkt/r/data.bin', data);
});

test('reads succeed after transient 503 SlowDown', async () => {
  proxy.setRules([{ method: 'GET', action: 'slowdown', times: 2 }]);
  const got = await s3.readRange('s3://bkt/r/data.bin', 100, 5000);
  expect(Buffer.from(got).equals(data.subarray(100, 5000))).toBe(true);
  expect(requests('GET')).toBe(3);
  expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
  expect(retries[0].label).toBe('S3 GetObject s3://bkt/r/data.bin');
});

test('reads succeed after a reset connection and after a body cut short', async () => {
  proxy.setRules([
    { method: 'GET', action: 'reset', times: 1 },
    { method: 'GET', action: 'truncate', times: 1 },
  ]);
  expect(md5(await s3.read('s3://bkt/r/data.bin'))).toBe(md5(data));
  expect(proxy.log.map((l) => l.action)).toEqual(['reset', 'truncate', 'pass']);
});

test('a request that hangs times out and is retried', async () => {
  const impatient = new S3Storage(s3OptionsFor(proxy, { maxAttempts: 4, retryBaseMs: 2 }), {
    socketTimeoutMs: 500,
    onRetry: (i) => retries.push(i),
  });
  try {
    proxy.setRules([{ method: 'HEAD', action: 'hang', times: 1 }]);
    expect((await impatient.stat('s3://bkt/r/data.bin')).size).toBe(data.length);
    // (a loaded machine may make a later attempt time out too)
    expect(proxy.log.filter((l) => l.method === 'HEAD').map((l) => l.action)).toEqual(expect.arrayContaining(['hang', 'pass']));
    expect(retries[0].error).toMatchObject({ name: 'TimeoutError' });
  } finally {
    impatient.destroy();
  }
});

test('a completion retried after its answer was lost finds the upload done, and succeeds', async () => {
  const big = Buffer.alloc(6 * MIB, 3);
  async function* chunks(): AsyncIterable<Uint8Array> {
    yield big;
  }
  proxy.setRules([{ method: 'POST', query: 'uploadId', action: 'lose-response', times: 1 }]);
  const info = await s3.upload('s3://bkt/mp/lost.bin', chunks(), { partBytes: 5 * MIB });
  expect(info.size).toBe(big.length);
  expect(proxy.log.filter((l) => l.method === 'POST' && l.url.includes('uploadId=')).map((l) => l.action)).toEqual(['lose-response', 'pass']);
  expect(md5(await direct.read('s3://bkt/mp/lost.bin'))).toBe(md5(big));
});

test('a part-wise copy whose completion answer was lost finds the copy done, and succeeds', async () => {
  const multi = new S3Storage(s3OptionsFor(proxy, { maxAttempts: 4, retryBaseMs: 2 }), { copyMultipartThreshold: 10_000, copyPartBytes: 16 * 1024 });
  try {
    proxy.setRules([{ method: 'POST', query: 'uploadId', action: 'lose-response', times: 1 }]);
    const info = await multi.copy('s3://bkt/r/data.bin', 's3://bkt/mp/copied.bin');
    expect(info.size).toBe(data.length);
    expect(proxy.log.filter((l) => l.method === 'POST' && l.url.includes('uploadId=')).map((l) => l.action)).toEqual(['lose-response', 'pass']);
    expect(md5(await direct.read('s3://bkt/mp/copied.bin'))).toBe(md5(data));
  } finally {
    multi.destroy();
  }
});

test('writes succeed after 503s, 500s and resets', async () => {
  proxy.setRules([
    { method: 'PUT', action: 'slowdown', times: 1 },
    { method: 'PUT', action: 'reset', times: 1 },
    { method: 'PUT', action: 'error', status: 500, times: 1 },
  ]);
  await s3.write('s3://bkt/w/a.json', '{"ok":true}');
  expect(requests('PUT')).toBe(4);
  expect(await direct.readText('s3://bkt/w/a.json')).toBe('{"ok":true}');
});

test('a conditional write whose answer was lost is not mistaken for someone else\'s', async () => {
  proxy.setRules([{ method: 'PUT', action: 'lose-response', times: 1 }]);
  const info = await s3.write('s3://bkt/w/plan.json', 'mine', { ifNoneMatch: true });
  expect(info.etag).toBe(md5(Buffer.from('mine')));
  expect(requests('PUT')).toBe(2); // the retry got 412, and the object turned out to be ours
  await expect(s3.write('s3://bkt/w/plan.json', 'theirs', { ifNoneMatch: true })).rejects.toThrow('already exists');
});

test('multipart upload parts are retried; a persistent failure aborts the upload', async () => {
  const big = Buffer.alloc(11 * MIB, 7);
  async function* chunks(): AsyncIterable<Uint8Array> {
    for (let i = 0; i < big.length; i += MIB) yield big.subarray(i, i + MIB);
  }
  proxy.setRules([
    { method: 'PUT', query: 'partNumber', action: 'slowdown', times: 2 },
    { method: 'POST', query: 'uploadId', action: 'reset', times: 1 }, // CompleteMultipartUpload
  ]);
  const info = await s3.upload('s3://bkt/mp/ok.bin', chunks(), { partBytes: 5 * MIB });
  expect(info.size).toBe(big.length);
  expect(md5(await direct.read('s3://bkt/mp/ok.bin'))).toBe(md5(big));
  expect(proxy.fired(0)).toBe(2);
  expect(proxy.fired(1)).toBe(1);

  proxy.setRules([{ method: 'PUT', query: 'partNumber', action: 'slowdown', times: Infinity }]);
  const err = await s3.upload('s3://bkt/mp/fail.bin', chunks(), { partBytes: 5 * MIB }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RetriesExhaustedError);
  expect((err as Error).message).toMatch(/^S3 UploadPart s3:\/\/bkt\/mp\/fail\.bin failed after 4 attempts: SlowDown \(HTTP 503\)/);
  expect(proxy.log.some((l) => l.method === 'DELETE' && l.url.includes('uploadId='))).toBe(true);
  expect(await direct.abortUploads('s3://bkt/mp/')).toBe(0); // nothing left open
  expect(await direct.exists('s3://bkt/mp/fail.bin')).toBe(false);
});

test('faults that outlast maxAttempts fail with a clear, retryable (not bad-input) error', async () => {
  proxy.setRules([{ method: 'GET', action: 'slowdown', times: Infinity }]);
  const err = (await s3.readRange('s3://bkt/r/data.bin', 0, 10).catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(RetriesExhaustedError);
  expect(isBadInput(err)).toBe(false);
  expect(err.message).toBe(
    'S3 GetObject s3://bkt/r/data.bin failed after 4 attempts: SlowDown (HTTP 503): Please reduce your request rate.',
  );
  expect((err as RetriesExhaustedError).attempts).toBe(4);
  expect(err.cause).toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
  expect(requests('GET')).toBe(4);

  proxy.setRules([{ method: 'PUT', action: 'reset', times: Infinity }]);
  const werr = (await s3.write('s3://bkt/w/never.json', 'x').catch((e: unknown) => e)) as Error;
  expect(werr).toBeInstanceOf(RetriesExhaustedError);
  expect(werr.message).toMatch(/^S3 PutObject s3:\/\/bkt\/w\/never\.json failed after 4 attempts: /);
  expect(describeError(werr)).toMatch(/ECONNRESET|socket hang up|EPIPE/);
});

test('throttling and 5xx: waits grow exponentially under a cap, attempts are bounded, and a store that stays down fails in bounded time', async () => {
  const policy = { maxAttempts: 5, retryBaseMs: 40, retryMaxMs: 100 };
  const waits: RetryInfo[] = [];
  const patient = new S3Storage(s3OptionsFor(proxy, policy), { onRetry: (i) => waits.push(i) });
  try {
    proxy.setRules([
      { method: 'GET', action: 'slowdown', times: 2 },
      { method: 'GET', action: 'error', status: 500, times: 1 },
      { method: 'GET', action: 'error', status: 502, code: 'BadGateway', times: 1 },
    ]);
    expect(md5(await patient.read('s3://bkt/r/data.bin'))).toBe(md5(data));
    expect(proxy.log.map((l) => l.status)).toEqual([503, 503, 500, 502, 200]);
    // full jitter: wait n is below min(retryMaxMs, retryBaseMs * 2^(n-1))
    expect(waits.map((w) => w.attempt)).toEqual([1, 2, 3, 4]);
    waits.forEach((w, i) => expect(w.delayMs).toBeLessThan(Math.min(100, 40 * 2 ** i)));

    waits.length = 0;
    proxy.log.length = 0;
    proxy.setRules([{ method: 'GET', action: 'slowdown', times: Infinity }]);
    const err = await patient.read('s3://bkt/r/data.bin').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect(proxy.log).toHaveLength(5);
    expect(waits).toHaveLength(4);
    // Bounded time, counted rather than timed: the waits chosen sum to under 40 + 80 + 100 + 100 ms.
    expect(waits.reduce((n, w) => n + w.delayMs, 0)).toBeLessThan(320);
  } finally {
    patient.destroy();
  }
});

test('4xx answers are not retried: 403 AccessDenied is bad input at once', async () => {
  proxy.setRules([{ method: 'GET', action: 'error', status: 403, code: 'AccessDenied', message: 'Access Denied', times: Infinity }]);
  const err = (await s3.read('s3://bkt/r/data.bin').catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(BadInputError);
  expect(err.message).toMatch(/^access denied to s3:\/\/bkt\/r\/data\.bin \(AccessDenied\): check the credentials/);
  expect(err.cause).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  expect(requests('GET')).toBe(1);

  proxy.setRules([{ method: 'GET', action: 'error', status: 400, code: 'InvalidArgument', message: 'nope', times: Infinity }]);
  await expect(s3.read('s3://bkt/r/data.bin')).rejects.toThrow('S3 read s3://bkt/r/data.bin failed: InvalidArgument (HTTP 400): nope');
  expect(requests('GET')).toBe(2);

  proxy.setRules([{ method: 'GET', action: 'error', status: 429, code: 'TooManyRequests', message: 'slow down', times: 1 }]);
  expect((await s3.read('s3://bkt/r/data.bin')).length).toBe(data.length);
});

test('412 PreconditionFailed on a ranged read with ifMatch (what real S3 answers) is ChangedError, not retried', async () => {
  const { etag } = await direct.stat('s3://bkt/r/data.bin');
  proxy.setRules([{ method: 'GET', action: 'error', status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', times: Infinity }]);
  const err = (await s3.readRange('s3://bkt/r/data.bin', 0, 100, { ifMatch: etag }).catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(ChangedError);
  expect(err.message).toBe(`s3://bkt/r/data.bin changed: it is no longer version ${etag}`);
  expect(err.cause).toMatchObject({ $metadata: { httpStatusCode: 412 } });
  expect(requests('GET')).toBe(1);
});
