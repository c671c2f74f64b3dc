/**
 * The S3 backend's multipart work: streaming an upload in growing parts, copying an object too big
 * for CopyObject part by part, and aborting an upload. Each request goes through the backend's
 * `call` (retries, error mapping), so the behaviour is the same as for single requests.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BadInputError } from '../contract/error-kinds.js';
import { s3ErrorCode } from './backend-errors.js';
import { mapLimit } from './retry.js';
import type { ObjectInfo } from './types.js';
import { MAX_PARTS, MIN_PART_BYTES, stripQuotes, type S3Target } from './s3-helpers.js';

/** What the multipart functions need of the backend. */
export interface S3Calls {
  readonly client: S3Client;
  /** One request, retried on transient errors; failures come back mapped (S3Storage.call). */
  call<T>(op: string, t: { bucket: string; key?: string }, fn: (attempt: number) => Promise<T>): Promise<T>;
}

export function abortUpload(s3: S3Calls, t: S3Target, uploadId: string): Promise<unknown> {
  return s3.call('AbortMultipartUpload', t, () =>
    s3.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId })),
  );
}

async function createUpload(s3: S3Calls, t: S3Target, uri: string): Promise<string> {
  const created = await s3.call('CreateMultipartUpload', t, () =>
    s3.client.send(new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: t.key })),
  );
  if (!created.UploadId) throw new Error(`S3 CreateMultipartUpload ${uri}: no UploadId in the answer`);
  return created.UploadId;
}

/** Completes an upload of `size` bytes. A retry whose first try was done but its answer lost gets
 * NoSuchUpload: then the object itself (its size) tells whether the upload completed. */
async function completeUpload(s3: S3Calls, uri: string, t: S3Target, uploadId: string, parts: CompletedPart[], size: number): Promise<ObjectInfo> {
  const done = await s3.call('CompleteMultipartUpload', t, async (attempt) => {
    try {
      return await s3.client.send(
        new CompleteMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (e) {
      if (attempt > 1 && s3ErrorCode(e) === 'NoSuchUpload') {
        const h = await s3.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })).catch(() => undefined);
        if (h && h.ContentLength === size) return { ETag: h.ETag };
      }
      throw e;
    }
  });
  return { uri, size, etag: stripQuotes(done.ETag) };
}

export interface UploadOptions {
  /** Size of the first parts; parts grow every 1,000 parts so that 10,000 parts reach 55x it. */
  partBytes: number;
  /** Parts in flight at once. */
  concurrency: number;
  /** Writes an object smaller than one part with a single PutObject. */
  putSmall(bytes: Uint8Array): Promise<ObjectInfo>;
}

/** Streams `chunks` to `uri`: a multipart upload, or one PutObject when it all fits in one part. A
 * failure aborts the upload, leaving nothing behind. */
export async function streamUpload(s3: S3Calls, uri: string, t: S3Target, chunks: AsyncIterable<Uint8Array>, o: UploadOptions): Promise<ObjectInfo> {
  const partSize = (n: number): number => o.partBytes * (1 + Math.floor((n - 1) / 1000));
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let partNumber = 0;
  let total = 0;
  let cur = Buffer.allocUnsafe(partSize(1));
  let curLen = 0;

  const launch = async (body: Uint8Array): Promise<void> => {
    uploadId ??= await createUpload(s3, t, uri);
    while (inflight.size >= o.concurrency) await Promise.race(inflight);
    if (failure) throw failure.error;
    const n = ++partNumber;
    if (n > MAX_PARTS) throw new BadInputError(`cannot upload ${uri}: more than ${MAX_PARTS} parts (object too large)`);
    const id = uploadId;
    const p: Promise<void> = s3.call('UploadPart', t, () =>
      s3.client.send(new UploadPartCommand({ Bucket: t.bucket, Key: t.key, UploadId: id, PartNumber: n, Body: body })),
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
    if (!uploadId) return await o.putSmall(cur.subarray(0, curLen));
    if (curLen > 0) await launch(cur.subarray(0, curLen));
    await Promise.all(inflight);
    if (failure) throw failure.error;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    return await completeUpload(s3, uri, t, uploadId, parts, total);
  } catch (e) {
    await Promise.allSettled(inflight);
    if (uploadId) await abortUpload(s3, t, uploadId).catch(() => undefined);
    throw e;
  }
}

/** Copies an object too big for CopyObject with UploadPartCopy, `partBytes` at a time. */
export async function copyInParts(
  s3: S3Calls, copySource: string, info: ObjectInfo, dst: S3Target, toUri: string, o: { partBytes: number; concurrency: number },
): Promise<ObjectInfo> {
  const uploadId = await createUpload(s3, dst, toUri);
  // S3 refuses to complete an upload whose parts (all but the last) are under 5 MiB
  const partBytes = Math.max(MIN_PART_BYTES, o.partBytes, Math.ceil(info.size / MAX_PARTS));
  const ranges: Array<[number, number]> = [];
  for (let s = 0; s < info.size; s += partBytes) ranges.push([s, Math.min(info.size, s + partBytes) - 1]);
  try {
    const parts = await mapLimit(ranges, o.concurrency, async ([a, b], i) => {
      const r = await s3.call('UploadPartCopy', dst, () =>
        s3.client.send(
          new UploadPartCopyCommand({
            Bucket: dst.bucket, Key: dst.key, UploadId: uploadId, PartNumber: i + 1, CopySource: copySource, CopySourceRange: `bytes=${a}-${b}`,
          }),
        ),
      );
      return { PartNumber: i + 1, ETag: r.CopyPartResult?.ETag };
    });
    return await completeUpload(s3, toUri, dst, uploadId, parts, info.size);
  } catch (e) {
    await abortUpload(s3, dst, uploadId).catch(() => undefined);
    throw e;
  }
}
