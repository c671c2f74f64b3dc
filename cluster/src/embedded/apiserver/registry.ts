/** The served resource types, looked up by id (`jobs.batch`) or by group + plural. */
import { badRequest, pathNotFound } from './status.js';
import { resourceId, type ResourceType } from './resource.js';

/** `pods`, `jobs.batch`, or `{ group, version?, resource }`. A version selects the apiVersion of results. */
export type ResourceRef = string | { group?: string; version?: string; resource: string };

export interface Resolved { rt: ResourceType; version: string }

export class Registry {
  private byId = new Map<string, ResourceType>();

  add(rt: ResourceType): void { this.byId.set(resourceId(rt), rt); }

  find(group: string, plural: string): ResourceType | undefined {
    return this.byId.get(group ? `${plural}.${group}` : plural);
  }

  resolve(ref: ResourceRef): Resolved {
    let group: string; let plural: string; let version: string | undefined;
    if (typeof ref === 'string') {
      const dot = ref.indexOf('.');
      plural = dot < 0 ? ref : ref.slice(0, dot);
      group = dot < 0 ? '' : ref.slice(dot + 1);
    } else {
      group = ref.group ?? ''; plural = ref.resource; version = ref.version;
    }
    const rt = this.find(group, plural);
    if (!rt) throw pathNotFound();
    if (version && !rt.versions.includes(version)) throw badRequest(`version ${version} of ${resourceId(rt)} is not served`);
    return { rt, version: version ?? rt.storageVersion };
  }
}
