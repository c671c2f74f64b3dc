/** Discovery documents: /version, /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>. */
import { compareKubeVersions } from './crd.js';
import type { Registry } from './registry.js';
import type { ResourceType } from './resource.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const KUBE_VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.0-bij-local' };

export function versionInfo(): Record<string, string> {
  return {
    ...KUBE_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2024-08-13T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'embedded',
    platform: `${process.platform}/${process.arch}`,
  };
}

export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(name: string, versions: string[]) {
  const sorted = [...versions].sort(compareKubeVersions);
  const gv = (v: string) => ({ groupVersion: `${name}/${v}`, version: v });
  return { name, versions: sorted.map(gv), preferredVersion: gv(sorted[0]) };
}

export function apiGroupList(reg: Registry) {
  const groups = [...reg.groups()].filter(([g]) => g !== '').map(([g, vs]) => groupDoc(g, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroup(reg: Registry, group: string) {
  const vs = reg.groups().get(group);
  return vs && group ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, vs) } : undefined;
}

export function apiResourceList(reg: Registry, group: string, version: string) {
  const rts = reg.all().filter((rt) => rt.group === group && rt.versions.includes(version));
  if (!rts.length) return undefined;
  const resources = rts.flatMap((rt: ResourceType) => {
    const main = {
      name: rt.plural, singularName: rt.singular, namespaced: rt.namespaced, kind: rt.kind, verbs: VERBS,
      ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories.length ? { categories: rt.categories } : {}),
    };
    return rt.statusSubresource
      ? [main, { name: `${rt.plural}/status`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: ['get', 'patch', 'update'] }]
      : [main];
  });
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
