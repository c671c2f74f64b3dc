/** The storage backends' errors, and the mapping of file-system and S3 SDK errors onto the shared error kinds
 * (core/src/contract/error-kinds.ts): NotFoundError and BadInputError mean "retrying cannot help";
 * anything else is worth retrying (the worker exits with EXIT.retryable). Every mapped error keeps the
 * original as `cause`. */
import { BadInputError, ChangedError, NotFoundError } from '../contract/error-kinds.js';
import { s3Uri } from './uri.js';

/** A read asked for version `expected` (ReadOptions.ifMatch) and the object is no longer it. */
export const changedError = (uri: string, expected: string, found?: string, cause?: unknown): ChangedError =>
  new ChangedError(`${uri} changed: it is no longer version ${expected}${found !== undefined ? ` (now ${found})` : ''}`, { cause });

/** A conditional write (`ifNoneMatch`) found the object already there. Not bad input: someone else
 * (another attempt, another operator) wrote it first. */
export class AlreadyExistsError extends Error {
  override readonly name = 'AlreadyExistsError';
  constructor(
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(`${uri} already exists`, options);
  }
}

export const isAlreadyExists = (e: unknown): e is AlreadyExistsError => e instanceof AlreadyExistsError;

/** A request that kept failing with throttling, 5xx or connection errors until the attempts ran out.
 * Not bad input: the attempt as a whole is worth retrying later. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  constructor(
    message: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- file system -----------------------------------------------------------------------------------

interface ErrnoLike {
  code?: string;
  syscall?: string;
  message?: string;
}

const errnoOf = (e: unknown): ErrnoLike => (e && typeof e === 'object' ? (e as ErrnoLike) : {});

/** Maps a Node fs error about `path` (the thing the caller asked for); other errors pass through. */
export function mapFsError(e: unknown, op: string, path: string): unknown {
  if (e instanceof BadInputError || e instanceof AlreadyExistsError) return e;
  const { code, syscall } = errnoOf(e);
  if (!code || !syscall) return e; // not an fs error (e.g. thrown by an upload's data source)
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new NotFoundError(`no such file ${path}`, { cause: e });
    case 'EACCES':
    case 'EPERM':
      return new BadInputError(`permission denied: cannot ${op} ${path}`, { cause: e });
    case 'EISDIR':
      return new BadInputError(`cannot ${op} ${path}: it is a directory`, { cause: e });
    case 'EROFS':
      return new BadInputError(`cannot ${op} ${path}: read-only file system`, { cause: e });
    case 'ENAMETOOLONG':
      return new BadInputError(`cannot ${op} ${path}: name too long`, { cause: e });
    default:
      return new Error(`cannot ${op} ${path}: ${errnoOf(e).message ?? code}`, { cause: e });
  }
}

// ---- S3 --------------------------------------------------------------------------------------------

interface SdkErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  errno?: string | number;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  $retryable?: unknown;
}

const sdk = (e: unknown): SdkErrorLike => (e && typeof e === 'object' ? (e as SdkErrorLike) : {});

/** The S3 error code (`NoSuchKey`, `SlowDown`, …) or, for errors without one, the error's name. */
export const s3ErrorCode = (e: unknown): string => {
  const x = sdk(e);
  return String(x.Code ?? x.name ?? x.code ?? 'Error');
};
export const httpStatusOf = (e: unknown): number | undefined =>
  sdk(e).$metadata?.httpStatusCode ?? sdk(e).$response?.statusCode;

const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
  'EC2ThrottledException',
  'TransactionInProgressException',
]);
const TRANSIENT_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'PriorRequestNotComplete',
  'TimeoutError',
  // S3 answers 409 to one of two conditional writes racing on a key and asks the client to retry.
  'ConditionalRequestConflict',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const NETWORK_MESSAGE = /socket hang up|ECONNRESET|EPIPE|ETIMEDOUT|timed out|^aborted$|premature close|other side closed/i;

const ACCESS_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AccountProblem',
  'InvalidSecurity',
]);

/** Throttling (429, 503 SlowDown, "Throttling"), 5xx, 408 and connection errors are worth another try;
 * other 4xx (not found, access denied, precondition failed, bad request, …) are not. */
export function isRetryableS3Error(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  if (e instanceof BadInputError || e instanceof AlreadyExistsError || e instanceof RetriesExhaustedError) return false;
  const x = sdk(e);
  if (x.name === 'AbortError') return false;
  const code = s3ErrorCode(e);
  if (THROTTLING.has(code) || TRANSIENT_CODES.has(code)) return true;
  const status = httpStatusOf(e);
  if (status !== undefined && status >= 400) return status === 429 || status === 408 || status >= 500;
  if (NETWORK_CODES.has(String(x.code ?? '')) || NETWORK_CODES.has(String(x.errno ?? ''))) return true;
  if (x.$retryable) return true;
  return NETWORK_MESSAGE.test(String(x.message ?? ''));
}

/** One line about an SDK error: code, HTTP status and message. */
export function describeS3Error(e: unknown): string {
  const x = sdk(e);
  const code = s3ErrorCode(e);
  const status = httpStatusOf(e);
  const msg = x.message && x.message !== code ? `: ${x.message}` : '';
  return `${code}${status ? ` (HTTP ${status})` : ''}${msg}`;
}

export interface S3ErrorContext {
  /** The operation, for messages: "read", "write", "list", … */
  op: string;
  bucket: string;
  key?: string;
}

const CREDENTIALS_HINT =
  'check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or other AWS_* environment variables, ' +
  'spec.storage.s3.credentialsSecret) and that they may access this bucket';

/** Maps an S3 SDK error onto the shared kinds; the SDK error is always kept as `cause`. */
export function mapS3Error(e: unknown, ctx: S3ErrorContext): Error {
  if (e instanceof BadInputError || e instanceof AlreadyExistsError || e instanceof RetriesExhaustedError) return e;
  const where = ctx.key !== undefined ? s3Uri(ctx.bucket, ctx.key) : `s3://${ctx.bucket}`;
  const code = s3ErrorCode(e);
  const status = httpStatusOf(e);
  if (code === 'NoSuchBucket') {
    return new NotFoundError(`no such bucket "${ctx.bucket}" (cannot ${ctx.op} ${where})`, { cause: e });
  }
  if (code === 'NoSuchKey' || (status === 404 && (code === 'NotFound' || code === 'Unknown' || code === 'UnknownError'))) {
    return new NotFoundError(`no such key ${where}`, { cause: e });
  }
  if (code === 'NoSuchUpload') {
    return new NotFoundError(`no such multipart upload for ${where} (it was completed or aborted)`, { cause: e });
  }
  if (status === 403 || ACCESS_CODES.has(code)) {
    return new BadInputError(`access denied to ${where} (${code}): ${CREDENTIALS_HINT}`, { cause: e });
  }
  if (code === 'CredentialsProviderError' || /could not load credentials/i.test(sdk(e).message ?? '')) {
    return new BadInputError(`no S3 credentials found to ${ctx.op} ${where}: ${CREDENTIALS_HINT}`, { cause: e });
  }
  if (status === 412 || code === 'PreconditionFailed') {
    return new AlreadyExistsError(where, { cause: e });
  }
  if (status === 301 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed') {
    return new BadInputError(
      `cannot ${ctx.op} ${where}: the bucket is in another region or needs another endpoint (${code}); ` +
        'check spec.storage.s3.region and endpoint',
      { cause: e },
    );
  }
  if (code === 'InvalidBucketName') {
    return new BadInputError(`invalid bucket name "${ctx.bucket}" in ${where}`, { cause: e });
  }
  if (code === 'EntityTooLarge' || code === 'KeyTooLongError') {
    return new BadInputError(`cannot ${ctx.op} ${where}: ${describeS3Error(e)}`, { cause: e });
  }
  return new Error(`S3 ${ctx.op} ${where} failed: ${describeS3Error(e)}`, { cause: e });
}
