import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root above a file (source or dist/): the first folder holding both package.json and
 * tsconfig.json. The workspaces' own folders (core/, operator/, worker/) have a package.json only. */
export function repoRootAbove(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root (a folder with package.json and tsconfig.json) above ${file}`);
  }
}
