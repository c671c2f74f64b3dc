/**
 * One small storage interface for file:// paths, plain paths and s3:// URIs, used by the worker
 * (read shards, write attempts) and the operator (plan, commit, clean up).
 * URIs are always absolute: `file:///abs/path`, `/abs/path`, a relative path (resolved against the
 * process's working directory when the storage is opened), or `s3://bucket/key`.
 */
export interface ObjectInfo {
  uri: string;
  size: number;
  /** S3 ETag (quotes stripped) or, for files, `<mtimeMs>-<size>`: changes when the content changes. */
  etag?: string;
}

export interface WriteOptions {
  /** Fail with AlreadyExistsError if the object exists (S3 `If-None-Match: *`, O_EXCL on files).
   * Stores that cannot do this atomically fall back to check-then-write. */
  ifNoneMatch?: boolean;
  contentType?: string;
}

export interface ReadOptions {
  /** The version (ObjectInfo.etag) the object must still have, else ChangedError: S3 `If-Match` plus a
   * check of the answer's ETag (for stores that ignore If-Match); on files, the handle's mtime and size
   * after the read. */
  ifMatch?: string;
}

export interface Storage {
  /** Every object under a prefix (recursively), sorted by URI. Follows S3 pagination past 1,000 keys. */
  list(prefixUri: string): AsyncIterable<ObjectInfo>;
  /** Size and version of one object. Throws NotFoundError (from core/src/contract) naming the URI. */
  stat(uri: string): Promise<ObjectInfo>;
  exists(uri: string): Promise<boolean>;
  /** Bytes [start, end) of an object: never more than asked for. */
  readRange(uri: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array>;
  read(uri: string): Promise<Uint8Array>;
  readText(uri: string): Promise<string>;
  /** Writes a whole object atomically: readers see the old object or the new one, never a part. */
  write(uri: string, data: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo>;
  /** Streams a large object: S3 multipart upload (parts of `partBytes`), a temp file + rename on disk.
   * An upload that fails is aborted, leaving nothing behind. A chunk is the caller's again once the
   * upload asks for the next one (the writer frees it then): an implementation that keeps a chunk
   * longer copies it. */
  upload(uri: string, chunks: AsyncIterable<Uint8Array>, options?: { partBytes?: number }): Promise<ObjectInfo>;
  /** Server-side copy where the store has one. */
  copy(fromUri: string, toUri: string): Promise<ObjectInfo>;
  /** Deleting what is not there succeeds. */
  delete(uri: string): Promise<void>;
  /** Deletes every object under a prefix; returns how many. */
  deletePrefix(prefixUri: string): Promise<number>;
  /** Aborts multipart uploads left open under a prefix (no-op on files); returns how many. */
  abortUploads(prefixUri: string): Promise<number>;
}

export interface S3Options {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Attempts per request on throttling (429/503 SlowDown), 5xx and connection errors. Default 5. */
  maxAttempts?: number;
  /** Base of the exponential backoff between attempts, in ms: attempt n waits a random time in
   * [0, min(retryMaxMs, retryBaseMs * 2^(n-1))) ("full jitter"). Default 200; tests use a few ms. */
  retryBaseMs?: number;
  /** Cap on one backoff wait, in ms. Default 20,000. */
  retryMaxMs?: number;
}
