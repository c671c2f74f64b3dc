/**
 * What `bij up` (and the tests) install on a fresh control plane: the BatchInferenceJob and
 * BatchInferenceSchedule CRDs, and the operator's identity as the Helm chart makes it: namespace,
 * ServiceAccount, the chart's ClusterRole and leader-election Role with their bindings. The operator authenticates as that ServiceAccount's user
 * with a client certificate from the cluster CA, so RBAC judges it exactly as in a cluster.
 */
import * as k8s from '@kubernetes/client-node';
import { renderCrdYaml } from '../../../operator/src/api/crd.js';
import { renderScheduleCrdYaml } from '../../../operator/src/api/schedule-crd.js';
import type { ControlPlane } from '../control-plane/launch.js';
import { issueClientCert, type KeyPair } from '../control-plane/pki.js';
import { chartRbac } from './chart-rbac.js';

export const OPERATOR_NAMESPACE = 'bij-system';
export const OPERATOR_NAME = 'bij-operator';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (e: unknown): number | undefined => (e as { code?: number }).code;

/** Creates the object, or replaces it when it exists (a restart with kept data). */
async function upsert<T extends { metadata?: k8s.V1ObjectMeta }>(
  create: () => Promise<T>, read: () => Promise<T>, replace: (body: T) => Promise<T>, body: T,
): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (code(e) !== 409) throw e;
    const now = await read();
    await replace({ ...body, metadata: { ...body.metadata, resourceVersion: now.metadata?.resourceVersion } });
  }
}

/** The operator's CRDs: BatchInferenceJob and BatchInferenceSchedule. */
export const OPERATOR_CRDS = (): string[] => [renderCrdYaml(), renderScheduleCrdYaml()];

/** Installs (or replaces) every CRD of the operator and waits until each is Established. */
export async function installCrd(kc: k8s.KubeConfig, timeoutMs = 30_000): Promise<void> {
  for (const text of OPERATOR_CRDS()) await installOneCrd(kc, text, timeoutMs);
}

async function installOneCrd(kc: k8s.KubeConfig, text: string, timeoutMs: number): Promise<void> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  // The typed client serializes V1JSONSchemaProps by their TypeScript names: a plain object's
  // `x-kubernetes-validations` (or -preserve-unknown-fields, -list-type) under `properties` would be
  // dropped on the way out. loadYaml deserializes into those names, so the CRD arrives whole.
  const crd = k8s.loadYaml<k8s.V1CustomResourceDefinition>(text);
  const name = crd.metadata!.name!;
  await upsert(
    () => api.createCustomResourceDefinition({ body: crd }),
    () => api.readCustomResourceDefinition({ name }),
    (body) => api.replaceCustomResourceDefinition({ name, body }),
    crd,
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await api.readCustomResourceDefinition({ name });
    const cond = (t: string) => now.status?.conditions?.find((c) => c.type === t);
    if (cond('Established')?.status === 'True') return;
    const refused = now.status?.conditions?.find((c) => (c.type === 'NonStructuralSchema' && c.status === 'True') || (c.type === 'NamesAccepted' && c.status === 'False'));
    if (refused) throw new Error(`the API server did not accept CRD ${name}: ${refused.type}: ${refused.message}`);
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(now.status?.conditions)}`);
    await sleep(100);
  }
}

export interface OperatorIdentity {
  /** `system:serviceaccount:NS:bij-operator` */
  user: string;
  client: KeyPair;
  /** A kubeconfig (YAML) for that user, straight to the API server. */
  kubeconfig: string;
}

/** Namespace, ServiceAccount and the chart's RBAC, and a client certificate for the ServiceAccount's user. */
export async function installOperatorIdentity(cp: ControlPlane, namespace = OPERATOR_NAMESPACE): Promise<OperatorIdentity> {
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const rules = chartRbac();
  const labels = { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/managed-by': 'bij-up' };
  const meta = (extra: Partial<k8s.V1ObjectMeta> = {}): k8s.V1ObjectMeta => ({ name: OPERATOR_NAME, labels, ...extra });
  const subject: k8s.RbacV1Subject = { kind: 'ServiceAccount', name: OPERATOR_NAME, namespace };

  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((e) => (code(e) === 409 ? undefined : Promise.reject(e)));
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: meta({ namespace }) } })
    .catch((e) => (code(e) === 409 ? undefined : Promise.reject(e)));
  const clusterRole: k8s.V1ClusterRole = { metadata: meta(), rules: rules.operatorRules };
  await upsert(() => rbac.createClusterRole({ body: clusterRole }), () => rbac.readClusterRole({ name: OPERATOR_NAME }),
    (body) => rbac.replaceClusterRole({ name: OPERATOR_NAME, body }), clusterRole);
  const crb: k8s.V1ClusterRoleBinding = { metadata: meta(), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME }, subjects: [subject] };
  await upsert(() => rbac.createClusterRoleBinding({ body: crb }), () => rbac.readClusterRoleBinding({ name: OPERATOR_NAME }),
    (body) => rbac.replaceClusterRoleBinding({ name: OPERATOR_NAME, body }), crb);
  const leaderName = `${OPERATOR_NAME}-leader`;
  const role: k8s.V1Role = { metadata: meta({ name: leaderName, namespace }), rules: rules.leaderRules };
  await upsert(() => rbac.createNamespacedRole({ namespace, body: role }), () => rbac.readNamespacedRole({ namespace, name: leaderName }),
    (body) => rbac.replaceNamespacedRole({ namespace, name: leaderName, body }), role);
  const rb: k8s.V1RoleBinding = { metadata: meta({ name: leaderName, namespace }), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leaderName }, subjects: [subject] };
  await upsert(() => rbac.createNamespacedRoleBinding({ namespace, body: rb }), () => rbac.readNamespacedRoleBinding({ namespace, name: leaderName }),
    (body) => rbac.replaceNamespacedRoleBinding({ namespace, name: leaderName, body }), rb);

  const user = `system:serviceaccount:${namespace}:${OPERATOR_NAME}`;
  const client = await issueClientCert(cp.pki.ca, user, ['system:serviceaccounts', `system:serviceaccounts:${namespace}`]);
  return { user, client, kubeconfig: cp.kubeconfigFor(user, client) };
}
