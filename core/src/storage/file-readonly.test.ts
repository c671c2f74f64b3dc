/**
 * An output on a read-only file system is reported as such, naming the path (Node's recursive mkdir
 * says ENOENT there). The read-only mount is made in a private mount namespace (`unshare -m`, as root,
 * like the rest of the suite), so nothing outside the child process sees it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const storageModule = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'core', 'src', 'storage', 'index.js');

test('writing under a read-only file system fails as bad input saying so, with the path', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'bij-ro-'));
  const script = `const { openStorage } = await import(${JSON.stringify(storageModule)});
const s = openStorage();
for (const uri of [${JSON.stringify(join(mountPoint, 'out', '_bij', 'r1', 'plan.json'))}, ${JSON.stringify(join(mountPoint, 'top.json'))}]) {
  try { await s.write(uri, 'x'); console.log('wrote', uri); } catch (e) { console.log(e.name + ': ' + e.message); }
}`;
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o ro tmpfs '${mountPoint}' && exec '${process.execPath}' --input-type=module -e "$0"`, script], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim().split('\n')).toEqual([
    `BadInputError: cannot create the directory of ${join(mountPoint, 'out', '_bij', 'r1', 'plan.json')}: read-only file system`,
    `BadInputError: cannot write ${join(mountPoint, 'top.json')}: read-only file system`,
  ]);
});
