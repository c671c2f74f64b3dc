/**
 * Storage on S3 (or an S3-compatible store) with @aws-sdk/client-s3.
 *
 * Credentials come from the SDK's default provider chain (AWS_* environment variables, web identity,
 * profiles, instance metadata); they are never passed in here. Every request goes through withRetry
 * (exponential backoff, full jitter) on throttling, 5xx and connection errors; the SDK client runs with
 * maxAttempts 1 so that retrying happens in one place. Errors are mapped by mapS3Error.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BadInputError } from '../contract/error-kinds.js';
import { checkRange } from './range.js';
import { changedError, describeS3Error, httpStatusOf, isRetryableS3Error, mapS3Error, s3ErrorCode } from './backend-errors.js';
import { DEFAULT_RETRY, mapLimit, withRetry, type RetryPolicy } from './retry.js';
import type { ObjectInfo, ReadOptions, S3Options, Storage, WriteOptions } from './types.js';
import { parseUri, s3Uri } from './uri.js';
import {
  bodyBytes, clientConfig, encodeKey, md5Hex, opVerb, stripQuotes,
  COPY_PART_BYTES, DEFAULT_PART_BYTES, DELETE_BATCH, MAX_COPY_OBJECT_BYTES, MIB, MIN_PART_BYTES,
  type S3StorageInternals, type S3Target,
} from './s3-helpers.js';
import { abortUpload, copyInParts, streamUpload, type S3Calls } from './s3-multipart.js';

export { DEFAULT_PART_BYTES, MIB, MIN_PART_BYTES, stripQuotes, type S3StorageInternals };


export class S3Storage implements Storage {
  readonly client: S3Client;
  private readonly policy: RetryPolicy;
  private readonly internals: S3StorageInternals;
  /** The request path the multipart functions (s3-multipart.ts) go through. */
  private readonly calls: S3Calls;
  private readonly partConcurrency: number;

  constructor(options: S3Options = {}, internals: S3StorageInternals = {}) {
    this.internals = internals;
    this.policy = {
      maxAttempts: options.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
      baseMs: options.retryBaseMs ?? DEFAULT_RETRY.baseMs,
      maxMs: options.retryMaxMs ?? DEFAULT_RETRY.maxMs,
    };
    this.client = internals.client ?? new S3Client(clientConfig(options, internals));
    this.calls = { client: this.client, call: (op, t, fn) => this.call(op, t, fn) };
    this.partConcurrency = Math.max(1, internals.partConcurrency ?? 4);
  }

  private target(uri: string): S3Target {
    const p = parseUri(uri);
    if (p.scheme !== 's3') throw new BadInputError(`not an S3 URI: ${uri}`);
    return { bucket: p.bucket, key: p.key };
  }

  /** One S3 request, retried on transient errors; failures come back mapped. */
  private async call<T>(op: string, t: { bucket: string; key?: string }, fn: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, {
        ...this.policy,
        label: `S3 ${op} ${t.key !== undefined ? s3Uri(t.bucket, t.key) : `s3://${t.bucket}`}`,
        isRetryable: isRetryableS3Error,
        describe: describeS3Error,
        onRetry: this.internals.onRetry,
        random: this.internals.random,
      });
    } catch (e) {
      throw mapS3Error(e, { op: opVerb(op), bucket: t.bucket, key: t.key });
    }
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const { bucket, key: prefix } = this.target(prefixUri);
    for await (const page of this.pages(bucket, prefix)) {
      for (const o of page) {
        // "folder" placeholders some tools create are not objects for our purposes (files cannot have them)
        if (o.key.endsWith('/') && !o.size) continue;
        yield { uri: s3Uri(bucket, o.key), size: o.size, etag: o.etag };
      }
    }
  }

  /** ListObjectsV2, page by page (following continuation tokens), in S3's key order. */
  private async *pages(bucket: string, prefix: string): AsyncIterable<Array<{ key: string; size: number; etag?: string }>> {
    let token: string | undefined;
    do {
      const page = await this.call('ListObjectsV2', { bucket, key: prefix }, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token, MaxKeys: this.internals.listPageSize })),
      );
      yield (page.Contents ?? [])
        .filter((o) => o.Key !== undefined)
        .map((o) => ({ key: o.Key!, size: o.Size ?? 0, etag: stripQuotes(o.ETag) }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) throw new Error(`S3 ListObjectsV2 s3://${bucket}/${prefix}: truncated page without a continuation token`);
    } while (token);
  }

  async stat(uri: string): Promise<ObjectInfo> {
    const t = this.target(uri);
    try {
      const h = await this.call('HeadObject', t, () => this.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })));
      return { uri, size: h.ContentLength ?? 0, etag: stripQuotes(h.ETag) };
    } catch (e) {
      // HEAD answers carry no body: a 404 does not say whether the key or the bucket is missing.
      if (httpStatusOf((e as Error).cause) === 404) await this.checkBucket(t.bucket, 'stat', t.key);
      throw e;
    }
  }

  async exists(uri: string): Promise<boolean> {
    const t = this.target(uri);
    try {
      await this.call('HeadObject', t, () => this.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })));
      return true;
    } catch (e) {
      if (httpStatusOf((e as Error).cause) === 404) return false;
      throw e;
    }
  }

  async readRange(uri: string, start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    checkRange(uri, start, end);
    const t = this.target(uri);
    const { ifMatch } = options;
    if (end === start) {
      const info = await this.stat(uri);
      if (ifMatch !== undefined && info.etag !== undefined && info.etag !== ifMatch) throw changedError(uri, ifMatch, info.etag);
      return new Uint8Array(0);
    }
    const want = end - start;
    try {
      return await this.call('GetObject', t, async () => {
        let res;
        try {
          res = await this.client.send(new GetObjectCommand({
            Bucket: t.bucket, Key: t.key, Range: `bytes=${start}-${end - 1}`, ...(ifMatch !== undefined ? { IfMatch: `"${ifMatch}"` } : {}),
          }));
        } catch (e) {
          if (ifMatch !== undefined && (httpStatusOf(e) === 412 || s3ErrorCode(e) === 'PreconditionFailed')) throw changedError(uri, ifMatch, undefined, e);
          throw e;
        }
        // Stores that ignore If-Match still say which version they answered from.
        const etag = stripQuotes(res.ETag);
        if (ifMatch !== undefined && etag !== undefined && etag !== ifMatch) {
          res.Body?.transformToByteArray?.().catch(() => undefined); // drain
          throw changedError(uri, ifMatch, etag);
        }
        const bytes = await bodyBytes(res.Body);
        // a server that ignored Range sent the whole object: cut our bytes out of it
        if (!res.ContentRange && bytes.length > want) return bytes.subarray(start, end);
        return bytes.length > want ? bytes.subarray(0, want) : bytes;
      });
    } catch (e) {
      // S3 answers 416 when start is at or past the end: fewer bytes than asked for (none), as on files
      if (httpStatusOf((e as Error).cause) === 416 || s3ErrorCode((e as Error).cause) === 'InvalidRange') return new Uint8Array(0);
      throw e;
    }
  }

  async read(uri: string): Promise<Uint8Array> {
    const t = this.target(uri);
    return this.call('GetObject', t, async () => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }));
      return bodyBytes(res.Body);
    });
  }

  async readText(uri: string): Promise<string> {
    return Buffer.from(await this.read(uri)).toString('utf8');
  }

  async write(uri: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    const t = this.target(uri);
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const ifNoneMatch = options.ifNoneMatch ?? false;
    const res = await this.call('PutObject', t, async (attempt) => {
      try {
        return await this.client.send(
          new PutObjectCommand({
            Bucket: t.bucket,
            Key: t.key,
            Body: body,
            ContentType: options.contentType,
            IfNoneMatch: ifNoneMatch ? '*' : undefined,
          }),
        );
      } catch (e) {
        // A retried conditional put that finds the object may be finding our own earlier attempt, whose
        // answer was lost: if the stored object is byte-for-byte ours (its ETag is our MD5), that is success.
        if (ifNoneMatch && attempt > 1 && httpStatusOf(e) === 412) {
          const h = await this.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })).catch(() => undefined);
          if (h && stripQuotes(h.ETag) === md5Hex(body)) return { ETag: h.ETag };
        }
        throw e;
      }
    });
    return { uri, size: body.length, etag: stripQuotes(res.ETag) };
  }

  async upload(uri: string, chunks: AsyncIterable<Uint8Array>, options: { partBytes?: number } = {}): Promise<ObjectInfo> {
    return streamUpload(this.calls, uri, this.target(uri), chunks, {
      partBytes: Math.max(MIN_PART_BYTES, Math.floor(options.partBytes ?? DEFAULT_PART_BYTES)),
      concurrency: this.partConcurrency,
      putSmall: (bytes) => this.write(uri, bytes),
    });
  }

  async copy(fromUri: string, toUri: string): Promise<ObjectInfo> {
    const src = this.target(fromUri);
    const dst = this.target(toUri);
    const info = await this.stat(fromUri); // NotFoundError naming the source, and its size
    if (src.bucket === dst.bucket && src.key === dst.key) return { ...info, uri: toUri };
    const copySource = `${src.bucket}/${encodeKey(src.key)}`;
    if (info.size > (this.internals.copyMultipartThreshold ?? MAX_COPY_OBJECT_BYTES)) {
      return copyInParts(this.calls, copySource, info, dst, toUri, { partBytes: this.internals.copyPartBytes ?? COPY_PART_BYTES, concurrency: this.partConcurrency });
    }
    const res = await this.call('CopyObject', dst, () =>
      this.client.send(new CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: copySource })),
    ).catch((e: unknown) => {
      // the source vanished between HEAD and COPY
      if (s3ErrorCode((e as Error).cause) === 'NoSuchKey') throw mapS3Error((e as Error).cause, { op: 'copy', ...src });
      throw e;
    });
    return { uri: toUri, size: info.size, etag: stripQuotes(res.CopyObjectResult?.ETag) };
  }

  async delete(uri: string): Promise<void> {
    const t = this.target(uri);
    try {
      await this.call('DeleteObject', t, () => this.client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: t.key })));
    } catch (e) {
      if (s3ErrorCode((e as Error).cause) === 'NoSuchKey') return;
      throw e;
    }
  }

  async deletePrefix(prefixUri: string): Promise<number> {
    const { bucket, key: prefix } = this.target(prefixUri);
    if (!prefix) throw new BadInputError(`refusing to delete a whole bucket (${prefixUri}): give a key prefix`);
    let deleted = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      const keys = batch;
      batch = [];
      if (!keys.length) return;
      const res = await this.call('DeleteObjects', { bucket, key: prefix }, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      const errors = res.Errors ?? [];
      if (errors.length) {
        const first = errors[0];
        const sample = errors.slice(0, 3).map((x) => `${s3Uri(bucket, x.Key ?? '?')}: ${x.Code ?? 'Error'} ${x.Message ?? ''}`.trim());
        const cause = Object.assign(new Error(sample.join('; ')), { name: first.Code ?? 'Error', Code: first.Code });
        throw mapS3Error(cause, { op: 'delete', bucket, key: first.Key ?? prefix });
      }
      deleted += keys.length;
    };
    // every key, folder placeholders included; a page holds at most 1,000 keys, one DeleteObjects
    for await (const page of this.pages(bucket, prefix)) {
      for (const o of page) {
        batch.push(o.key);
        if (batch.length >= DELETE_BATCH) await flush();
      }
    }
    await flush();
    return deleted;
  }

  async abortUploads(prefixUri: string): Promise<number> {
    const { bucket, key: prefix } = this.target(prefixUri);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    let aborted = 0;
    for (;;) {
      const page = await this.call('ListMultipartUploads', { bucket, key: prefix }, () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: idMarker, MaxUploads: this.internals.listPageSize,
          }),
        ),
      );
      const uploads = (page.Uploads ?? []).filter((u) => u.Key !== undefined && u.UploadId);
      const results = await mapLimit(uploads, 8, async (u): Promise<number> => {
        try {
          await abortUpload(this.calls, { bucket, key: u.Key! }, u.UploadId!);
          return 1;
        } catch (e) {
          if (s3ErrorCode((e as Error).cause) === 'NoSuchUpload') return 0; // finished or aborted meanwhile
          throw e;
        }
      });
      aborted += results.reduce((a, b) => a + b, 0);
      if (!page.IsTruncated) break;
      if (!page.NextKeyMarker && !page.NextUploadIdMarker) {
        throw new Error(`S3 ListMultipartUploads s3://${bucket}/${prefix}: truncated page without a marker`);
      }
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
    return aborted;
  }

  /** After a HEAD 404: a NotFoundError naming the bucket if it is the bucket that is missing. */
  private async checkBucket(bucket: string, op: string, key: string): Promise<void> {
    let status: number | undefined;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (e) {
      status = httpStatusOf(e);
      if (status === 404) throw mapS3Error(Object.assign(e as Error, { name: 'NoSuchBucket' }), { op, bucket, key });
    }
  }

  /** Releases the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}
