/** Reads a BatchInferenceJob from a YAML (or JSON) file, for `bij run` and `bij validate`. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseAllDocuments, type Tags } from 'yaml';
import { API_GROUP, API_VERSION, KIND } from '../../../core/src/contract/job-spec.js';

export interface JobDocument {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

/** YAML as kubectl and the API server read it (sigs.k8s.io/yaml: YAML 1.1 scalars), so a file means the
 * same to `bij validate` and `bij run` as to `kubectl apply`: `yes`/`no`/`on`/`off` are booleans, `010` is
 * octal 8, `1_000` is 1000; but dates and `1:20` stay strings, as they do there. */
const KUBE_YAML = {
  version: '1.1',
  customTags: (tags: Tags) => tags.filter((t) => typeof t === 'string' || (t.format !== 'TIME' && t.tag !== 'tag:yaml.org,2002:timestamp')),
} as const;

/** The first BatchInferenceJob document of a file. Errors name the file and what is wrong. */
export function readJobFile(path: string): JobDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read ${path}`, { cause });
  }
  const docs = parseAllDocuments(text, KUBE_YAML);
  const parsed: JobDocument[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length > 0) throw new Error(`${path} is not valid YAML: ${d.errors[0].message}`);
    const v = d.toJS() as unknown;
    if (v && typeof v === 'object') parsed.push(v as JobDocument);
  }
  const job = parsed.find((d) => d.kind === KIND);
  if (!job) throw new Error(`${path} holds no ${KIND} (kind: ${KIND}, apiVersion: ${API_GROUP}/${API_VERSION})`);
  return job;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A local path in a spec, resolved against the job file's folder; URIs with a scheme are kept. Pure. */
export function resolveLocalUri(uri: unknown, baseDir: string): unknown {
  if (typeof uri !== 'string' || uri === '' || SCHEME.test(uri)) return uri;
  const abs = isAbsolute(uri) ? uri : resolve(baseDir, uri);
  return uri.endsWith('/') && !abs.endsWith('/') ? abs + '/' : abs;
}

/** In local mode, relative model/input/output paths mean "next to the job file". Pure. */
export function resolveLocalPaths(job: JobDocument, jobFile: string): JobDocument {
  const base = dirname(resolve(jobFile));
  const spec = structuredClone(job.spec ?? {}) as Record<string, Record<string, unknown>>;
  for (const field of ['model', 'input', 'output'] as const) {
    if (spec[field] && typeof spec[field] === 'object') spec[field].uri = resolveLocalUri(spec[field].uri, base);
  }
  return { ...job, spec };
}
