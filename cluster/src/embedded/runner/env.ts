/** Resolves a container's env and envFrom the way the kubelet does, from Secrets and ConfigMaps. */
import type * as k8s from '@kubernetes/client-node';

export interface EnvSources {
  secret(namespace: string, name: string): Promise<k8s.V1Secret | undefined>;
  configMap(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined>;
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

export async function resolveEnv(container: k8s.V1Container, namespace: string, src: EnvSources): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.secretRef?.name) {
      const s = await src.secret(namespace, from.secretRef.name);
      if (!s && !from.secretRef.optional) throw new Error(`secret "${from.secretRef.name}" not found (envFrom of container ${container.name})`);
      for (const [k, v] of Object.entries(s?.data ?? {})) out[prefix + k] = decode(v);
      for (const [k, v] of Object.entries(s?.stringData ?? {})) out[prefix + k] = v;
    }
    if (from.configMapRef?.name) {
      const c = await src.configMap(namespace, from.configMapRef.name);
      if (!c && !from.configMapRef.optional) throw new Error(`configmap "${from.configMapRef.name}" not found (envFrom of container ${container.name})`);
      for (const [k, v] of Object.entries(c?.data ?? {})) out[prefix + k] = v;
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => out[n] ?? m);
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const s = await src.secret(namespace, ref.name ?? '');
      const v = s?.data?.[ref.key] !== undefined ? decode(s.data[ref.key]) : s?.stringData?.[ref.key];
      if (v === undefined && !ref.optional) throw new Error(`secret key ${ref.name}/${ref.key} not found (env ${e.name})`);
      if (v !== undefined) out[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const c = await src.configMap(namespace, ref.name ?? '');
      const v = c?.data?.[ref.key];
      if (v === undefined && !ref.optional) throw new Error(`configmap key ${ref.name}/${ref.key} not found (env ${e.name})`);
      if (v !== undefined) out[e.name] = v;
    } else out[e.name] = '';
  }
  return out;
}
