import { S3ServiceException } from '@aws-sdk/client-s3';
import { BadInputError, NotFoundError, isBadInput } from '../contract/error-kinds.js';
import { AlreadyExistsError, RetriesExhaustedError, isRetryableS3Error, mapFsError, mapS3Error } from './backend-errors.js';
import { backoffDelay, mapLimit, withRetry } from './retry.js';

/** An error shaped like the SDK's: what S3Client.send rejects with for an S3 error answer. */
const sdkError = (name: string, status: number, message = name): S3ServiceException =>
  new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });

const errno = (code: string, syscall = 'open'): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: something, ${syscall} '/x'`), { code, syscall, errno: -1 });

describe('isRetryableS3Error', () => {
  test.each([
    ['503 SlowDown', true, sdkError('SlowDown', 503)],
    ['400 Throttling', true, sdkError('Throttling', 400)],
    ['429', true, sdkError('TooManyRequests', 429)],
    ['408', true, sdkError('RequestTimeout', 408)],
    ['500 InternalError', true, sdkError('InternalError', 500)],
    ['502 with an unparseable body', true, sdkError('Unknown', 502)],
    ['409 ConditionalRequestConflict', true, sdkError('ConditionalRequestConflict', 409)],
    ['ECONNRESET', true, errno('ECONNRESET', 'read')],
    ['EPIPE', true, errno('EPIPE', 'write')],
    ['socket hang up', true, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['SDK socket timeout', true, Object.assign(new Error('the request socket timed out'), { name: 'TimeoutError' })],
    ['404 NoSuchKey', false, sdkError('NoSuchKey', 404)],
    ['404 NotFound (HEAD)', false, sdkError('NotFound', 404)],
    ['403 AccessDenied', false, sdkError('AccessDenied', 403)],
    ['412 PreconditionFailed', false, sdkError('PreconditionFailed', 412)],
    ['400 InvalidArgument', false, sdkError('InvalidArgument', 400)],
    ['a programming error', false, new TypeError('x is not a function')],
    ['an abort', false, Object.assign(new Error('aborted by caller'), { name: 'AbortError' })],
    ['bad input', false, new BadInputError('no')],
  ] as Array<[string, boolean, unknown]>)('%s -> retryable: %s', (_what, retryable, e) => {
    expect(isRetryableS3Error(e)).toBe(retryable);
  });
});

describe('mapS3Error', () => {
  const ctx = { op: 'read', bucket: 'bkt', key: 'a/b.parquet' };

  test('NoSuchKey and HEAD 404 are NotFoundError naming the key', () => {
    for (const e of [sdkError('NoSuchKey', 404), sdkError('NotFound', 404)]) {
      const m = mapS3Error(e, ctx);
      expect(m).toBeInstanceOf(NotFoundError);
      expect(m.message).toBe('no such key s3://bkt/a/b.parquet');
      expect(m.cause).toBe(e);
    }
  });

  test('NoSuchBucket is NotFoundError naming the bucket', () => {
    const m = mapS3Error(sdkError('NoSuchBucket', 404), ctx);
    expect(m).toBeInstanceOf(NotFoundError);
    expect(m.message).toBe('no such bucket "bkt" (cannot read s3://bkt/a/b.parquet)');
  });

  test('AccessDenied (and any 403) is bad input that points at the credentials', () => {
    // The mapping of every code, on SDK-shaped errors; the real server's answers to an unknown access key
    // and to a wrong secret key (a bad signature) are in s3.test.ts, a proxy's 403 in s3-retry.test.ts.
    for (const [code, status] of [['AccessDenied', 403], ['SignatureDoesNotMatch', 403], ['ExpiredToken', 400], ['Forbidden', 403]] as const) {
      const e = sdkError(code, status);
      const m = mapS3Error(e, ctx);
      expect(m).toBeInstanceOf(BadInputError);
      expect(m).not.toBeInstanceOf(NotFoundError);
      expect(m.message).toBe(
        `access denied to s3://bkt/a/b.parquet (${code}): check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY ` +
          'or other AWS_* environment variables, spec.storage.s3.credentialsSecret) and that they may access this bucket',
      );
      expect(m.cause).toBe(e);
    }
  });

  test('missing credentials are bad input', () => {
    const e = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const m = mapS3Error(e, ctx);
    expect(isBadInput(m)).toBe(true);
    expect(m.message).toMatch(/^no S3 credentials found to read s3:\/\/bkt\/a\/b\.parquet: check the credentials/);
  });

  test('412 is AlreadyExistsError; others keep code and status in the message', () => {
    expect(mapS3Error(sdkError('PreconditionFailed', 412), ctx)).toBeInstanceOf(AlreadyExistsError);
    const m = mapS3Error(sdkError('InternalError', 500, 'We encountered an internal error.'), ctx);
    expect(isBadInput(m)).toBe(false);
    expect(m.message).toBe('S3 read s3://bkt/a/b.parquet failed: InternalError (HTTP 500): We encountered an internal error.');
  });
});

describe('mapFsError', () => {
  test('ENOENT names the path; EACCES/EPERM are bad input; other errors pass through', () => {
    const nf = mapFsError(errno('ENOENT'), 'read', '/data/x') as Error;
    expect(nf).toBeInstanceOf(NotFoundError);
    expect(nf.message).toBe('no such file /data/x');
    const ac = mapFsError(errno('EACCES'), 'read', '/data/x') as Error;
    expect(ac).toBeInstanceOf(BadInputError);
    expect(ac).not.toBeInstanceOf(NotFoundError);
    expect(ac.message).toBe('permission denied: cannot read /data/x');
    expect(ac.cause).toMatchObject({ code: 'EACCES' });
    expect(mapFsError(errno('EPERM'), 'write', '/x')).toBeInstanceOf(BadInputError);
    const io = mapFsError(errno('EIO'), 'read', '/x') as Error;
    expect(isBadInput(io)).toBe(false);
    const plain = new Error('from the data source');
    expect(mapFsError(plain, 'write', '/x')).toBe(plain);
  });
});

describe('withRetry', () => {
  const policy = { maxAttempts: 4, baseMs: 100, maxMs: 1000 };

  test('backoff: full jitter under an exponential cap', () => {
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.999999)).toBe(199);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(10, policy, () => 0.999999)).toBe(999); // capped at maxMs
    expect(backoffDelay(5, policy, () => 0)).toBe(0);
  });

  test('retries retryable errors with growing waits, then gives up with the last error as cause', async () => {
    const waits: number[] = [];
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw sdkError('SlowDown', 503, 'Please reduce your request rate.');
      },
      { ...policy, label: 'S3 GetObject s3://b/k', isRetryable: isRetryableS3Error, random: () => 0.999999, sleep: async (ms) => void waits.push(ms) },
    ).catch((e: unknown) => e as RetriesExhaustedError);
    expect(calls).toBe(4);
    expect(waits).toEqual([99, 199, 399]);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect(err.attempts).toBe(4);
    expect(err.message).toBe('S3 GetObject s3://b/k failed after 4 attempts: Please reduce your request rate.');
  });

  test('succeeds after transient failures; does not retry other errors', async () => {
    let calls = 0;
    const v = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw errno('ECONNRESET', 'read');
        return 'ok';
      },
      { ...policy, label: 'x', isRetryable: isRetryableS3Error, sleep: async () => undefined },
    );
    expect([v, calls]).toEqual(['ok', 3]);

    calls = 0;
    const nf = sdkError('NoSuchKey', 404);
    await expect(
      withRetry(async () => {
        calls++;
        throw nf;
      }, { ...policy, label: 'x', isRetryable: isRetryableS3Error }),
    ).rejects.toBe(nf);
    expect(calls).toBe(1);
  });

  test('mapLimit keeps order and bounds concurrency', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, x));
      active--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
