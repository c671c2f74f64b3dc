/**
 * openStorage(): one Storage for every URI form, dispatching by scheme: `s3://bucket/key` to S3,
 * `file:///abs`, `/abs` and relative paths (resolved against `cwd`) to the file system.
 * The S3 backend is loaded on first use (its module and the AWS SDK: about 100 ms of a process's
 * start on 2 cores, paid by every worker process), so a storage that only touches files never loads
 * the SDK or credentials.
 */
import { FileStorage } from './file.js';
import type { S3Storage, S3StorageInternals } from './s3.js';
import type { ObjectInfo, ReadOptions, S3Options, Storage, WriteOptions } from './types.js';
import { parseUri } from './uri.js';

export type { ObjectInfo, S3Options, Storage, WriteOptions } from './types.js';
export { parseUri, normalizeUri, toFileUri, s3Uri, type ParsedUri } from './uri.js';
export {
  AlreadyExistsError,
  RetriesExhaustedError,
  isAlreadyExists,
  isRetryableS3Error,
  mapFsError,
  mapS3Error,
} from './backend-errors.js';
export { FileStorage, isTempName } from './file.js';
export type { S3Storage, S3StorageInternals } from './s3.js';
export { withRetry, backoffDelay, DEFAULT_RETRY, type RetryPolicy, type RetryInfo } from './retry.js';

export interface OpenStorageOptions {
  /** spec.storage.s3 (extra fields such as credentialsSecret are ignored; an empty endpoint means AWS). */
  s3?: S3Options;
  /** Where relative paths resolve. Default: process.cwd() when the storage is opened. */
  cwd?: string;
  /** Test and tuning knobs for the S3 backend. */
  s3Internals?: S3StorageInternals;
}

/** Chunk size for copies between the file system and S3. */
const CROSS_COPY_CHUNK = 8 * 1024 * 1024;

class RoutingStorage implements Storage {
  private readonly file: FileStorage;
  private s3Storage: Promise<S3Storage> | undefined;

  constructor(private readonly options: OpenStorageOptions) {
    this.file = new FileStorage(options.cwd ?? process.cwd());
  }

  private s3(): Promise<S3Storage> {
    this.s3Storage ??= import('./s3.js').then(({ S3Storage: Backend }) => (this.options.s3Internals
      ? new Backend(this.options.s3 ?? {}, this.options.s3Internals)
      : sharedS3(Backend, this.options.s3 ?? {})));
    return this.s3Storage;
  }

  private async pick(uri: string): Promise<Storage> {
    return parseUri(uri, this.options.cwd).scheme === 's3' ? this.s3() : this.file;
  }

  // async throughout, so that a bad URI is a rejection, not a synchronous throw
  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    yield* (await this.pick(prefixUri)).list(prefixUri);
  }
  async stat(uri: string): Promise<ObjectInfo> {
    return (await this.pick(uri)).stat(uri);
  }
  async exists(uri: string): Promise<boolean> {
    return (await this.pick(uri)).exists(uri);
  }
  async readRange(uri: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array> {
    return (await this.pick(uri)).readRange(uri, start, end, options);
  }
  async read(uri: string): Promise<Uint8Array> {
    return (await this.pick(uri)).read(uri);
  }
  async readText(uri: string): Promise<string> {
    return (await this.pick(uri)).readText(uri);
  }
  async write(uri: string, data: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> {
    return (await this.pick(uri)).write(uri, data, options);
  }
  async upload(uri: string, chunks: AsyncIterable<Uint8Array>, options?: { partBytes?: number }): Promise<ObjectInfo> {
    return (await this.pick(uri)).upload(uri, chunks, options);
  }
  async copy(fromUri: string, toUri: string): Promise<ObjectInfo> {
    const from = await this.pick(fromUri);
    const to = await this.pick(toUri);
    if (from === to) return from.copy(fromUri, toUri);
    // between the file system and S3: stream it across in ranged reads
    const { size } = await from.stat(fromUri);
    async function* chunks(): AsyncIterable<Uint8Array> {
      for (let at = 0; at < size; at += CROSS_COPY_CHUNK) yield await from.readRange(fromUri, at, Math.min(size, at + CROSS_COPY_CHUNK));
    }
    return to.upload(toUri, chunks());
  }
  async delete(uri: string): Promise<void> {
    return (await this.pick(uri)).delete(uri);
  }
  async deletePrefix(prefixUri: string): Promise<number> {
    return (await this.pick(prefixUri)).deletePrefix(prefixUri);
  }
  async abortUploads(prefixUri: string): Promise<number> {
    return (await this.pick(prefixUri)).abortUploads(prefixUri);
  }
}

/** One S3 backend (one SDK client, one connection pool) per distinct S3Options in this process, so that
 * code which opens a storage per call does not pile up clients and sockets. */
const s3Backends = new Map<string, S3Storage>();
function sharedS3(Backend: typeof S3Storage, o: S3Options): S3Storage {
  const key = JSON.stringify([o.endpoint || '', o.region || '', !!o.forcePathStyle, o.maxAttempts, o.retryBaseMs, o.retryMaxMs]);
  let s = s3Backends.get(key);
  if (!s) {
    s = new Backend(o);
    s3Backends.set(key, s);
  }
  return s;
}

/** A Storage for s3://, file:// and plain-path URIs. */
export function openStorage(options: OpenStorageOptions = {}): Storage {
  return new RoutingStorage(options);
}
