/**
 * The S3 backend, and with it the AWS SDK (about 100 ms of a process's start on 2 cores), is loaded
 * only when an s3:// URI is first used: a worker process, bij command or operator that only touches
 * files never pays for it. Checked in a fresh process with a resolve hook that records every module
 * resolved, and the worker's whole module graph imported.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist');
const storageModule = join(dist, 'core', 'src', 'storage', 'index.js');
const workerPipeline = join(dist, 'worker', 'src', 'pipeline', 'run-shard.js');

test('files only: the AWS SDK is never loaded; the first s3:// call loads it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bij-lazy-s3-'));
  const script = `import { registerHooks } from 'node:module';
let sdk = 0;
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); if (r.url.includes('@aws-sdk/')) sdk++; return r; } });
await import(${JSON.stringify(workerPipeline)});
const { openStorage } = await import(${JSON.stringify(storageModule)});
const s = openStorage({ s3: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, maxAttempts: 1 } });
await s.write(${JSON.stringify(join(dir, 'a.txt'))}, 'x');
console.log('after files', sdk, await s.readText(${JSON.stringify(join(dir, 'a.txt'))}));
try { await s.stat('s3://bucket/key'); } catch (e) { /* nothing listens on port 9 */ }
console.log('after s3', sdk > 0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' },
  });
  rmSync(dir, { recursive: true, force: true });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim().split('\n')).toEqual(['after files 0 x', 'after s3 true']);
});
