/**
 * `npm run crd`: writes crds/batchinferencejobs.batchinference.dev.yaml (and the Helm chart's copy)
 * from the zod schemas.
 * The only file in api/ that does I/O. A test (crd.test.ts) fails when the committed file is stale.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, HELM_CRD_FILE, renderCrdYaml } from './crd.js';

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

for (const file of [CRD_FILE, HELM_CRD_FILE]) {
  const target = join(repoRoot(), file);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, renderCrdYaml());
  console.log(`wrote ${target}`);
}
