/**
 * Storage on S3 (or an S3-compatible store) with @aws-sdk/client-s3.
 *
 * Credentials come from the SDK's default provider chain (AWS_* environment variables, web identity,
 * profiles, instance metadata); they are never passed in here. Every request goes through withRetry
 * (exponential backoff, full jitter) on throttling, 5xx and connection errors; the SDK client runs with
 * maxAttempts 1 so that retrying happens in one place. Errors are mapped by mapS3Error.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { BadInputError, ChangedError } from '../../../operator/src/contract/errors.js';
import { checkRange } from './file.js';
import { describeS3Error, httpStatusOf, isRetryableS3Error, mapS3Error, s3ErrorCode } from './errors.js';
import { DEFAULT_RETRY, mapLimit, withRetry, type RetryInfo, type RetryPolicy } from './retry.js';
import type { ObjectInfo, ReadOptions, S3Options, Storage, WriteOptions } from './types.js';
import { parseUri, s3Uri } from './uri.js';
import {
  bodyBytes, clientConfig, encodeKey, md5Hex, opVerb,
  COPY_PART_BYTES, DEFAULT_PART_BYTES, DELETE_BATCH, MAX_COPY_OBJECT_BYTES, MAX_PARTS, MIB, MIN_PART_BYTES,
  type S3StorageInternals,
} from './s3-helpers.js';

export { DEFAULT_PART_BYTES, MIB, MIN_PART_BYTES, type S3StorageInternals };

const changed = (uri: string, expected: string, found: string | undefined, cause?: unknown): ChangedError =>
  new ChangedError(`${uri} changed: it is no longer version ${expected}${found !== undefined ? ` (now ${found})` : ''}`, { cause });

/** `"abc"` and `W/"abc"` (a weak ETag, as some S3-compatible stores send) -> `abc`. */
export const stripQuotes = (etag: string | undefined): string | undefined => etag?.replace(/^W\//, '').replace(/^"+|"+$/g, '');

interface Target {
  bucket: string;
  key: string;
}

export class S3Storage implements Storage {
  readonly client: S3Client;
  private readonly policy: RetryPolicy;
  private readonly internals: S3StorageInternals;

  constructor(options: S3Options = {}, internals: S3StorageInternals = {}) {
    this.internals = internals;
    this.policy = {
      maxAttempts: options.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
      baseMs: options.retryBaseMs ?? DEFAULT_RETRY.baseMs,
      maxMs: options.retryMaxMs ?? DEFAULT_RETRY.maxMs,
    };
    this.client = internals.client ?? new S3Client(clientConfig(options, internals));
  }

  private target(uri: string): Target {
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
        this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token })),
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
      if (ifMatch !== undefined && info.etag !== undefined && info.etag !== ifMatch) throw changed(uri, ifMatch, info.etag);
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
          if (ifMatch !== undefined && (httpStatusOf(e) === 412 || s3ErrorCode(e) === 'PreconditionFailed')) throw changed(uri, ifMatch, undefined, e);
          throw e;
        }
        // Stores that ignore If-Match still say which version they answered from.
        const etag = stripQuotes(res.ETag);
        if (ifMatch !== undefined && etag !== undefined && etag !== ifMatch) {
          res.Body?.transformToByteArray?.().catch(() => undefined); // drain
          throw changed(uri, ifMatch, etag);
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
    const t = this.target(uri);
    const base = Math.max(MIN_PART_BYTES, Math.floor(options.partBytes ?? DEFAULT_PART_BYTES));
    // Parts grow every 1,000 parts so that 10,000 parts reach 55x the base (440 GiB at 8 MiB).
    const partSize = (n: number): number => base * (1 + Math.floor((n - 1) / 1000));
    const concurrency = Math.max(1, this.internals.partConcurrency ?? 4);

    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let partNumber = 0;
    let total = 0;
    let cur = Buffer.allocUnsafe(partSize(1));
    let curLen = 0;

    const launch = async (body: Uint8Array): Promise<void> => {
      if (!uploadId) {
        const created = await this.call('CreateMultipartUpload', t, () =>
          this.client.send(new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: t.key })),
        );
        if (!created.UploadId) throw new Error(`S3 CreateMultipartUpload ${uri}: no UploadId in the answer`);
        uploadId = created.UploadId;
      }
      while (inflight.size >= concurrency) await Promise.race(inflight);
      if (failure) throw failure.error;
      const n = ++partNumber;
      if (n > MAX_PARTS) throw new BadInputError(`cannot upload ${uri}: more than ${MAX_PARTS} parts (object too large)`);
      const id = uploadId;
      const p: Promise<void> = this.call('UploadPart', t, () =>
        this.client.send(new UploadPartCommand({ Bucket: t.bucket, Key: t.key, UploadId: id, PartNumber: n, Body: body })),
      )
        .then((r) => {
          parts.push({ PartNumber: n, ETag: r.ETag });
        })
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };

    try {
      for await (const chunk of chunks) {
        if (failure) throw failure.error;
        let off = 0;
        while (off < chunk.length) {
          const take = Math.min(chunk.length - off, cur.length - curLen);
          cur.set(chunk.subarray(off, off + take), curLen);
          curLen += take;
          off += take;
          total += take;
          if (curLen === cur.length) {
            await launch(cur);
            cur = Buffer.allocUnsafe(partSize(partNumber + 1));
            curLen = 0;
          }
        }
      }
      if (!uploadId) {
        // smaller than one part: a single PutObject
        return await this.write(uri, cur.subarray(0, curLen));
      }
      if (curLen > 0) await launch(cur.subarray(0, curLen));
      await Promise.all(inflight);
      if (failure) throw failure.error;
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      const id = uploadId;
      const done = await this.call('CompleteMultipartUpload', t, async (attempt) => {
        try {
          return await this.client.send(
            new CompleteMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: id, MultipartUpload: { Parts: parts } }),
          );
        } catch (e) {
          // a retry after a lost answer finds the upload already completed
          if (attempt > 1 && s3ErrorCode(e) === 'NoSuchUpload') {
            const h = await this.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })).catch(() => undefined);
            if (h && h.ContentLength === total) return { ETag: h.ETag };
          }
          throw e;
        }
      });
      return { uri, size: total, etag: stripQuotes(done.ETag) };
    } catch (e) {
      await Promise.allSettled(inflight);
      if (uploadId) await this.abortOne(t, uploadId).catch(() => undefined);
      throw e;
    }
  }

  async copy(fromUri: string, toUri: string): Promise<ObjectInfo> {
    const src = this.target(fromUri);
    const dst = this.target(toUri);
    const info = await this.stat(fromUri); // NotFoundError naming the source, and its size
    if (src.bucket === dst.bucket && src.key === dst.key) return { ...info, uri: toUri };
    const copySource = `${src.bucket}/${encodeKey(src.key)}`;
    if (info.size > (this.internals.copyMultipartThreshold ?? MAX_COPY_OBJECT_BYTES)) {
      return this.copyMultipart(copySource, info, dst, toUri);
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

  private async copyMultipart(copySource: string, info: ObjectInfo, dst: Target, toUri: string): Promise<ObjectInfo> {
    const created = await this.call('CreateMultipartUpload', dst, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key })),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`S3 CreateMultipartUpload ${toUri}: no UploadId in the answer`);
    const partBytes = Math.max(this.internals.copyPartBytes ?? COPY_PART_BYTES, Math.ceil(info.size / MAX_PARTS));
    const ranges: Array<[number, number]> = [];
    for (let s = 0; s < info.size; s += partBytes) ranges.push([s, Math.min(info.size, s + partBytes) - 1]);
    try {
      const parts = await mapLimit(ranges, Math.max(1, this.internals.partConcurrency ?? 4), async ([a, b], i) => {
        const r = await this.call('UploadPartCopy', dst, () =>
          this.client.send(
            new UploadPartCopyCommand({
              Bucket: dst.bucket,
              Key: dst.key,
              UploadId: uploadId,
              PartNumber: i + 1,
              CopySource: copySource,
              CopySourceRange: `bytes=${a}-${b}`,
            }),
          ),
        );
        return { PartNumber: i + 1, ETag: r.CopyPartResult?.ETag };
      });
      const done = await this.call('CompleteMultipartUpload', dst, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
      return { uri: toUri, size: info.size, etag: stripQuotes(done.ETag) };
    } catch (e) {
      await this.abortOne(dst, uploadId).catch(() => undefined);
      throw e;
    }
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
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
        ),
      );
      const uploads = (page.Uploads ?? []).filter((u) => u.Key !== undefined && u.UploadId);
      const results = await mapLimit(uploads, 8, async (u): Promise<number> => {
        try {
          await this.abortOne({ bucket, key: u.Key! }, u.UploadId!);
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

  private abortOne(t: Target, uploadId: string): Promise<unknown> {
    return this.call('AbortMultipartUpload', t, () =>
      this.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId })),
    );
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
