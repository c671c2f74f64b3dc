/** Small pure helpers of the S3 backend: client settings, key encoding, message verbs. */
import { createHash } from 'node:crypto';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { RetryInfo } from './retry.js';
import type { S3Options } from './types.js';

export const MIB = 1024 * 1024;
/** S3's smallest part (all but the last). */
export const MIN_PART_BYTES = 5 * MIB;
export const DEFAULT_PART_BYTES = 8 * MIB;
export const MAX_PARTS = 10_000;
/** CopyObject copies at most 5 GiB; larger objects are copied part by part (UploadPartCopy). */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 * MIB;
export const COPY_PART_BYTES = 512 * MIB;
/** DeleteObjects takes at most 1,000 keys. */
export const DELETE_BATCH = 1000;

/** Knobs for tests and tuning that are not part of the user-facing S3Options. */
export interface S3StorageInternals {
  /** Use this client instead of building one (its own retry settings are then the caller's business). */
  client?: S3Client;
  /** Abandon a connection attempt after this long (ms). Default 10 s. */
  connectionTimeoutMs?: number;
  /** Abandon a request whose socket is idle this long (ms). Default 60 s. */
  socketTimeoutMs?: number;
  /** Parts of one upload in flight at once. Default 4. */
  partConcurrency?: number;
  /** Objects above this size are copied with UploadPartCopy, in parts of copyPartBytes (at least 5 MiB). */
  copyMultipartThreshold?: number;
  copyPartBytes?: number;
  /** Ask for pages of at most this many keys or uploads (ListObjectsV2 MaxKeys, ListMultipartUploads
   * MaxUploads), so that tests can page with few. Default: the server's (1,000 on S3). */
  listPageSize?: number;
  /** Told about every retry (to log it). */
  onRetry?(info: RetryInfo): void;
  random?(): number;
}

export function clientConfig(options: S3Options, internals: S3StorageInternals): S3ClientConfig {
  const endpoint = options.endpoint || undefined;
  return {
    endpoint,
    region: options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: options.forcePathStyle ?? false,
    // a bucket in another region than spec.storage.s3.region (default us-east-1) still works
    followRegionRedirects: true,
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: internals.connectionTimeoutMs ?? 10_000,
      socketTimeout: internals.socketTimeoutMs ?? 60_000,
    },
    // S3-compatible stores (MinIO, Ceph, older gateways) often reject or mis-store the CRC
    // checksums the SDK sends by default since 2025: with a custom endpoint, send them only when required.
    ...(endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  };
}

export interface S3Target {
  bucket: string;
  key: string;
}

/** `"abc"` and `W/"abc"` (a weak ETag, as some S3-compatible stores send) -> `abc`. */
export const stripQuotes = (etag: string | undefined): string | undefined => etag?.replace(/^W\//, '').replace(/^"+|"+$/g, '');

/** Keys in x-amz-copy-source are URL-encoded, slashes kept. */
export const encodeKey = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

export const md5Hex = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

export async function bodyBytes(body: unknown): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> };
  if (typeof b.transformToByteArray === 'function') return b.transformToByteArray();
  throw new Error('S3 GetObject: unexpected body type');
}

export const opVerb = (op: string): string =>
  ({
    ListObjectsV2: 'list',
    HeadObject: 'stat',
    GetObject: 'read',
    PutObject: 'write',
    CreateMultipartUpload: 'upload',
    UploadPart: 'upload',
    UploadPartCopy: 'copy',
    CompleteMultipartUpload: 'upload',
    CopyObject: 'copy',
    DeleteObject: 'delete',
    DeleteObjects: 'delete',
    ListMultipartUploads: 'list uploads under',
    AbortMultipartUpload: 'abort the upload of',
  })[op] ?? op;

