/**
 * Where a test file's S3 tests run: by default a SeaweedFS server started for the file
 * (s3-server.ts); with BIJ_TEST_S3_ENDPOINT set, any S3-compatible endpoint (AWS S3, MinIO, Ceph,
 * R2, ...), so that users can run the storage suite against their own store:
 *
 *   BIJ_TEST_S3_ENDPOINT    e.g. https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000
 *   BIJ_TEST_S3_REGION      default us-east-1
 *   BIJ_TEST_S3_FORCE_PATH_STYLE  true (default) or false (virtual-hosted-style, as AWS prefers)
 *   BIJ_TEST_S3_BUCKET_PREFIX     default bij-test-: every test creates its own bucket, named
 *                                 <prefix><label>-<random>, and deletes it (with its contents) after
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (, AWS_SESSION_TOKEN): the SDK's default chain
 *
 *   const target = await openS3TestTarget();
 *   const bucket = await target.bucket('basic');
 *   const s3 = new S3Storage(target.options());
 *   await target.close();
 */
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, S3Client, type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { S3Options } from '../../core/src/storage/types.js';
import { startS3FaultProxy, type S3FaultProxy } from './s3-fault-proxy.js';
import { s3OptionsFor, startS3Server, type S3Server } from './s3-server.js';
import { S3Storage } from '../../core/src/storage/s3.js';

export interface S3TestTarget {
  /** The server started for these tests; undefined against BIJ_TEST_S3_ENDPOINT. */
  server?: S3Server;
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  /** AWS_* variables for worker processes. */
  env: Readonly<Record<string, string>>;
  /** S3Options for the target, or for `via` (a fault proxy in front of it). Tests retry after 1 ms. */
  options(extra?: Partial<S3Options>, via?: string): S3Options;
  /** A new, empty bucket; close() deletes it. */
  bucket(label?: string): Promise<string>;
  /** A bucket name nobody has created. */
  missingBucket(): string;
  close(): Promise<void>;
}

/** Puts `env` into process.env (dropping any session token and profile, which would not fit);
 * returns a function that restores the previous values. */
export function useS3Credentials(env: Readonly<Record<string, string>>): () => void {
  const keys = [...Object.keys(env), 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return () => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}

const suffix = (): string => randomBytes(4).toString('hex');

export async function openS3TestTarget(): Promise<S3TestTarget> {
  const external = process.env.BIJ_TEST_S3_ENDPOINT;
  const server = external ? undefined : await startS3Server();
  const restore = server ? useS3Credentials(server.env) : () => undefined;
  const endpoint = external ?? server!.endpoint;
  const region = (external && process.env.BIJ_TEST_S3_REGION) || 'us-east-1';
  const forcePathStyle = external ? process.env.BIJ_TEST_S3_FORCE_PATH_STYLE !== 'false' : true;
  const prefix = (external && process.env.BIJ_TEST_S3_BUCKET_PREFIX) || 'bij-test-';
  const env: Record<string, string> = server
    ? { ...server.env }
    : Object.fromEntries(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_PROFILE']
      .flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  // The admin client for creating and emptying buckets; the tests' own clients come from options().
  const admin = new S3Client({ endpoint, region, forcePathStyle, requestChecksumCalculation: 'WHEN_REQUIRED' });
  const created: string[] = [];
  let n = 0;
  const name = (label: string): string => `${prefix}${label}-${++n}-${suffix()}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63);

  return {
    server, endpoint, region, forcePathStyle, env,
    options: (extra = {}, via) => ({ endpoint: via ?? endpoint, region, forcePathStyle, retryBaseMs: 1, ...extra }),
    async bucket(label = 'b') {
      const bucket = name(label);
      const location = region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint };
      await admin.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: location }));
      created.push(bucket);
      return bucket;
    },
    missingBucket: () => name('missing'),
    async close() {
      try {
        // a local server takes its buckets with it
        if (!server) for (const b of created) await emptyAndDelete(admin, b);
      } finally {
        admin.destroy();
        restore();
        await server?.stop();
      }
    },
  };
}

async function emptyAndDelete(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    if (!page.IsTruncated) break;
  }
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of page.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
    if (!page.IsTruncated) break;
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export interface ProxiedS3 {
  server: S3Server;
  /** In front of the server: point clients at proxy.endpoint to have their requests faulted. */
  proxy: S3FaultProxy;
  /** Stops both and restores the environment. */
  close(): Promise<void>;
}

/** A local S3 server (whatever BIJ_TEST_S3_ENDPOINT says: faults need the proxy in front of a server
 * of our own) with `buckets`, its credentials in process.env, and a fault proxy in front of it. */
export async function startProxiedS3(buckets: string[]): Promise<ProxiedS3> {
  const server = await startS3Server({ buckets });
  const restore = useS3Credentials(server.env);
  const proxy = await startS3FaultProxy(server.endpoint);
  return {
    server, proxy,
    async close() {
      await proxy.stop();
      await server.stop();
      restore();
    },
  };
}

/** For a test file: a proxied local S3 with `buckets`, and `n` storage clients going through the
 * proxy (one each, so their requests travel on separate connections and can be truly concurrent).
 * Registers its own beforeAll/afterAll; the proxy's rules and log are cleared before each test. */
export function useProxiedS3Clients(buckets: string[], n: number): { readonly proxy: S3FaultProxy; readonly clients: S3Storage[] } {
  let local: ProxiedS3 | undefined;
  const clients: S3Storage[] = [];
  const handle = {
    get proxy(): S3FaultProxy {
      if (!local) throw new Error('useProxiedS3Clients: the server is not started yet (use it inside a test)');
      return local.proxy;
    },
    clients,
  };
  beforeAll(async () => {
    local = await startProxiedS3(buckets);
    for (let i = 0; i < n; i++) clients.push(new S3Storage(s3OptionsFor(local.proxy, { retryBaseMs: 1 })));
  }, 120_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await local?.close();
  });
  beforeEach(() => {
    local?.proxy.setRules([]);
    if (local) local.proxy.log.length = 0;
  });
  return handle;
}
