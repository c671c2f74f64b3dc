/** The served resource types, looked up by id (`jobs.batch`), by group + plural, or by group + kind. */
import { badRequest, pathNotFound } from './status.js';
import { resourceId, type ResourceType } from './resource.js';

/** `pods`, `jobs.batch`, or `{ group, version?, resource }`. A version selects the apiVersion of results. */
export type ResourceRef = string | { group?: string; version?: string; resource: string };

export interface Resolved { rt: ResourceType; version: string }

export class Registry {
  private byId = new Map<string, ResourceType>();

  add(rt: ResourceType): void { this.byId.set(resourceId(rt), rt); }
  remove(rt: ResourceType): void { this.byId.delete(resourceId(rt)); }
  all(): ResourceType[] { return [...this.byId.values()]; }
  get(id: string): ResourceType | undefined { return this.byId.get(id); }

  find(group: string, plural: string): ResourceType | undefined {
    return this.byId.get(group ? `${plural}.${group}` : plural);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    return this.all().find((rt) => rt.group === group && rt.kind === kind);
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

  groups(): Map<string, string[]> {
    const out = new Map<string, Set<string>>();
    for (const rt of this.all()) {
      const s = out.get(rt.group) ?? new Set<string>();
      rt.versions.forEach((v) => s.add(v));
      out.set(rt.group, s);
    }
    return new Map([...out].map(([g, s]) => [g, [...s]]));
  }
}
