/**
 * startApiServer: the embedded Kubernetes API server for local mode and tests. The unmodified
 * @kubernetes/client-node talks to it through `kubeConfig()`; in-process code may use `store` directly.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { BUILTINS } from './builtins.js';
import { customResourceDefinitions, establishedStatus, resourceFromCRD } from './crd.js';
import { Faults } from './faults.js';
import { GarbageCollector } from './gc.js';
import { createHttpServer } from './http.js';
import { kubeconfigYaml, makeKubeConfig } from './kubeconfig.js';
import { rfc3339 } from './meta.js';
import { RequestLog, type LoggedRequest, type RequestFilter } from './requestlog.js';
import { resourceId } from './resource.js';
import { Store, type StoreOptions } from './store.js';
import type { KObject } from './types.js';

export interface ApiServerOptions extends StoreOptions {
  /** CustomResourceDefinition objects (apiextensions.k8s.io/v1), e.g. parsed from crds/*.yaml. */
  crds?: KObject[];
  /** 0 (default) picks a free port. The server listens on 127.0.0.1 only. */
  port?: number;
  /** Bearer token clients must send (default: random). '' disables authentication. */
  token?: string;
  /** Delay of the asynchronous garbage collector after a write (default 5 ms); false disables it. */
  gc?: false | { delayMs?: number };
  /** Namespace objects to create at start (default: default, kube-system). Any namespace name works regardless. */
  namespaces?: string[];
  requestLogSize?: number;
}

export interface ApiServer {
  url: string;
  port: number;
  token: string;
  store: Store;
  faults: Faults;
  gc: GarbageCollector | undefined;
  /** Every HTTP request answered so far (bounded). */
  readonly requestLog: LoggedRequest[];
  requests(filter?: RequestFilter): LoggedRequest[];
  kubeConfig(namespace?: string): KubeConfig;
  kubeConfigYaml(namespace?: string): string;
  /** Serves a CRD's resource (same as POSTing it to /apis/apiextensions.k8s.io/v1/customresourcedefinitions). */
  registerCRD(crd: KObject): KObject;
  close(): Promise<void>;
}

/** Keeps served resources in step with stored CRD objects, and marks new ones Established. */
function watchCRDs(store: Store): void {
  store.onCommit((rt, ev) => {
    if (rt !== customResourceDefinitions) return;
    const crd = ev.object;
    if (ev.type === 'DELETED') {
      store.unregister(`${crd.spec.names.plural}.${crd.spec.group}`);
      return;
    }
    const served = resourceFromCRD(crd);
    const previous = ev.prev && `${ev.prev.spec.names.plural}.${ev.prev.spec.group}`;
    if (previous && previous !== resourceId(served)) store.unregister(previous);
    store.register(served);
    if (!crd.status?.conditions?.length) {
      queueMicrotask(() => {
        try {
          const cur = store.get('customresourcedefinitions.apiextensions.k8s.io', undefined, crd.metadata!.name!);
          store.update('customresourcedefinitions.apiextensions.k8s.io', { ...cur, status: establishedStatus(cur, rfc3339(store.now())) }, { subresource: 'status' });
        } catch { /* deleted meanwhile */ }
      });
    }
  });
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const store = new Store(opts);
  for (const rt of BUILTINS) store.register(rt);
  store.register(customResourceDefinitions);
  watchCRDs(store);
  const CRD_ID = 'customresourcedefinitions.apiextensions.k8s.io';
  const registerCRD = (crd: KObject) => {
    resourceFromCRD(crd); // throws a descriptive Error for unsupported schemas or CEL rules
    const { metadata, ...rest } = crd;
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...meta } = metadata ?? {};
    return store.create(CRD_ID, { ...rest, metadata: meta });
  };
  for (const crd of opts.crds ?? []) registerCRD(crd);
  for (const ns of opts.namespaces ?? ['default', 'kube-system']) store.create('namespaces', { metadata: { name: ns } });
  const gc = opts.gc === false ? undefined : new GarbageCollector(store, opts.gc?.delayMs);

  const token = opts.token ?? randomBytes(16).toString('hex');
  const faults = new Faults(store);
  const log = new RequestLog(opts.requestLogSize);
  let address = '127.0.0.1:0';
  const server = createHttpServer({ store, faults, log, token, address: () => address });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `http://${address}`;

  return {
    url, port, token, store, faults, gc,
    get requestLog() { return log.all(); },
    requests: (filter) => log.find(filter),
    kubeConfig: (ns) => makeKubeConfig(url, token, ns),
    kubeConfigYaml: (ns) => kubeconfigYaml(url, token, ns),
    registerCRD,
    async close() {
      gc?.stop();
      store.hub.dropAll('graceful');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
