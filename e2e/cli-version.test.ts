/** `bij --version`, from the full command and from the operator image's entry point: the package's version. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

test.each([
  ['bin/bij.js'],
  ['dist/operator/src/cli/main.js'],
])('%s --version prints the package version', (entry) => {
  const out = execFileSync(process.execPath, [path.join(root, entry), '--version'], { cwd: root, encoding: 'utf8' });
  expect(out.trim()).toBe(version);
});
