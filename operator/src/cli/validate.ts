/** `bij validate`: the schema and semantic checks the operator applies, without running anything. */
import { parseBatchInferenceJob, specWarnings } from '../api/validate.js';
import type { JobDocument } from './job-file.js';

export function validateCommand(job: JobDocument, file: string, out: (line: string) => void = console.log): number {
  const r = parseBatchInferenceJob(job);
  if (r.ok) {
    out(`${file}: ${r.bij.metadata.name} is valid`);
    for (const w of specWarnings(r.bij.spec)) out(`  warning: ${w.field}: ${w.message}`);
    return 0;
  }
  out(`${file}: ${r.errors.length} error(s)`);
  for (const e of r.errors) out(`  ${e.field}: ${e.message}`);
  return 1;
}
