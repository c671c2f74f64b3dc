/**
 * What the images ship: each Dockerfile compiles its plane from tsconfig.<plane>.json, which lists only
 * the entry point, so tsc emits exactly what that entry reaches. Built here into temporary folders:
 * no test file, no test support and no local-cluster code may be in either, and no emitted code may
 * read a test-only setting (the fault hooks are preloaded by tests instead: e2e/support/fault-hooks.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p, base) : [path.relative(base, p)];
  });
}

const TEST_FILE = /(\.test\.js$|(^|\/)testing\/|testkit|fixture|testdata-gen|test-storage|jest)/;
// Read directly (env.BIJ_FAULT, env['BIJ_TEST_…']) or through a name in a string ('BIJ_FAULT').
const TEST_SETTING = /(process\.env|env)(\.|\[['"`])(BIJ_TEST_\w*|BIJ_FAULT\b|JEST_WORKER_ID)|['"`](BIJ_TEST_\w*|BIJ_FAULT|JEST_WORKER_ID)['"`]/;

describe.each([
  ['operator', 'tsconfig.operator.json', 'operator/src/cli/main.js', 'worker/'],
  ['worker', 'tsconfig.worker.json', 'worker/src/main.js', 'operator/'],
])('the %s image build', (plane, config, entry, otherPlane) => {
  let out: string;
  let emitted: string[];
  beforeAll(() => {
    out = mkdtempSync(path.join(tmpdir(), 'bij-image-build-'));
    execFileSync(process.execPath, [tsc, '-p', path.join(root, config), '--outDir', out], { cwd: root, stdio: 'pipe' });
    emitted = files(out).filter((f) => f.endsWith('.js'));
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('holds its entry point', () => {
    expect(emitted).toContain(entry);
  });

  test('holds its own plane and core/ only: nothing of the other plane', () => {
    expect(emitted.filter((f) => f.startsWith(otherPlane))).toEqual([]);
    expect(emitted.filter((f) => !f.startsWith(`${plane}/`) && !f.startsWith('core/'))).toEqual([]);
  });

  // Each image installs only its workspace's and core's production dependencies (npm ci -w): every
  // package the image's code imports must be declared there, or the image fails at start.
  test('imports only packages its workspace or core declares', () => {
    const declared = new Set([plane, 'core'].flatMap((w) => Object.keys(
      (JSON.parse(readFileSync(path.join(root, w, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {})));
    const undeclared = new Set<string>();
    for (const f of emitted) {
      for (const m of readFileSync(path.join(out, f), 'utf8').matchAll(/(?:from|import\()\s*['"]([^'".][^'"]*)['"]/g)) {
        const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
        if (!name.startsWith('node:') && !declared.has(name)) undeclared.add(`${name} (${f})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  test('holds no test file, no test support, nothing of e2e/ or of the local cluster', () => {
    expect(emitted.filter((f) => TEST_FILE.test(f) || f.startsWith('e2e/') || f.startsWith('cluster/'))).toEqual([]);
  });

  // tsc follows imports, not `new Worker(threadModuleUrl('x.js', import.meta.url))`: a thread module the
  // image starts must be listed in the config's "files" or the image fails at the first shard.
  test('holds every thread module its code starts', () => {
    const missing: string[] = [];
    for (const f of emitted) {
      for (const m of readFileSync(path.join(out, f), 'utf8').matchAll(/threadModuleUrl\(['"`]([^'"`]+)['"`],\s*import\.meta\.url\)/g)) {
        const thread = path.join(path.dirname(f), m[1]);
        if (!emitted.includes(thread)) missing.push(`${thread} (started by ${f})`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('reads no test-only setting', () => {
    const readers = emitted.filter((f) => TEST_SETTING.test(readFileSync(path.join(out, f), 'utf8')));
    expect(readers).toEqual([]);
  });
});
