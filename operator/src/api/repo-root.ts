import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file that holds package-lock.json (the workspaces'
 * own package.json files, core/, operator/ and worker/, have none). From the sources and from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package-lock.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package-lock.json above ${fileURLToPath(import.meta.url)}: run from the repository`);
    dir = up;
  }
  return dir;
}
