/**
 * A real S3 server on 127.0.0.1: SeaweedFS (`weed server -s3`: master, volume server, filer and S3
 * gateway in one process), built from the module pinned in tools/s3 (see go-binary.ts). It checks
 * request signatures, does conditional writes, multipart uploads (with UploadPartCopy, listing and
 * abort), ranged GETs and ListObjectsV2 pagination itself: the tests patch nothing.
 *
 *   const server = await startS3Server({ buckets: ['models'] });
 *   // server.endpoint (http://127.0.0.1:<port>, path-style), server.credentials, server.env
 *   await server.stop();
 *
 * Settings that differ from SeaweedFS's defaults, so that it behaves like AWS S3 and stays small:
 *  - `-s3.autoCreateBucket=false`: SeaweedFS creates a missing bucket on the first PUT by default; S3
 *    answers NoSuchBucket.
 *  - one volume per bucket (master.toml in the working directory; SeaweedFS grows 7), and volumes of
 *    64 MB: each bucket is a SeaweedFS collection with volumes of its own.
 *  - every port chosen here (free ones unless `port` is given), the Iceberg and Lance catalogs and
 *    the IAM API off, telemetry off, no wait before the volume server stops.
 * SeaweedFS is only ready to write some seconds after it answers (its filer joins the lock ring that
 * conditional writes use): startS3Server resolves once a write has gone through.
 *
 * The server runs under a small sh watchdog that holds a pipe from this process: when this process
 * dies, however it dies, the pipe closes and the watchdog stops the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import type { S3Options } from '../../core/src/storage/types.js';
import { ensureGoBinary, type EnsureOptions, type GoToolPin } from '../../cluster/src/go-binary.js';

export const SEAWEEDFS: GoToolPin = { name: 'weed', pinDir: 'tools/s3', pkg: 'github.com/seaweedfs/seaweedfs/weed' };

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The key pair of test servers, and of `npm run s3-server` when AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are unset. */
export const DEFAULT_S3_CREDENTIALS: Readonly<S3Credentials> = { accessKeyId: 'bij-test', secretAccessKey: 'bij-test-secret' };

export interface S3ServerOptions {
  /** Data directory; default a temp directory that stop() removes (a given one is kept). */
  dir?: string;
  /** S3 port; default a free one. */
  port?: number;
  credentials?: S3Credentials;
  /** Buckets to create before resolving. */
  buckets?: string[];
  /** How long to wait for the server to take writes. Default 90 s (a loaded 2-core machine is slow). */
  startTimeoutMs?: number;
  /** The server's own log lines; default: kept (the last few KiB) for error messages only. BIJ_S3_SERVER_DEBUG=1 sends them to stderr. */
  log?(chunk: string): void;
  /** Told when the binary has to be built first (minutes). */
  onBuild?: EnsureOptions['onBuild'];
}

export interface S3Server {
  /** http://127.0.0.1:<port> (path-style addressing). */
  endpoint: string;
  port: number;
  dir: string;
  credentials: S3Credentials;
  /** AWS_* variables for processes that reach the server through the SDK's default credential chain. */
  env: Readonly<Record<string, string>>;
  createBucket(name: string): Promise<void>;
  /** Stops the server: SIGTERM, then SIGKILL after graceMs (default 2 s; SeaweedFS takes 15 s or more
   * to stop on its own, its filer waiting on a volume server already gone). Removes a temp data
   * directory. */
  stop(graceMs?: number): Promise<void>;
}

/** AWS_* environment for a client of `server` (no session token or profile, which it would not know). */
export function awsEnv(credentials: S3Credentials, region = 'us-east-1'): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_REGION: region };
}

/** S3Options for a local server, or for a fault proxy in front of one: path-style, us-east-1. */
export function s3OptionsFor(server: { endpoint: string } | string, extra: Partial<S3Options> = {}): S3Options {
  return { endpoint: typeof server === 'string' ? server : server.endpoint, region: 'us-east-1', forcePathStyle: true, ...extra };
}

/** `n` distinct free ports on 127.0.0.1 (held together while picked, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const MASTER_TOML = `# written by e2e/support/s3-server.ts: one volume per collection (bucket), not 7
[master.volume_growth]
copy_1 = 1
copy_2 = 2
copy_3 = 3
copy_other = 1
`;

/** Stops "$@" when stdin closes (this process is gone, or stop() closed it) or on SIGTERM. */
const WATCHDOG = `
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
{ cat >/dev/null; kill -TERM "$pid" 2>/dev/null; } <&3 &
exec 3<&-
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
status=0
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
exit "$status"
`;

function weedArgs(o: { dir: string; config: string; ports: number[] }): string[] {
  const [s3, s3Grpc, master, masterGrpc, volume, volumeGrpc, filer, filerGrpc] = o.ports;
  return [
    'server', `-dir=${path.join(o.dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, '-master.telemetry=false', '-master.volumeSizeLimitMB=64',
    `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`, '-volume.max=0', '-volume.preStopSeconds=0',
    `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`,
    '-s3', `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, '-s3.port.iceberg=0', '-s3.port.lance=0', '-s3.iam=false',
    `-s3.config=${o.config}`, '-s3.autoCreateBucket=false',
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `client` can write (then removes what it wrote, bucket and all); rejects if `failed()`
 * says the server is gone. */
async function waitUntilWritable(client: S3Client, deadline: number, failed: () => Error | undefined): Promise<void> {
  const probe = `bij-ready-probe-${process.pid}-${Date.now().toString(36)}`;
  let last: unknown;
  let created = false;
  while (Date.now() < deadline) {
    const gone = failed();
    if (gone) throw gone;
    try {
      await client.send(new ListBucketsCommand({}));
      if (!created) {
        await client.send(new CreateBucketCommand({ Bucket: probe })).catch((e: unknown) => {
          if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw e;
        });
        created = true;
      }
      // (every PUT takes the filer's per-key lock, so this waits for the lock ring as conditional ones do)
      await client.send(new PutObjectCommand({ Bucket: probe, Key: 'probe', Body: 'ok' }));
      await client.send(new DeleteObjectCommand({ Bucket: probe, Key: 'probe' }));
      await client.send(new DeleteBucketCommand({ Bucket: probe }));
      return;
    } catch (e) {
      last = e;
      await sleep(200);
    }
  }
  throw new Error('the S3 server did not take a write in time', { cause: last });
}

/** The server binary: BIJ_S3_SERVER_BIN if set (a `weed` built elsewhere), else the pinned build. */
export const s3ServerBinary = (onBuild?: EnsureOptions['onBuild']): Promise<string> =>
  process.env.BIJ_S3_SERVER_BIN ? Promise.resolve(process.env.BIJ_S3_SERVER_BIN) : ensureGoBinary(SEAWEEDFS, { onBuild });

export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3Server> {
  const bin = await s3ServerBinary(opts.onBuild);
  const credentials = opts.credentials ?? DEFAULT_S3_CREDENTIALS;
  const tempDir = opts.dir === undefined;
  const dir = opts.dir === undefined ? await fs.mkdtemp(path.join(os.tmpdir(), 'bij-s3-')) : path.resolve(opts.dir);
  await fs.mkdir(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 's3-identities.json');
  await fs.writeFile(config, JSON.stringify({
    identities: [{ name: 'bij', credentials: [{ accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey }], actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'] }],
  }), { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'master.toml'), MASTER_TOML);
  const debug = process.env.BIJ_S3_SERVER_DEBUG === '1';

  // A free port may be taken by someone else before the server binds it: then start again, on others.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(8);
    if (opts.port !== undefined) ports[0] = opts.port;
    try {
      return await launch({ bin, dir, config, ports, credentials, debug, opts, tempDir });
    } catch (e) {
      const portTaken = /address already in use|bind: /i.test(String((e as Error).message));
      if (!portTaken || attempt >= 3) {
        if (tempDir) await fs.rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

interface LaunchArgs {
  bin: string;
  dir: string;
  config: string;
  ports: number[];
  credentials: S3Credentials;
  debug: boolean;
  opts: S3ServerOptions;
  tempDir: boolean;
}

async function launch(a: LaunchArgs): Promise<S3Server> {
  const port = a.ports[0];
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'bij-s3-server', a.bin, ...weedArgs(a)], {
    cwd: a.dir, // master.toml
    detached: true, // its own process group, so that stop() can kill it whole
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tail = '';
  const onOutput = (d: Buffer): void => {
    const s = d.toString();
    tail = (tail + s).slice(-6000);
    if (a.opts.log) a.opts.log(s);
    else if (a.debug) process.stderr.write(s);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  let exited: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = new Error(`the S3 server (${a.bin}) exited with ${signal ?? `code ${code}`}: ${tail.trim().split('\n').slice(-8).join('\n')}`);
      resolve();
    });
  });
  child.once('error', (e) => {
    exited ??= new Error(`cannot start the S3 server: sh ${a.bin}`, { cause: e });
  });

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 2_000): Promise<void> =>
    (stopped ??= (async () => {
      child.stdin?.end(); // the watchdog sends SIGTERM
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // the watchdog's pipe reader, if still there
      client.destroy();
      await removeSockets(a.ports);
      if (a.tempDir) await fs.rm(a.dir, { recursive: true, force: true });
    })());

  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: a.credentials, maxAttempts: 1,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 30_000 },
  });
  try {
    await waitUntilWritable(client, Date.now() + (a.opts.startTimeoutMs ?? 90_000), () => exited);
    for (const b of a.opts.buckets ?? []) await client.send(new CreateBucketCommand({ Bucket: b }));
  } catch (e) {
    await stop(0);
    throw exited ?? new Error(`the S3 server at ${endpoint} (data in ${a.dir}) did not become ready: ${tail.trim().split('\n').slice(-5).join('\n')}`, { cause: e });
  }
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  return {
    endpoint, port, dir: a.dir, credentials: a.credentials, env: awsEnv(a.credentials),
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}

/** SeaweedFS's services also talk over Unix sockets named by port in /tmp, left behind by a SIGKILL. */
async function removeSockets(ports: number[]): Promise<void> {
  const ours = new Set(ports.map(String));
  const names = await fs.readdir('/tmp').catch(() => [] as string[]);
  await Promise.all(names
    .filter((n) => ours.has(/^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(n)?.[1] ?? ''))
    .map((n) => fs.rm(path.join('/tmp', n), { force: true })));
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
