/**
 * CustomResourceDefinition (apiextensions.k8s.io/v1) objects -> served resource types, with pruning,
 * defaulting and validation (OpenAPI schema + CEL rules) per version, and the CRD resource itself.
 */
import { defineResource, type ResourceType } from './resource.js';
import { applyDefaults, prune, type Structural } from './schema.js';
import type { FieldError, KObject } from './types.js';
import { compileSchema, type CompiledSchema } from './validation.js';

/** Kubernetes version priority: GA > beta > alpha, higher numbers first, then non-kube-like names. */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0, v] as const;
    return [3 - (m[2] === 'alpha' ? 2 : m[2] === 'beta' ? 1 : 0), Number(m[1]), Number(m[3] ?? 0), v] as const;
  };
  const [ra, ma, na] = parse(a); const [rb, mb, nb] = parse(b);
  if (ra !== rb) return rb - ra;
  if (ma !== mb) return mb - ma;
  if (na !== nb) return nb - na;
  return a.localeCompare(b);
}

interface CrdVersion { name: string; served?: boolean; storage?: boolean; schema?: { openAPIV3Schema?: Structural }; subresources?: { status?: object } }

/** Checks the CRD object enough to serve it; throws an Error (turned into 422 over HTTP) when it cannot. */
export function crdErrors(crd: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  if (!spec.group) errs.push({ type: 'FieldValueRequired', field: 'spec.group' });
  if (!names.plural) errs.push({ type: 'FieldValueRequired', field: 'spec.names.plural' });
  if (!names.kind) errs.push({ type: 'FieldValueRequired', field: 'spec.names.kind' });
  if (!['Namespaced', 'Cluster'].includes(spec.scope)) errs.push({ type: 'FieldValueNotSupported', field: 'spec.scope', value: spec.scope ?? '', detail: 'supported values: "Cluster", "Namespaced"' });
  const versions: CrdVersion[] = spec.versions ?? [];
  if (!versions.length) errs.push({ type: 'FieldValueInvalid', field: 'spec.versions', value: versions, detail: 'must have exactly one version marked as storage version' });
  else if (versions.filter((v) => v.storage).length !== 1) errs.push({ type: 'FieldValueInvalid', field: 'spec.versions', value: versions.map((v) => v.name), detail: 'must have exactly one version marked as storage version' });
  if (spec.group && names.plural && crd.metadata?.name !== `${names.plural}.${spec.group}`) {
    errs.push({ type: 'FieldValueInvalid', field: 'metadata.name', value: crd.metadata?.name ?? '', detail: 'must be spec.names.plural+"."+spec.group' });
  }
  return errs;
}

/** Builds the served resource; throws when a schema or a CEL rule cannot be compiled. */
export function resourceFromCRD(crd: KObject): ResourceType {
  const errs = crdErrors(crd);
  if (errs.length) throw new Error(`CRD ${crd.metadata?.name}: ${errs.map((e) => `${e.field}: ${e.detail ?? e.type}`).join('; ')}`);
  const spec = crd.spec;
  const names = spec.names;
  const all: CrdVersion[] = spec.versions;
  const served = all.filter((v) => v.served !== false).map((v) => v.name).sort(compareKubeVersions);
  const storage = all.find((v) => v.storage)!.name;
  const compiled = new Map<string, CompiledSchema | undefined>();
  const statusByVersion = new Map<string, boolean>();
  for (const v of all) {
    const s = v.schema?.openAPIV3Schema;
    compiled.set(v.name, s ? compileSchema(s, `CRD ${crd.metadata?.name} version ${v.name}`) : undefined);
    statusByVersion.set(v.name, v.subresources?.status !== undefined);
  }
  const rt = defineResource({
    group: spec.group,
    plural: names.plural,
    singular: names.singular ?? names.kind.toLowerCase(),
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    namespaced: spec.scope === 'Namespaced',
    versions: served,
    storageVersion: storage,
    statusSubresource: [...statusByVersion.values()].some(Boolean),
    tracksGeneration: true,
    allowUnconditionalUpdate: false,
    custom: true,
    prepareForCreate(obj) { if (statusByVersion.get(storage)) delete obj.status; },
    admit(obj, old, ctx) {
      const schema = compiled.get(ctx.version);
      if (!schema) return { errors: [], warnings: [] };
      const unknownFields = prune(obj, schema.schema);
      applyDefaults(obj, schema.schema);
      return { errors: schema.validate(obj, old), warnings: unknownFields.map((f) => `unknown field "${f}"`), unknownFields };
    },
  });
  return rt;
}

/** apiextensions.k8s.io/v1 customresourcedefinitions: registering one makes its resource served. */
export const customResourceDefinitions = defineResource({
  group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition',
  shortNames: ['crd', 'crds'], categories: ['api-extensions'], namespaced: false, statusSubresource: true,
  tracksGeneration: true,
  prepareForCreate(obj) { obj.status = {}; },
  admit(obj, _old, ctx) {
    if (ctx.subresource) return { errors: [], warnings: [] };
    const errors = crdErrors(obj);
    if (!errors.length) {
      try { resourceFromCRD(obj); } catch (err) {
        errors.push({ type: 'FieldValueInvalid', field: 'spec.versions', value: 'object', detail: (err as Error).message });
      }
    }
    return { errors, warnings: [] };
  },
});

/** The status a real apiserver reports once a CRD is served. */
export function establishedStatus(crd: KObject, now: string): KObject {
  const cond = (type: string, reason: string, message: string) => ({ type, status: 'True', lastTransitionTime: now, reason, message });
  return {
    conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
    acceptedNames: crd.spec.names,
    storedVersions: [crd.spec.versions.find((v: CrdVersion) => v.storage)?.name],
  };
}
