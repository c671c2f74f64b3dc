/**
 * `npm run crd`: writes crds/batchinferencejobs.batchinference.dev.yaml and
 * crds/batchinferenceschedules.batchinference.dev.yaml (and the Helm chart's copies), and the files' JSON
 * Schemas (schemas/batchinferencejob.schema.json, schemas/batchinferenceschedule.schema.json), from the zod schemas.
 * The only file in api/ that does I/O. Tests (crd.test.ts, json-schema.test.ts) fail when a
 * committed file is stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CRD_FILE, HELM_CRD_FILE, renderCrdYaml } from './crd.js';
import { JSON_SCHEMA_FILE, SCHEDULE_JSON_SCHEMA_FILE, renderJobJsonSchema, renderScheduleJsonSchema } from './json-schema.js';
import { HELM_SCHEDULE_CRD_FILE, SCHEDULE_CRD_FILE, renderScheduleCrdYaml } from './schedule-crd.js';
import { repoRoot } from './repo-root.js';


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
