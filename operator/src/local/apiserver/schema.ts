/**
 * Structural schemas (a CRD version's openAPIV3Schema): pruning of unknown fields, null handling and
 * defaulting as the apiextensions-apiserver does them, and conversion to JSON Schema for ajv.
 */

export interface CelRuleSpec { rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string; optionalOldSelf?: boolean }

export interface Structural {
  type?: string;
  properties?: Record<string, Structural>;
  additionalProperties?: Structural | boolean;
  items?: Structural;
  required?: string[];
  nullable?: boolean;
  default?: unknown;
  enum?: unknown[];
  format?: string;
  allOf?: Structural[];
  anyOf?: Structural[];
  oneOf?: Structural[];
  not?: Structural;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-validations'?: CelRuleSpec[];
  [k: string]: unknown;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ObjectMeta fields kept at a resource root (and in embedded resources); others are pruned. */
const META_FIELDS = new Set(['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences',
  'finalizers', 'managedFields']);

const propSchema = (s: Structural, k: string): Structural | undefined =>
  s.properties?.[k] ?? (isObj(s.additionalProperties) ? (s.additionalProperties as Structural) : undefined);

/**
 * Removes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields), returning the
 * pruned paths (`spec.foo`) so the server can warn or, with fieldValidation=Strict, reject.
 */
export function prune(x: unknown, s: Structural, root = true, path = ''): string[] {
  const pruned: string[] = [];
  walkPrune(x, s, root, path, pruned);
  return pruned;
}

function walkPrune(x: unknown, s: Structural | undefined, resourceRoot: boolean, path: string, pruned: string[]): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => walkPrune(v, s.items, false, `${path}[${i}]`, pruned));
    return;
  }
  if (!isObj(x)) return;
  const embedded = resourceRoot || s['x-kubernetes-embedded-resource'] === true;
  for (const k of Object.keys(x)) {
    const p = path ? `${path}.${k}` : k;
    if (embedded && (k === 'apiVersion' || k === 'kind')) continue;
    if (embedded && k === 'metadata') {
      if (isObj(x.metadata)) for (const mk of Object.keys(x.metadata)) if (!META_FIELDS.has(mk)) { delete x.metadata[mk]; pruned.push(`${p}.${mk}`); }
      continue;
    }
    const child = propSchema(s, k);
    if (child) walkPrune(x[k], child, false, p, pruned);
    else if (s.additionalProperties === true || s['x-kubernetes-preserve-unknown-fields']) continue;
    else { delete x[k]; pruned.push(p); }
  }
}

/** Structural defaulting (apiextensions defaulting.Default), dropping non-nullable nulls that have no default. */
export function applyDefaults(x: unknown, s: Structural | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) { for (const v of x) applyDefaults(v, s.items); return; }
  if (!isObj(x)) return;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    const nonNullableNull = x[k] === null && !prop.nullable;
    if (prop.default !== undefined && (!(k in x) || nonNullableNull)) x[k] = structuredClone(prop.default);
    else if (nonNullableNull) delete x[k];
  }
  const ap = isObj(s.additionalProperties) ? (s.additionalProperties as Structural) : undefined;
  for (const [k, v] of Object.entries(x)) {
    if (s.properties?.[k]) applyDefaults(v, s.properties[k]);
    else if (ap) {
      if (v === null && !ap.nullable) { if (ap.default !== undefined) x[k] = structuredClone(ap.default); else delete x[k]; }
      applyDefaults(x[k], ap);
    }
  }
}

/** String formats the apiserver validates (kube-openapi strfmt); others, and numeric formats, are not checked. */
export const STRING_FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  uuid: (s) => /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s),
  ipv4: (s) => /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(s),
  email: (s) => /^[^@\s]+@[^@\s]+$/.test(s),
};

const COPY = ['required', 'enum', 'minimum', 'maximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'minItems',
  'maxItems', 'uniqueItems', 'minProperties', 'maxProperties'];

/** OpenAPI v3.0 structural schema -> JSON Schema (draft 7) for ajv. Defaults are applied separately. */
export function toJsonSchema(s: Structural): Json {
  const out: Json = {};
  const nullable = s.nullable === true;
  if (s['x-kubernetes-int-or-string']) out.type = nullable ? ['integer', 'string', 'null'] : ['integer', 'string'];
  else if (s.type) out.type = nullable ? [s.type, 'null'] : s.type;
  for (const k of COPY) if (s[k] !== undefined) out[k] = s[k];
  if (nullable && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  // OpenAPI v3.0 boolean exclusive bounds -> draft 7 numeric ones.
  if (s.exclusiveMinimum === true && s.minimum !== undefined) { out.exclusiveMinimum = s.minimum; delete out.minimum; }
  if (s.exclusiveMaximum === true && s.maximum !== undefined) { out.exclusiveMaximum = s.maximum; delete out.maximum; }
  if (s.format && STRING_FORMATS[s.format]) out.format = s.format;
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toJsonSchema(v)]));
  if (isObj(s.additionalProperties)) out.additionalProperties = toJsonSchema(s.additionalProperties as Structural);
  if (s.items) out.items = toJsonSchema(s.items);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (s[k]) out[k] = s[k]!.map(toJsonSchema);
  if (s.not) out.not = toJsonSchema(s.not);
  return out;
}
