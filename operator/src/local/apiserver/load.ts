/** Reads CRD objects from YAML files (multi-document files allowed). */
import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import type { KObject } from './types.js';

export async function loadCRDs(...paths: string[]): Promise<KObject[]> {
  const out: KObject[] = [];
  for (const p of paths) {
    for (const doc of YAML.parseAllDocuments(await readFile(p, 'utf8'))) {
      const obj = doc.toJS() as KObject | null;
      if (obj?.kind === 'CustomResourceDefinition') out.push(obj);
    }
  }
  return out;
}
