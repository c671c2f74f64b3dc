/**
 * `npm run s3-server -- --dir DIR --port PORT [--bucket NAME]...`: the tests' S3 server (SeaweedFS,
 * see s3-server.ts) for use by hand, e.g. to run `bij run` against S3. Builds the binary first if the
 * cache lacks it. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default
 * bij-test / bij-test-secret). Prints `ready` on stdout once the server takes writes; stops on
 * SIGTERM or SIGINT. `--build-only` builds (or finds) the binary, prints its path and exits.
 */
import { Command } from 'commander';
import { ensureGoBinary, goBinaryPath } from '../../cluster/src/go-binary.js';
import { DEFAULT_S3_CREDENTIALS, SEAWEEDFS, startS3Server } from './s3-server.js';

const program = new Command('s3-server')
  .description('a local S3 server (SeaweedFS) on 127.0.0.1')
  .option('--dir <dir>', 'data directory (kept)', '.bij/s3')
  .option('--port <port>', 'S3 port on 127.0.0.1', '8333')
  .option('--bucket <name...>', 'buckets to create')
  .option('--build-only', 'only build the server binary (if missing) and print its path')
  .parse();
const opts = program.opts<{ dir: string; port: string; bucket?: string[]; buildOnly?: boolean }>();

const onBuild = (i: { bin: string; module: string; version: string }): void => {
  process.stderr.write(`s3-server: building ${i.module}@${i.version} into ${i.bin} (the first build takes minutes)\n`);
};

async function main(): Promise<void> {
  if (opts.buildOnly) {
    const started = Date.now();
    const bin = process.env.BIJ_S3_SERVER_BIN || await ensureGoBinary(SEAWEEDFS, { onBuild, log: (s) => process.stderr.write(s) });
    process.stderr.write(`s3-server: ${bin} (${goBinaryPath(SEAWEEDFS).version}), ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    process.stdout.write(`${bin}\n`);
    return;
  }
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--port: not a port: ${opts.port}`);
  const credentials = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || DEFAULT_S3_CREDENTIALS.accessKeyId,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || DEFAULT_S3_CREDENTIALS.secretAccessKey,
  };
  const server = await startS3Server({ dir: opts.dir, port, credentials, buckets: opts.bucket, onBuild });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`s3-server: ${signal}, stopping\n`);
    // SeaweedFS takes 15 s or more to stop on its own (its filer waits on a volume server already
    // gone); give it 10 s, then kill it (its stores survive that).
    server.stop(10_000).then(() => process.exit(0), (e: unknown) => {
      console.error(e);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stderr.write(`s3-server: ${server.endpoint} (path-style), access key ${credentials.accessKeyId}, data in ${server.dir}\n`);
  process.stdout.write('ready\n');
  // keep running until a signal: the server's process is unref'd
  setInterval(() => undefined, 1 << 30);
}

main().catch((e: unknown) => {
  console.error(`s3-server: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof Error && e.cause) console.error('cause:', e.cause);
  process.exit(1);
});
