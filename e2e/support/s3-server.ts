/**
 * A fake S3 for tests: s3rver in its own child process (started with --openssl-legacy-provider, which
 * s3rver's DES continuation tokens need on OpenSSL 3), bound to 127.0.0.1 on a free port, storing in a
 * temp dir. See s3rver-child.cjs for the s3rver gaps the harness papers over (sorted listings,
 * ListMultipartUploads, AbortMultipartUpload, UploadPartCopy, If-None-Match on PUT, CopyObject key
 * decoding, DeleteObjects key parsing).
 *
 * Credentials: s3rver knows one key pair, S3RVER / S3RVER, and checks only the access key id (not the
 * signature). The storage layer takes credentials from the SDK's default chain, so tests put them in
 * process.env (useS3rverCredentials()), and worker child processes need S3RVER_ENV in their env.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Options } from '../../worker/src/storage/types.js';

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** s3rver's data directory (removed by stop()). */
  dir: string;
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  buckets?: string[];
  /** Caps ListMultipartUploads pages (default 1000) so tests can exercise its pagination. */
  uploadsPageSize?: number;
  /** How long to wait for the child to listen. Default 20 s. */
  startTimeoutMs?: number;
  /** Let s3rver log every request and error to this process's stderr (or set BIJ_S3RVER_DEBUG=1). */
  debug?: boolean;
}

/** The key pair s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Environment for processes that talk to the harness through the SDK's default credential chain. */
export const S3RVER_ENV: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_REGION: 'us-east-1',
};

/** Puts S3RVER_ENV into process.env (replacing any session token, which s3rver would not know);
 * returns a function that restores the previous values. */
export function useS3rverCredentials(): () => void {
  const keys = [...Object.keys(S3RVER_ENV), 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  Object.assign(process.env, S3RVER_ENV);
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return () => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}

/** S3Options for a harness server (or anything else at `endpoint`, e.g. a fault proxy in front). */
export function s3OptionsFor(server: { endpoint: string } | string, extra: Partial<S3Options> = {}): S3Options {
  const endpoint = typeof server === 'string' ? server : server.endpoint;
  return { endpoint, region: 'us-east-1', forcePathStyle: true, ...extra };
}

/** Finds s3rver-child.cjs beside this file, or (when running from dist/) in the source tree. */
function childScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 's3rver-child.cjs')];
  for (let dir = here; ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, 'e2e', 'support', 's3rver-child.cjs'));
    if (path.dirname(dir) === dir) break;
  }
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`s3rver-child.cjs not found (looked in ${candidates.slice(0, 3).join(', ')}, …)`);
  return found;
}

export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3Server> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bij-s3rver-'));
  const debug = opts.debug ?? process.env.BIJ_S3RVER_DEBUG === '1';
  const args = JSON.stringify({ dir, buckets: opts.buckets ?? [], uploadsPageSize: opts.uploadsPageSize, debug });
  const child: ChildProcess = fork(childScript(), [args], {
    execArgv: ['--openssl-legacy-provider'],
    stdio: ['ignore', debug ? 'inherit' : 'ignore', debug ? 'inherit' : 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${opts.startTimeoutMs ?? 20_000} ms`)), opts.startTimeoutMs ?? 20_000);
      child.once('message', (m: { port?: number }) => {
        clearTimeout(timer);
        if (typeof m?.port === 'number') resolve(m.port);
        else reject(new Error(`s3rver sent ${JSON.stringify(m)}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal}): ${stderr.trim()}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  // the parent must not wait on the child's pipes to exit
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  (child.channel as unknown as { unref?: () => void } | undefined)?.unref?.();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dir, { recursive: true, force: true });
    })());

  return { endpoint: `http://127.0.0.1:${port}`, port, dir, stop };
}
