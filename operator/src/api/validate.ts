/**
 * Parsing and validating a BatchInferenceJob beyond what the CRD schema can say. Pure.
 *
 * The apiserver checks the openAPIV3Schema (types, bounds, enums, CEL rules). `parseBatchInferenceJob`
 * repeats that with zod (for local mode and for objects that predate a schema change), treats nulls
 * and metadata.name as the apiserver does, and adds the semantic checks of `validateSpecSemantics`.
 * e2e/real-api/crd-validation.test.ts holds both to the same verdicts on a real kube-apiserver. Errors name fields the way kubectl does:
 * `spec.input.idColumn`, `spec.input.passthroughColumns[2]`, `spec.model.inputs.X.columns`.
 */
import type { z } from 'zod';
import {
  API_GROUP, API_VERSION, BatchInferenceJobSpecSchema, KIND, OBJECT_NAME_MAX_LENGTH, OBJECT_NAME_PATTERN, type BatchInferenceJobSpec,
} from '../../../core/src/contract/job-spec.js';
import { specOpenApiSchema, type SchemaNode } from './crd.js';
import { BatchInferenceJobStatusSchema, type BatchInferenceJobStatus } from './status.js';
import { ENV } from '../../../core/src/contract/process.js';
import { lexicalLocation, overlap } from '../../../core/src/storage/location.js';
import { jobPlaceholderErrors } from '../schedule/placeholders.js';
import { outputColumnErrors } from './validate-output.js';

import type { FieldError } from './field-error.js';

export type { FieldError } from './field-error.js';

/** The metadata fields the operator reads. */
export interface BijMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string | Date;
  [key: string]: unknown;
}

/** A parsed BatchInferenceJob: the spec with defaults applied, the status (empty when absent or unreadable). */
export interface ParsedBatchInferenceJob {
  apiVersion: string;
  kind: string;
  metadata: BijMetadata;
  spec: BatchInferenceJobSpec;
  status: BatchInferenceJobStatus;
}

/** On failure, `spec` is there when only the semantic checks failed, and `status` is always there
 * (parsed leniently), so a caller can still reconcile an invalid object (mark it Failed, clean up). */
export type ParseResult =
  | { ok: true; bij: ParsedBatchInferenceJob }
  | { ok: false; errors: FieldError[]; spec?: BatchInferenceJobSpec; status: BatchInferenceJobStatus };

/** The status of an object, parsed leniently: `{}` when absent or unreadable (the operator rebuilds it). */
export function parseStatus(status: unknown): BatchInferenceJobStatus {
  const r = BatchInferenceJobStatusSchema.safeParse(status ?? {});
  return r.success ? r.data : {};
}

/** BIJ_* names are the operator's and the tests' (the BIJ_FAULT hook): a spec may set only the ones
 * documented for users. */
const USER_ENV = new Set<string>([ENV.decoders]);

/** A zod issue path as a field path: `spec.model.inputs["a.b"].columns[0]`. */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
      else out += `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

/** zod issues -> field errors. An unknown key is reported on the key itself, and so is a bad map key. */
export function issuesToFieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: fieldPath([...issue.path, key], prefix), message: 'unknown field' });
    } else if (issue.code === 'invalid_key') {
      const key = issue.path[issue.path.length - 1];
      const why = issue.issues.map((i) => i.message).join('; ') || issue.message;
      out.push({ field: fieldPath(issue.path, prefix), message: `key ${JSON.stringify(key)}: ${why}` });
    } else {
      out.push({ field: fieldPath(issue.path, prefix) || prefix || '(root)', message: issue.message });
    }
  }
  return out;
}

/** Where input and output overlap, read as locations (decoded, `//`, `.` and `..` applied), never as
 * strings. Symlinks are resolved later, at planning (planner/overlap.ts), where I/O is allowed. */
function overlapError(inUri: string, outUri: string): FieldError | undefined {
  let o;
  try {
    o = overlap(lexicalLocation(outUri), lexicalLocation(inUri));
  } catch {
    return undefined; // an unparsable URI is reported by the schema or at planning, naming the field
  }
  if (o === 'same') return { field: 'spec.output.uri', message: `must differ from spec.input.uri (both name ${inUri})` };
  if (o === 'a-inside-b') return { field: 'spec.output.uri', message: `must not lie inside the input prefix ${inUri}` };
  if (o === 'b-inside-a') return { field: 'spec.input.uri', message: `must not lie inside the output prefix ${outUri}` };
  return undefined;
}

/** Checks the schema cannot express. The spec is the parsed one (defaults applied). */
export function validateSpecSemantics(spec: BatchInferenceJobSpec): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });

  const inputs = Object.entries(spec.model.inputs);
  const outputs = Object.entries(spec.model.outputs);
  if (inputs.length === 0) add('spec.model.inputs', 'must map at least one ONNX input');
  if (outputs.length === 0) add('spec.model.outputs', 'must map at least one ONNX output');

  for (const [name, mapping] of inputs) {
    const seen = new Set<string>();
    mapping.columns?.forEach((c, i) => {
      if (seen.has(c)) add(fieldPath(['spec', 'model', 'inputs', name, 'columns', i]), `duplicate column ${c}`);
      seen.add(c);
    });
  }

  const { idColumn } = spec.input;
  const passthrough = spec.input.passthroughColumns ?? [];
  const seenPass = new Set<string>();
  passthrough.forEach((c, i) => {
    const f = fieldPath(['spec', 'input', 'passthroughColumns', i]);
    if (c === idColumn) add(f, `${c} is the idColumn, which is always copied`);
    else if (seenPass.has(c)) add(f, `duplicate column ${c}`);
    seenPass.add(c);
  });

  const outCols = new Map<string, string>();
  for (const [name, mapping] of outputs) {
    const f = fieldPath(['spec', 'model', 'outputs', name, 'column']);
    const c = mapping.column;
    if (c === idColumn) add(f, `output column ${c} collides with the idColumn`);
    else if (seenPass.has(c)) add(f, `output column ${c} collides with a passthrough column`);
    else if (outCols.has(c)) add(f, `output column ${c} is also written by output ${outCols.get(c)}`);
    if (!outCols.has(c)) outCols.set(c, name);
  }

  errors.push(...outputColumnErrors(spec, outCols));

  // A schedule's placeholders (${date}...) are filled in when it creates a job; in a job they would be
  // read as a literal path, so they are refused, naming the field.
  errors.push(...jobPlaceholderErrors(spec));

  const overlapping = overlapError(spec.input.uri, spec.output.uri);
  if (overlapping) errors.push(overlapping);

  spec.worker.env?.forEach((e, i) => {
    const f = fieldPath(['spec', 'worker', 'env', i, 'name']);
    if (typeof e.name !== 'string' || e.name.length === 0) add(f, 'is required');
    else if (e.name.startsWith('BIJ_') && !USER_ENV.has(e.name)) {
      add(f, `${e.name} is reserved: BIJ_* variables are set by the operator (only ${[...USER_ENV].join(', ')} may be set here)`);
    }
  });

  const limits = spec.worker.resources?.limits;
  if (limits && typeof limits === 'object' && 'nvidia.com/gpu' in limits) {
    const v = Number((limits as Record<string, unknown>)['nvidia.com/gpu']);
    if (v !== spec.worker.gpus) add('spec.worker.resources.limits', 'set GPUs with spec.worker.gpus, not resources.limits["nvidia.com/gpu"]');
  }
  return errors;
}

/** Env names that usually hold a credential. */
const CREDENTIAL_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL/i;

/**
 * What is allowed but probably a mistake. Today: a literal value in spec.worker.env under a name that
 * looks like a credential. The spec is readable by anyone who can read the object (and Argo CD's Git
 * repository); a Secret (spec.storage.s3.credentialsSecret, spec.worker.envFrom, or valueFrom.secretKeyRef)
 * keeps it out of both. Pure.
 */
export function specWarnings(spec: BatchInferenceJobSpec): FieldError[] {
  const out: FieldError[] = [];
  spec.worker.env?.forEach((e, i) => {
    if (typeof e.name === 'string' && CREDENTIAL_NAME.test(e.name) && typeof e.value === 'string' && e.value !== '') {
      out.push({
        field: fieldPath(['spec', 'worker', 'env', i, 'value']),
        message: `${e.name} looks like a credential set as plain text; put it in a Secret and use spec.storage.s3.credentialsSecret, spec.worker.envFrom or valueFrom.secretKeyRef`,
      });
    }
  });
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the API server does with `null` before it validates a custom resource: an object field (a
 * property, or a map value) whose schema is not `nullable` is dropped, and gets its default if it has
 * one. So `worker: ~` means the default worker, `version: ~` no version, and `model: ~` a missing
 * (required) model. Nulls in lists, and anything under a node without a schema (pass-through objects
 * such as worker.resources, unknown fields), stay. Follows the structural schema the CRD is generated
 * from, like apiextensions-apiserver's PruneNonNullableNullsWithoutDefaults. Returns a copy. Pure.
 */
export function dropNullFields(value: unknown, schema: SchemaNode | undefined): unknown {
  if (Array.isArray(value)) {
    const items = isRecord(schema?.items) ? schema.items : undefined;
    return value.map((v) => dropNullFields(v, items));
  }
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const props = isRecord(schema?.properties) ? schema.properties : undefined;
    const child = props && isRecord(props[k]) ? props[k] : isRecord(schema?.additionalProperties) ? schema.additionalProperties : undefined;
    if (v === null && child !== undefined && child.nullable !== true) continue;
    out[k] = dropNullFields(v, child);
  }
  return out;
}

let specSchema: SchemaNode | undefined;
/** The spec's structural schema, made once (crd.ts). */
const specStructural = (): SchemaNode => (specSchema ??= specOpenApiSchema());

const OBJECT_NAME = new RegExp(OBJECT_NAME_PATTERN);

/** metadata.name as the API server checks it for a custom resource. */
export function nameError(name: string): FieldError | undefined {
  if (name.length > OBJECT_NAME_MAX_LENGTH) return { field: 'metadata.name', message: `must be no more than ${OBJECT_NAME_MAX_LENGTH} characters (has ${name.length})` };
  if (!OBJECT_NAME.test(name)) {
    return {
      field: 'metadata.name',
      message: `${JSON.stringify(name)} is not a lowercase RFC 1123 subdomain: use lowercase letters, digits, '-' and '.', and start and end with a letter or digit (e.g. churn-2024.v1)`,
    };
  }
  return undefined;
}

/**
 * What both kinds' objects are checked for before their own rules: apiVersion, kind, metadata.name,
 * then the spec through its zod schema (nulls dropped where the structural schema allows them, as the
 * apiserver does) and the kind's semantic checks. `spec` is set when the schema parsed it.
 */
export function parseEnvelope<S>(obj: Record<string, unknown>, o: {
  kind: string;
  schema: z.ZodType<S>;
  structural: () => SchemaNode;
  semantics: (spec: S) => FieldError[];
}): { errors: FieldError[]; metadata: BijMetadata; spec?: S } {
  const errors: FieldError[] = [];
  const apiVersion = `${API_GROUP}/${API_VERSION}`;
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) errors.push({ field: 'apiVersion', message: `must be ${apiVersion}` });
  if (obj.kind !== undefined && obj.kind !== o.kind) errors.push({ field: 'kind', message: `must be ${o.kind}` });
  const metadata = obj.metadata;
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name.length === 0) {
    errors.push({ field: 'metadata.name', message: 'is required' });
  } else {
    const bad = nameError(metadata.name);
    if (bad) errors.push(bad);
  }
  if (obj.spec === undefined || obj.spec === null) {
    errors.push({ field: 'spec', message: 'is required' });
    return { errors, metadata: metadata as BijMetadata };
  }
  const parsed = o.schema.safeParse(dropNullFields(obj.spec, o.structural()));
  if (!parsed.success) {
    errors.push(...issuesToFieldErrors(parsed.error.issues, 'spec'));
    return { errors, metadata: metadata as BijMetadata };
  }
  errors.push(...o.semantics(parsed.data));
  return { errors, metadata: metadata as BijMetadata, spec: parsed.data };
}

/**
 * A BatchInferenceJob object (from the apiserver, or a YAML file in local mode) -> the parsed object
 * with spec defaults applied, or every error found. The status is parsed leniently: an unreadable
 * status becomes `{}` (the operator rebuilds it) rather than an error.
 */
export function parseBatchInferenceJob(obj: unknown): ParseResult {
  if (!isRecord(obj)) return { ok: false, errors: [{ field: '(root)', message: 'not an object' }], status: {} };
  const status = parseStatus(obj.status);
  const { errors, metadata, spec } = parseEnvelope(obj, {
    kind: KIND, schema: BatchInferenceJobSpecSchema, structural: specStructural, semantics: validateSpecSemantics,
  });
  if (errors.length > 0 || !spec) return { ok: false, errors, spec, status };
  return { ok: true, bij: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata, spec, status } };
}
