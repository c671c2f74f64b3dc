/**
 * `npm run s3-server -- --dir DIR --port PORT` (e2e/support/s3-server-cli.ts, run from dist/ as the
 * npm script runs it): serves S3 on the port with the credentials from the environment, says `ready`,
 * and on SIGTERM stops with every process it started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Storage } from '../core/src/storage/s3.js';
import { BadInputError } from '../core/src/contract/error-kinds.js';
import { repoRoot } from '../cluster/src/go-binary.js';
import { s3OptionsFor } from './support/s3-server.js';
import { useS3Credentials } from './support/s3-target.js';

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'cli-test-key', AWS_SECRET_ACCESS_KEY: 'cli-test-secret', AWS_REGION: 'us-east-1' };

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
    const { port } = s.address() as net.AddressInfo;
    s.close(() => resolve(port));
  });
});

/** Processes whose command line mentions `text` (Linux: pgrep). */
function processesWith(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', text], { encoding: 'utf8' }).trim().split('\n').filter((l) => !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

test('serves S3 with the credentials from the environment, prints ready, stops on SIGTERM leaving no process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bij-s3-cli-'));
  const port = await freePort();
  const child = spawn(process.execPath, [join(repoRoot(), 'dist/e2e/support/s3-server-cli.js'), '--dir', dir, '--port', String(port), '--bucket', 'cli'], {
    env: { ...process.env, ...CREDENTIALS }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const restore = useS3Credentials(CREDENTIALS);
  const s3 = new S3Storage(s3OptionsFor(`http://127.0.0.1:${port}`, { retryBaseMs: 1 }));
  try {
    const deadline = Date.now() + 60_000;
    while (!out.includes('ready\n')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "ready" from s3-server: ${out}${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toBe('ready\n');
    expect(err).toContain(`http://127.0.0.1:${port}`);

    await s3.write('s3://cli/a.txt', 'hello', { ifNoneMatch: true });
    expect(await s3.readText('s3://cli/a.txt')).toBe('hello');
    process.env.AWS_SECRET_ACCESS_KEY = 'bij-test-secret'; // the default, not what the server was given
    const wrong = new S3Storage(s3OptionsFor(`http://127.0.0.1:${port}`));
    await expect(wrong.read('s3://cli/a.txt')).rejects.toThrow(BadInputError);
    wrong.destroy();

    expect(processesWith(dir).length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(processesWith(dir)).toEqual([]);
  } finally {
    s3.destroy();
    restore();
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
