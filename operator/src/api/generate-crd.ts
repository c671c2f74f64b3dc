/**
 * `npm run crd`: writes crds/batchinferencejobs.batchinference.dev.yaml and
 * crds/batchinferenceschedules.batchinference.dev.yaml (and the Helm chart's copies), and the files' JSON
 * Schemas (schemas/batchinferencejob.schema.json, schemas/batchinferenceschedule.schema.json), from the zod schemas.
 * The only file in api/ that does I/O. Tests (crd.test.ts, json-schema.test.ts) fail when a
 * committed file is stale.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, HELM_CRD_FILE, renderCrdYaml } from './crd.js';
import { JSON_SCHEMA_FILE, SCHEDULE_JSON_SCHEMA_FILE, renderJobJsonSchema, renderScheduleJsonSchema } from './json-schema.js';
import { HELM_SCHEDULE_CRD_FILE, SCHEDULE_CRD_FILE, renderScheduleCrdYaml } from './schedule-crd.js';

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

const files: [string, string][] = [
  [CRD_FILE, renderCrdYaml()], [HELM_CRD_FILE, renderCrdYaml()], [JSON_SCHEMA_FILE, renderJobJsonSchema()],
  [SCHEDULE_CRD_FILE, renderScheduleCrdYaml()], [HELM_SCHEDULE_CRD_FILE, renderScheduleCrdYaml()], [SCHEDULE_JSON_SCHEMA_FILE, renderScheduleJsonSchema()],
];
for (const [file, text] of files) {
  const target = join(repoRoot(), file);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
