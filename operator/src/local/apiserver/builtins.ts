/** The built-in resources served besides pods and jobs: events, secrets, configmaps, namespaces, leases. */
import { jobs } from './jobs.js';
import { pods } from './pods.js';
import { defineResource, type ResourceType } from './resource.js';
import type { FieldError, KObject } from './types.js';
import { deepEqual } from './util.js';

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const keyErrors = (obj: KObject, fields: string[]): FieldError[] => fields.flatMap((f) => Object.keys(obj[f] ?? {})
  .filter((k) => !CONFIG_KEY.test(k) || k.length > 253)
  .map((k) => ({ type: 'FieldValueInvalid' as const, field: `${f}[${k}]`, value: k,
    detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')" })));

const immutableErrors = (obj: KObject, old: KObject | undefined, fields: string[]): FieldError[] => {
  if (!old?.immutable) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push({ type: 'FieldValueForbidden', field: 'immutable', detail: 'field is immutable when `immutable` is set' });
  for (const f of fields) {
    if (!deepEqual(obj[f] ?? {}, old[f] ?? {})) errs.push({ type: 'FieldValueForbidden', field: f, detail: 'field is immutable when `immutable` is set' });
  }
  return errs;
};

export const configmaps = defineResource({
  group: '', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'],
  admit: (obj, old) => ({ errors: [...keyErrors(obj, ['data', 'binaryData']), ...immutableErrors(obj, old, ['data', 'binaryData'])], warnings: [] }),
});

export const secrets = defineResource({
  group: '', plural: 'secrets', kind: 'Secret',
  fieldSelectors: { type: (o) => o.type },
  /** stringData is write-only: merged into data (base64) and dropped, as the apiserver's conversion does. */
  admit(obj, old) {
    obj.type ??= 'Opaque';
    if (obj.stringData && typeof obj.stringData === 'object') {
      obj.data = { ...(obj.data ?? {}) };
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    }
    delete obj.stringData;
    const errors = [...keyErrors(obj, ['data']), ...immutableErrors(obj, old, ['data'])];
    for (const [k, v] of Object.entries(obj.data ?? {})) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) errors.push({ type: 'FieldValueInvalid', field: `data[${k}]`, value: '<secret contents redacted>', detail: 'illegal base64 data' });
    }
    if (old && old.type !== obj.type) errors.push({ type: 'FieldValueInvalid', field: 'type', value: obj.type, detail: 'field is immutable' });
    return { errors, warnings: [] };
  },
});

export const events = defineResource({
  group: '', plural: 'events', kind: 'Event', shortNames: ['ev'], allowCreateOnUpdate: true,
  fieldSelectors: {
    'involvedObject.kind': (o) => o.involvedObject?.kind ?? '',
    'involvedObject.namespace': (o) => o.involvedObject?.namespace ?? '',
    'involvedObject.name': (o) => o.involvedObject?.name ?? '',
    'involvedObject.uid': (o) => o.involvedObject?.uid ?? '',
    'involvedObject.apiVersion': (o) => o.involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': (o) => o.involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': (o) => o.involvedObject?.fieldPath ?? '',
    reason: (o) => o.reason ?? '',
    reportingComponent: (o) => o.reportingComponent ?? '',
    source: (o) => o.source?.component ?? o.reportingComponent ?? '',
    type: (o) => o.type ?? '',
  },
});

export const leases = defineResource({ group: 'coordination.k8s.io', plural: 'leases', kind: 'Lease', allowCreateOnUpdate: true });

/** Namespaces are served, but optional: objects may live in any namespace name. Deletion does not cascade. */
export const namespaces = defineResource({
  group: '', plural: 'namespaces', kind: 'Namespace', shortNames: ['ns'], namespaced: false,
  statusSubresource: true, nameRule: 'label', returnDeletedObject: true,
  fieldSelectors: { 'status.phase': (o) => o.status?.phase },
  prepareForCreate(obj) { obj.status = { phase: 'Active' }; },
  admit(obj) {
    obj.metadata!.labels = { ...(obj.metadata!.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata!.name! };
    return { errors: [], warnings: [] };
  },
});

export const BUILTINS: ResourceType[] = [pods, events, secrets, configmaps, namespaces, jobs, leases];
