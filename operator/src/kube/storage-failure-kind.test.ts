import { BadInputError, NotFoundError } from '../../../core/src/contract/index.js';
import { RetriesExhaustedError, mapFsError } from '../../../core/src/storage/backend-errors.js';
import { classifyStorageError } from './storage-failure-kind.js';

const errno = (code: string) => Object.assign(new Error(`${code}: x`), { code, syscall: 'open' });

test.each<[string, unknown, boolean | undefined]>([
  ['access denied (BadInputError)', new BadInputError('access denied to s3://b/k'), true],
  ['a missing object the plan says exists', new NotFoundError('no such key s3://b/k'), true],
  ['a full disk, wrapped', mapFsError(errno('ENOSPC'), 'write', '/out/x'), true],
  ['a read-only file system', mapFsError(errno('EROFS'), 'write', '/out/x'), true],
  ['over quota', new Error('write failed', { cause: errno('EDQUOT') }), true],
  ['a reset connection', new Error('cannot read', { cause: errno('ECONNRESET') }), false],
  ['retries used up', new RetriesExhaustedError('S3 read s3://b/k failed 5 times', 5), false],
  ['an S3 5xx', Object.assign(new Error('InternalError'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }), false],
  ['a Kubernetes API error', Object.assign(new Error('HTTP-Code: 500'), { code: 500, body: '{}' }), undefined],
  ['a plain bug', new TypeError('x is undefined'), undefined],
])('%s', (_n, err, terminal) => {
  const c = classifyStorageError(err);
  expect(c?.terminal).toBe(terminal);
  if (c) expect(c.message).toContain((err as Error).message);
});
