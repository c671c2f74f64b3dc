/**
 * `npm start` on a fresh clone: the real `bij` CLI creates the quickstart's model and data, then runs
 * examples/quickstart.yaml to Succeeded. Run here on a copy of the example in a temp folder, with the
 * same commands package.json's start script uses.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bij = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'bij.js'), ...args], { encoding: 'utf8', timeout: 150_000 });

test('npm start creates the quickstart data, then runs the quickstart to Succeeded', () => {
  const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start as string;
  expect(start).toContain('bij.js quickstart-data examples');
  expect(start).toContain('bij.js run examples/quickstart.yaml');

  const dir = mkdtempSync(join(tmpdir(), 'bij-quickstart-'));
  copyFileSync(join(root, 'examples', 'quickstart.yaml'), join(dir, 'quickstart.yaml'));
  const data = bij('quickstart-data', dir);
  expect(data.status).toBe(0);
  expect(readdirSync(join(dir, 'data', 'features')).filter((f) => f.endsWith('.parquet'))).toHaveLength(4);
  expect(existsSync(join(dir, 'models', 'churn.onnx'))).toBe(true);

  const run = bij('run', join(dir, 'quickstart.yaml'));
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^Succeeded: 120,000 rows scored, 0 failed, 8 shards, in /m);
  expect(run.stdout).toMatch(/^Time: model busy \d+% \(input wait \d+%, output wait \d+%; 8 shards\)$/m);
  expect(run.stdout).toContain(`Output: ${join(dir, 'output', 'churn')}/`);
  expect(existsSync(join(dir, 'output', 'churn', '_SUCCESS'))).toBe(true);
}, 180_000);
