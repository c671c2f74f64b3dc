/**
 * startApiServer: the embedded Kubernetes API server behind `bij run`. The unmodified
 * @kubernetes/client-node talks to it through `kubeConfig()`; in-process code may use `store` directly.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { BUILTINS } from './builtins.js';
import { resourceFromCRD } from './crd.js';
import { Faults } from './faults.js';
import { GarbageCollector } from './gc.js';
import { createHttpServer } from './http.js';
import { kubeconfigYaml, makeKubeConfig } from './kubeconfig.js';
import { RequestLog, type LoggedRequest, type RequestFilter } from './requestlog.js';
import { Store, type StoreOptions } from './store.js';
import type { KObject } from './types.js';

export interface ApiServerOptions extends StoreOptions {
  /** CustomResourceDefinition objects (apiextensions.k8s.io/v1) whose resources are served. */
  crds?: KObject[];
  /** 0 (default) picks a free port. The server listens on 127.0.0.1 only. */
  port?: number;
  /** Bearer token clients must send (default: random). '' disables authentication. */
  token?: string;
  /** Delay of the asynchronous garbage collector after a write (default 5 ms); false disables it. */
  gc?: false | { delayMs?: number };
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
  close(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const store = new Store(opts);
  for (const rt of BUILTINS) store.register(rt);
  for (const crd of opts.crds ?? []) store.register(resourceFromCRD(crd));
  const gc = opts.gc === false ? undefined : new GarbageCollector(store, opts.gc?.delayMs);

  const token = opts.token ?? randomBytes(16).toString('hex');
  const faults = new Faults(store);
  const log = new RequestLog(opts.requestLogSize);
  const server = createHttpServer({ store, faults, log, token });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url, port, token, store, faults, gc,
    get requestLog() { return log.all(); },
    requests: (filter) => log.find(filter),
    kubeConfig: (ns) => makeKubeConfig(url, token, ns),
    kubeConfigYaml: (ns) => kubeconfigYaml(url, token, ns),
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
