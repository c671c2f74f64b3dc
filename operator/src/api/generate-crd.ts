/**
 * `npm run crd`: writes crds/batchinferencejobs.batchinference.dev.yaml from the zod schemas.
 * The only file in api/ that does I/O. A test (crd.test.ts) fails when the committed file is stale.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, renderCrdYaml } from './crd.js';

/** The repository root: the nearest folder above this file that holds package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

const target = join(repoRoot(), CRD_FILE);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderCrdYaml());
console.log(`wrote ${target}`);
