/**
 * What the store needs to know about one kind of resource: names for URLs, discovery and errors, and the
 * strategy hooks (defaults, validation, graceful deletion) that differ between built-ins and custom resources.
 */
import type { NameRule } from './meta.js';
import { COMMON_FIELDS, type FieldGetters } from './selectors.js';
import type { FieldError, KObject, PropagationPolicy } from './types.js';

export interface AdmitContext {
  /** The API version the request used (custom resources validate against that version's schema). */
  version: string;
  op: 'create' | 'update';
  subresource?: 'status';
}

export interface AdmitResult {
  errors: FieldError[];
  warnings: string[];
  /** Fields dropped by pruning (`spec.foo`): a warning by default, an error with fieldValidation=Strict. */
  unknownFields?: string[];
}

export interface ResourceType {
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
  storageVersion: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  statusSubresource: boolean;
  /** metadata.generation starts at 1 and is bumped by spec (non-metadata, non-status) changes. */
  tracksGeneration: boolean;
  /** PUT on a missing object creates it (events, leases). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is allowed (built-ins); custom resources require it. */
  allowUnconditionalUpdate: boolean;
  /** DELETE answers with the deleted object instead of a Status (pods). */
  returnDeletedObject: boolean;
  nameRule: NameRule;
  fieldSelectors: FieldGetters;
  custom: boolean;
  /** Propagation when DeleteOptions name none (batch/v1 Jobs orphan, for backwards compatibility). */
  defaultPropagation(version: string): PropagationPolicy;
  /** Reset fields a client may not set on create (status, for resources with a status subresource). */
  prepareForCreate?(obj: KObject): void;
  /** Defaulting, pruning and validation after the generic metadata handling. May mutate `obj`. */
  admit?(obj: KObject, old: KObject | undefined, ctx: AdmitContext): AdmitResult;
  /** Seconds of graceful deletion for this object (pods on a node); 0 or undefined deletes at once. */
  gracePeriodSeconds?(obj: KObject, requested: number | undefined): number;
}

export type ResourceSpec = Pick<ResourceType, 'group' | 'plural' | 'kind'> & Partial<ResourceType>;

/** Fills the defaults shared by most built-ins. */
export function defineResource(spec: ResourceSpec): ResourceType {
  const versions = spec.versions ?? ['v1'];
  return {
    versions,
    storageVersion: versions[0],
    singular: spec.kind.toLowerCase(),
    listKind: `${spec.kind}List`,
    namespaced: true,
    shortNames: [],
    categories: [],
    statusSubresource: false,
    tracksGeneration: false,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    returnDeletedObject: false,
    nameRule: 'subdomain',
    custom: false,
    defaultPropagation: () => 'Background',
    ...spec,
    fieldSelectors: { ...COMMON_FIELDS, ...(spec.fieldSelectors ?? {}) },
  };
}

export const apiVersionOf = (rt: ResourceType, version: string) => (rt.group ? `${rt.group}/${version}` : version);
export const groupResource = (rt: ResourceType) => ({ group: rt.group, resource: rt.plural });
export const groupKind = (rt: ResourceType) => ({ group: rt.group, kind: rt.kind });
/** `jobs.batch`, `pods`: the id used for resources in the store and in fault matching. */
export const resourceId = (rt: ResourceType) => (rt.group ? `${rt.plural}.${rt.group}` : rt.plural);
