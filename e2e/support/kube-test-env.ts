/**
 * The real kube-apiserver for the operator's Kubernetes I/O tests (operator/src/kube/*.test.ts): one
 * control plane per test file, the BatchInferenceJob CRD installed, the operator's identity under the
 * Helm chart's own RBAC (so a rule the chart lacks fails a test), a fresh namespace for every test, and,
 * when a file asks for it, the fault proxy in front of the API server (409, 429, 500, latency, dropped
 * watches, 410 Gone) with its log of what the client did.
 *
 *   const env = useKubeTestEnv({ proxy: 'operator' });
 *   test('...', async () => {
 *     const { admin, viaProxy, namespace } = env();   // the test's own writes as the admin;
 *     await someOperatorCode(viaProxy, namespace);    // the operator's through the proxy
 *     expect(env().requests({ verb: 'patch' })).toHaveLength(1);
 *   });
 *
 * Without control-plane binaries every test fails (never skips), naming the ways to get them.
 */
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane, ControlPlaneOptions } from '../../cluster/src/control-plane/launch.js';
import { kubeConfigFor } from '../../cluster/src/control-plane/kubeconfig.js';
import { installCrd, installOperatorIdentity, OPERATOR_NAMESPACE, type OperatorIdentity } from '../../cluster/src/up/install.js';
import { buildCrd } from '../../operator/src/api/crd.js';
import { BIJ_REF, makeClients, type KubeClients } from '../../operator/src/kube/clients.js';
import { until } from '../../core/testing/until.js';
import type { LoggedRequest, RequestFilter } from '../../cluster/src/embedded/apiserver/requestlog.js';
import { startApiFaultProxy, type ApiFaultProxy } from './api-fault-proxy.js';
import { useControlPlane } from './control-plane.js';

export interface KubeTestEnvOptions {
  /** Start the fault proxy, forwarding every request upstream as the operator's ServiceAccount (its
   * RBAC applies) or as the admin (for tests of generic machinery on resources the operator may not read). */
  proxy?: 'operator' | 'admin';
  /** Test namespaces are named PREFIX-1, PREFIX-2, ... (default `t`). */
  prefix?: string;
  controlPlane?: ControlPlaneOptions;
}

export interface KubeTestEnv {
  cp: ControlPlane;
  /** The admin (system:masters), straight to the API server: what a test sets up and reads back (its
   * writes show field manager `kube-test-admin`). */
  admin: KubeClients;
  /** The operator's ServiceAccount under the chart's ClusterRole and leader Role, straight to the API server. */
  operator: KubeClients;
  identity: OperatorIdentity;
  operatorKubeConfig(namespace?: string): k8s.KubeConfig;
  /** Where the operator runs: its leader Lease lives here (the chart's leader Role is namespaced). */
  operatorNamespace: string;
  /** This test's namespace, fresh for every test. */
  namespace: string;
  /** The fault proxy (throws unless the file asked for one). */
  proxy: ApiFaultProxy;
  /** Clients through the fault proxy, as its identity. */
  viaProxy: KubeClients;
  /** The proxy's request log since this test began. */
  requests(f?: RequestFilter): LoggedRequest[];
  /** Creates (as the admin, in this test's namespace) BatchInferenceJobs whose spec the CRD's schema
   * refuses, as if stored before a schema change: the spec's schema is relaxed, the objects created, the
   * CRD put back. The API server goes on serving such objects; updates of them are judged by the
   * current schema. */
  createBeforeSchemaChange(bodies: object[]): Promise<void>;
}

type Crd = k8s.V1CustomResourceDefinition;

/** The test's own User-Agent, so managedFields tell its writes (manager `kube-test-admin`) from the
 * operator's (`bij-operator`, which makeClients sends). */
const TEST_AGENT = 'kube-test-admin/1';

function adminClients(kc: k8s.KubeConfig): KubeClients {
  const server = kc.getCurrentCluster()!.server;
  const config = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [{
      pre: (ctx) => { ctx.setHeaderParam('User-Agent', TEST_AGENT); return Promise.resolve(ctx); },
      post: (res) => Promise.resolve(res),
    }],
  });
  return {
    kc,
    custom: new k8s.CustomObjectsApi(config),
    batch: new k8s.BatchV1Api(config),
    core: new k8s.CoreV1Api(config),
    coordination: new k8s.CoordinationV1Api(config),
  };
}

/** client-node's model of a raw CRD (its serializer drops keys it does not know by their model names). */
const typed = (raw: unknown): Crd => k8s.loadYaml<Crd>(JSON.stringify(raw));

/** The CRD with any spec (or none) allowed; status and everything else as they are. */
function looseCrd(): Crd {
  const crd = buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: { required?: string[]; properties: Record<string, unknown> } } }[] } };
  for (const v of crd.spec.versions) {
    const root = v.schema.openAPIV3Schema;
    delete root.required;
    root.properties.spec = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
  return typed(crd);
}

async function createBeforeSchemaChange(admin: KubeClients, namespace: string, bodies: object[]): Promise<void> {
  if (bodies.length === 0) return;
  const api = admin.kc.makeApiClient(k8s.ApiextensionsV1Api);
  const put = async (crd: Crd) => {
    const now = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    await api.replaceCustomResourceDefinition({ name: crd.metadata!.name!, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: now.metadata?.resourceVersion } } });
  };
  // The API server takes a schema change a moment after the CRD changes: a dry run says when it has.
  // Once the object is stored, a dry run the schema lets through is refused as 409 AlreadyExists
  // (the name is checked after the schema): accepted all the same.
  const accepted = async (body: object) => {
    try {
      await admin.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace, body, dryRun: 'All' });
      return true;
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code === 422) return false;
      if (code === 409) return true;
      throw e;
    }
  };
  await put(looseCrd());
  try {
    await until('the relaxed schema to take effect', () => accepted(bodies[0]), 10_000, 50);
    for (const body of bodies) await admin.custom.createNamespacedCustomObject({ ...BIJ_REF, namespace, body });
  } finally {
    await put(typed(buildCrd()));
  }
  await until('the current schema to take effect again', async () => !(await accepted(bodies[0])), 10_000, 50);
}

export function useKubeTestEnv(o: KubeTestEnvOptions = {}): () => KubeTestEnv {
  const cp = useControlPlane(o.controlPlane);
  let base: Omit<KubeTestEnv, 'namespace' | 'proxy' | 'viaProxy' | 'requests' | 'createBeforeSchemaChange'> | undefined;
  let proxy: ApiFaultProxy | undefined;
  let viaProxy: KubeClients | undefined;
  let current: KubeTestEnv | undefined;
  let n = 0;

  beforeAll(async () => {
    const c = cp();
    const adminKc = c.kubeConfig();
    await installCrd(adminKc);
    const identity = await installOperatorIdentity(c);
    const operatorKubeConfig = (namespace?: string) =>
      kubeConfigFor({ server: c.url, caPem: c.pki.ca.cert, user: identity.user, client: identity.client, namespace });
    if (o.proxy) {
      proxy = await startApiFaultProxy(c, o.proxy === 'operator' ? identity : undefined);
      viaProxy = makeClients(proxy.kubeConfig());
    }
    base = {
      cp: c, admin: adminClients(adminKc), operator: makeClients(operatorKubeConfig()), identity, operatorKubeConfig,
      operatorNamespace: OPERATOR_NAMESPACE,
    };
  }, 60_000);

  beforeEach(async () => {
    if (!base) throw new Error('the Kubernetes test environment did not start (see the first failure of this file)');
    const namespace = `${o.prefix ?? 't'}-${++n}`;
    await base.admin.core.createNamespace({ body: { metadata: { name: namespace } } });
    const since = proxy?.requestLog.at(-1)?.seq ?? 0;
    const p = proxy;
    current = {
      ...base,
      namespace,
      get proxy(): ApiFaultProxy {
        if (!p) throw new Error('this test file started no fault proxy: useKubeTestEnv({ proxy: "operator" })');
        return p;
      },
      get viaProxy(): KubeClients {
        if (!viaProxy) throw new Error('this test file started no fault proxy: useKubeTestEnv({ proxy: "operator" })');
        return viaProxy;
      },
      createBeforeSchemaChange: (bodies) => createBeforeSchemaChange(base!.admin, namespace, bodies),
      requests: (f) => {
        if (!p) throw new Error('this test file started no fault proxy, so no request log: useKubeTestEnv({ proxy: "operator" })');
        return p.requests(f).filter((r) => r.seq > since);
      },
    };
  });

  afterEach(() => {
    // Faults and compaction are per test; what a test left open (watches) is its own to stop.
    proxy?.faults.clear();
    if (proxy) proxy.faults.compactedRv = 0;
    current = undefined;
  });

  afterAll(async () => {
    await proxy?.close();
  });

  return () => {
    if (!current) throw new Error('the Kubernetes test environment is only there inside a test');
    return current;
  };
}
