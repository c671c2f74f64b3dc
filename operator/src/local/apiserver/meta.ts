/** ObjectMeta helpers: name and label validation with apimachinery's wording, timestamps, generated names. */
import { randomInt } from 'node:crypto';
import type { FieldError, KObject } from './types.js';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is " +
  `'${DNS1123_SUBDOMAIN}')`;
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start " +
  `and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`;
const QNAME_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " +
  `alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}')`;
const LVALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and " +
  `must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE}')`;

const full = (re: string) => new RegExp(`^${re}$`);
const isSubdomain = (s: string) => s.length <= 253 && full(DNS1123_SUBDOMAIN).test(s);

export type NameRule = 'subdomain' | 'label';

export function validateName(name: string, rule: NameRule, field = 'metadata.name'): FieldError[] {
  const errs: FieldError[] = [];
  const max = rule === 'label' ? 63 : 253;
  if (name.length > max) errs.push({ type: 'FieldValueInvalid', field, value: name, detail: `must be no more than ${max} characters` });
  const re = rule === 'label' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (!full(re).test(name)) errs.push({ type: 'FieldValueInvalid', field, value: name, detail: rule === 'label' ? LABEL_MSG : SUBDOMAIN_MSG });
  return errs;
}

function validateQualifiedName(key: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const [prefix, n] = parts;
    name = n;
    if (!prefix) errs.push({ type: 'FieldValueInvalid', field, value: key, detail: 'prefix part must be non-empty' });
    else if (!isSubdomain(prefix)) errs.push({ type: 'FieldValueInvalid', field, value: key, detail: `prefix part ${SUBDOMAIN_MSG}` });
  } else if (parts.length > 2) {
    errs.push({ type: 'FieldValueInvalid', field, value: key, detail: "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')" });
    return errs;
  }
  if (!name) errs.push({ type: 'FieldValueInvalid', field, value: key, detail: 'name part must be non-empty' });
  else {
    if (name.length > 63) errs.push({ type: 'FieldValueInvalid', field, value: key, detail: 'name part must be no more than 63 characters' });
    if (!full(QUALIFIED_NAME).test(name)) errs.push({ type: 'FieldValueInvalid', field, value: key, detail: QNAME_MSG });
  }
  return errs;
}

export function validateLabels(labels: unknown, field: string): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    return [{ type: 'FieldValueTypeInvalid', field, value: labels, detail: 'must be a map of string to string' }];
  }
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    errs.push(...validateQualifiedName(k, field));
    if (typeof v !== 'string') { errs.push({ type: 'FieldValueTypeInvalid', field, value: v, detail: 'must be a string' }); continue; }
    if (v.length > 63) errs.push({ type: 'FieldValueInvalid', field, value: v, detail: 'must be no more than 63 characters' });
    if (!full(LABEL_VALUE).test(v)) errs.push({ type: 'FieldValueInvalid', field, value: v, detail: LVALUE_MSG });
  }
  return errs;
}

/** The ObjectMeta checks every resource shares (name, labels, finalizer and ownerReference shapes). */
export function validateObjectMeta(obj: KObject, rule: NameRule): FieldError[] {
  const m = obj.metadata ?? {};
  const errs: FieldError[] = [];
  if (m.name) errs.push(...validateName(m.name, rule));
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  if (m.annotations !== undefined && (typeof m.annotations !== 'object' || Array.isArray(m.annotations))) {
    errs.push({ type: 'FieldValueTypeInvalid', field: 'metadata.annotations', value: m.annotations, detail: 'must be a map of string to string' });
  }
  (m.finalizers ?? []).forEach((f, i) => {
    if (typeof f !== 'string' || !f) errs.push({ type: 'FieldValueInvalid', field: `metadata.finalizers[${i}]`, value: f, detail: 'name part must be non-empty' });
  });
  (m.ownerReferences ?? []).forEach((r, i) => {
    const f = `metadata.ownerReferences[${i}]`;
    if (!r.apiVersion) errs.push({ type: 'FieldValueInvalid', field: `${f}.apiVersion`, value: r.apiVersion ?? '', detail: 'version must not be empty' });
    if (!r.kind) errs.push({ type: 'FieldValueInvalid', field: `${f}.kind`, value: r.kind ?? '', detail: 'kind must not be empty' });
    if (!r.name) errs.push({ type: 'FieldValueInvalid', field: `${f}.name`, value: r.name ?? '', detail: 'name must not be empty' });
    if (!r.uid) errs.push({ type: 'FieldValueInvalid', field: `${f}.uid`, value: r.uid ?? '', detail: 'uid must not be empty' });
  });
  const controllers = (m.ownerReferences ?? []).filter((r) => r.controller);
  if (controllers.length > 1) {
    errs.push({ type: 'FieldValueInvalid', field: 'metadata.ownerReferences', value: m.ownerReferences,
      detail: `Only one reference can have Controller set to true. Found "true" in references for ${controllers.map((c) => `${c.kind}/${c.name}`).join(' and ')}` });
  }
  return errs;
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// names.SimpleNameGenerator: 5 characters from an alphabet without vowels or confusable digits.
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';
export function generateName(prefix: string): string {
  const base = prefix.length > 58 ? prefix.slice(0, 58) : prefix;
  let s = '';
  for (let i = 0; i < 5; i++) s += ALPHANUMS[randomInt(ALPHANUMS.length)];
  return base + s;
}
