/**
 * A CustomResourceDefinition (apiextensions.k8s.io/v1) -> the served resource type. CRDs are given when
 * the server starts; it neither stores nor validates them, and it does not validate custom resources
 * against their schema: `bij run` checks a job with the same rules before applying it (api/validate.ts,
 * which e2e/real-api/crd-validation.test.ts holds to the real apiserver's verdicts).
 */
import { defineResource, type ResourceType } from './resource.js';
import type { KObject } from './types.js';

interface CrdVersion { name: string; served?: boolean; storage?: boolean; subresources?: { status?: object } }

/** Builds the served resource; throws naming what is missing when the CRD cannot be served. */
export function resourceFromCRD(crd: KObject): ResourceType {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const versions: CrdVersion[] = spec.versions ?? [];
  const storage = versions.find((v) => v.storage);
  const missing = [
    !spec.group && 'spec.group', !names.plural && 'spec.names.plural', !names.kind && 'spec.names.kind',
    !storage && 'a storage version in spec.versions',
  ].filter(Boolean);
  if (missing.length) throw new Error(`CRD ${crd.metadata?.name ?? '(unnamed)'} cannot be served: it lacks ${missing.join(', ')}`);
  const statusSubresource = storage!.subresources?.status !== undefined;
  return defineResource({
    group: spec.group,
    plural: names.plural,
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    namespaced: spec.scope !== 'Cluster',
    versions: versions.filter((v) => v.served !== false).map((v) => v.name),
    storageVersion: storage!.name,
    statusSubresource,
    tracksGeneration: true,
    allowUnconditionalUpdate: false,
    custom: true,
    prepareForCreate(obj) { if (statusSubresource) delete obj.status; },
  });
}
