/**
 * What the store needs to know about one kind of resource: names for URLs and errors, and the strategy
 * hooks (defaults, graceful deletion) that differ between built-ins and custom resources.
 */
import type { KObject } from './types.js';

export interface AdmitContext {
  op: 'create' | 'update';
  subresource?: 'status';
}

export interface ResourceType {
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
  storageVersion: string;
  plural: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  statusSubresource: boolean;
  /** metadata.generation starts at 1 and is bumped by spec (non-metadata, non-status) changes. */
  tracksGeneration: boolean;
  /** PUT on a missing object creates it (events). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is allowed (built-ins); custom resources require it. */
  allowUnconditionalUpdate: boolean;
  /** DELETE answers with the deleted object instead of a Status (pods). */
  returnDeletedObject: boolean;
  custom: boolean;
  /** Reset fields a client may not set on create (status, for resources with a status subresource). */
  prepareForCreate?(obj: KObject): void;
  /** Defaulting after the generic metadata handling. May mutate `obj`. */
  admit?(obj: KObject, old: KObject | undefined, ctx: AdmitContext): void;
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
    listKind: `${spec.kind}List`,
    namespaced: true,
    statusSubresource: false,
    tracksGeneration: false,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    returnDeletedObject: false,
    custom: false,
    ...spec,
  };
}

export const apiVersionOf = (rt: ResourceType, version: string) => (rt.group ? `${rt.group}/${version}` : version);
export const groupResource = (rt: ResourceType) => ({ group: rt.group, resource: rt.plural });
export const groupKind = (rt: ResourceType) => ({ group: rt.group, kind: rt.kind });
/** `jobs.batch`, `pods`: the id used for resources in the store and in fault matching. */
export const resourceId = (rt: ResourceType) => (rt.group ? `${rt.plural}.${rt.group}` : rt.plural);
