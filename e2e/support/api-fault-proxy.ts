/**
 * A fault proxy in front of the real kube-apiserver: clients talk HTTPS to the proxy (its certificate is
 * signed by the cluster CA, so kubeconfigs need no flags), the proxy forwards every request to the API
 * server as one fixed identity (default: the admin) and can, per matching request, answer an error
 * instead (409, 429 with Retry-After, 500, 503), add latency, end open watches gracefully or abruptly,
 * and make watches resumed from an older resourceVersion see 410 Gone (an ERROR event, as the real
 * server sends when its history was compacted). The request log records what clients did.
 *
 * Same fault and log vocabulary as the embedded server (cluster/src/embedded/apiserver/faults.ts), so a
 * test reads the same against either.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ControlPlane } from '../../cluster/src/control-plane/launch.js';
import { kubeConfigFor, kubeconfigYaml } from '../../cluster/src/control-plane/kubeconfig.js';
import { ADMIN_USER, type KeyPair } from '../../cluster/src/control-plane/pki.js';
import { FaultRules } from '../../cluster/src/embedded/apiserver/faults.js';
import { parseRequest } from '../../cluster/src/embedded/apiserver/requestinfo.js';
import { RequestLog, type LoggedRequest, type RequestFilter } from '../../cluster/src/embedded/apiserver/requestlog.js';
import { failure } from '../../cluster/src/embedded/apiserver/status.js';

type CloseMode = 'graceful' | 'abrupt';

interface OpenWatch {
  resource?: string;
  res: http.ServerResponse;
  upstream: http.ClientRequest;
}

export class ProxyFaults extends FaultRules {
  /** Watches from a resourceVersion at or below this get 410 Gone. */
  compactedRv = 0;
  /** The highest resourceVersion seen in any response: what "now" is. */
  latestRv = 0;

  constructor(private readonly watches: Set<OpenWatch>) { super(); }

  /** Ends open watches: 'graceful' like a server-side timeout (clients resume), 'abrupt' as a reset connection. */
  dropWatches(opts: { mode?: CloseMode; resource?: string } = {}): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (opts.resource && w.resource !== opts.resource) continue;
      n++;
      this.watches.delete(w);
      w.upstream.destroy();
      if ((opts.mode ?? 'graceful') === 'abrupt') w.res.socket?.destroy();
      else w.res.end();
    }
    return n;
  }

  /** From now on, a watch resumed from any resourceVersion seen so far gets 410 Gone. */
  compactHistory(): void {
    this.compactedRv = this.latestRv;
  }
}

export interface ApiFaultProxy {
  url: string;
  faults: ProxyFaults;
  requestLog: LoggedRequest[];
  requests(f?: RequestFilter): LoggedRequest[];
  /** A client of the proxy (authenticated upstream as the proxy's identity). */
  kubeConfig(namespace?: string): KubeConfig;
  kubeconfigYaml(namespace?: string): string;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the proxy on a free loopback port; upstream as `as` (default: the admin). */
export async function startApiFaultProxy(cp: ControlPlane, as: { user: string; client: KeyPair } = { user: ADMIN_USER, client: cp.pki.admin }): Promise<ApiFaultProxy> {
  const upstream = new URL(cp.url);
  const agent = new https.Agent({ keepAlive: true, ca: cp.pki.ca.cert, cert: as.client.cert, key: as.client.key });
  const watches = new Set<OpenWatch>();
  const faults = new ProxyFaults(watches);
  const log = new RequestLog();
  const noteRv = (body: string): void => {
    for (const m of body.matchAll(/"resourceVersion":"(\d+)"/g)) faults.latestRv = Math.max(faults.latestRv, Number(m[1]));
  };

  const server = https.createServer({ cert: cp.pki.apiserver.cert, key: cp.pki.apiserver.key }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://proxy');
      const info = parseRequest(req.method ?? 'GET', url.pathname, url.searchParams);
      const entry = log.add(req.method ?? 'GET', url, info, req.headers['content-type']);
      const decision = info.isResource ? faults.decide(info) : { latencyMs: 0 };
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.error) {
        entry.status = decision.error.status.code;
        entry.reason = decision.error.status.reason;
        req.resume();
        res.writeHead(decision.error.status.code, { 'Content-Type': 'application/json', ...decision.error.headers });
        res.end(JSON.stringify(decision.error.status));
        return;
      }
      const rv = Number(url.searchParams.get('resourceVersion') ?? '0');
      if (info.verb === 'watch' && rv > 0 && rv <= faults.compactedRv) {
        entry.status = 200;
        entry.reason = 'Expired';
        req.resume();
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const gone = failure(410, 'Expired', `too old resource version: ${rv} (${faults.compactedRv + 1})`);
        res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
        return;
      }
      const headers = { ...req.headers, host: upstream.host };
      delete headers.authorization;
      const up = https.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
        entry.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.flushHeaders();
        if (info.verb === 'watch') {
          const w: OpenWatch = { resource: info.resource, res, upstream: up };
          watches.add(w);
          res.once('close', () => {
            watches.delete(w);
            up.destroy();
          });
        }
        upRes.on('data', (d: Buffer) => {
          if (d.length < 1 << 20) noteRv(d.toString('utf8'));
          res.write(d);
        });
        upRes.on('end', () => res.end());
        upRes.on('error', () => res.destroy());
      });
      up.on('error', () => {
        if (!res.headersSent) {
          res.writeHead(502, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(failure(502, 'BadGateway', 'the fault proxy could not reach the API server')));
        } else res.destroy();
      });
      req.pipe(up);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const id = { server: url, caPem: cp.pki.ca.cert, user: as.user, client: as.client };
  return {
    url,
    faults,
    get requestLog() {
      return log.all();
    },
    requests: (f) => log.find(f),
    kubeConfig: (namespace) => kubeConfigFor({ ...id, namespace }),
    kubeconfigYaml: (namespace?: string) => kubeconfigYaml({ ...id, namespace }),
    close: async () => {
      faults.dropWatches({ mode: 'abrupt' });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
