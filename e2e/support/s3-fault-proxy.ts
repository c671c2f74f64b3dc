/**
 * A tiny HTTP proxy on 127.0.0.1 that injects faults in front of an S3 endpoint, for retry tests.
 * Each rule matches requests (method, path, query) and acts on the first `times` of them; later
 * requests, and those no rule matches, pass through untouched (the Host header included, so request
 * signatures still hold).
 *
 *   const proxy = await startS3FaultProxy(server.endpoint, [{ method: 'GET', action: 'slowdown', times: 2 }]);
 *   const storage = new S3Storage(s3OptionsFor(proxy, { retryBaseMs: 1 }));
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  /** 503 with S3's SlowDown error XML. */
  | 'slowdown'
  /** Any status with an S3 error XML (`status`, `code`, `message`). */
  | 'error'
  /** Destroy the client's connection without answering. */
  | 'reset'
  /** Forward, answer with the real status and headers, then cut the connection halfway through the body. */
  | 'truncate'
  /** Forward, let the server act on the request, then cut the connection instead of answering:
   * the request took effect but the client never heard. */
  | 'lose-response'
  /** Wait `delayMs`, then forward. */
  | 'delay'
  /** Wait `delayMs` (long), never answer: for client timeouts. The connection is dropped on stop(). */
  | 'hang';

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Matched against the request path (URL-encoded, without the query): a substring or a RegExp. */
  path?: string | RegExp;
  /** A query parameter that must be present, e.g. 'uploadId', 'partNumber', 'list-type'. */
  query?: string;
  action: FaultAction;
  /** Act on this many matching requests, then let them through. Default: 1. Infinity: always. */
  times?: number;
  delayMs?: number;
  status?: number;
  code?: string;
  message?: string;
}

export interface FaultLogEntry {
  method: string;
  url: string;
  /** The action taken, or 'pass'. */
  action: FaultAction | 'pass';
  /** The status the client was answered with (the server's, for requests forwarded), once known. */
  status?: number;
}

export interface S3FaultProxy {
  endpoint: string;
  port: number;
  /** Every request seen, in order. */
  log: FaultLogEntry[];
  /** How often each rule has fired so far. */
  fired(ruleIndex: number): number;
  /** Replaces the rules (and resets their counters). */
  setRules(rules: FaultRule[]): void;
  stop(): Promise<void>;
}

const errorXml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;

export async function startS3FaultProxy(target: string, rules: FaultRule[] = []): Promise<S3FaultProxy> {
  const upstream = new URL(target);
  let current = rules;
  let counts = current.map(() => 0);
  const log: FaultLogEntry[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const pick = (req: http.IncomingMessage): FaultRule | undefined => {
    const url = new URL(req.url ?? '/', 'http://x');
    for (let i = 0; i < current.length; i++) {
      const r = current[i];
      if (r.method && r.method.toUpperCase() !== req.method) continue;
      if (r.path !== undefined && !(typeof r.path === 'string' ? url.pathname.includes(r.path) : r.path.test(url.pathname))) continue;
      if (r.query !== undefined && !url.searchParams.has(r.query)) continue;
      if (counts[i] >= (r.times ?? 1)) continue;
      counts[i]++;
      return r;
    }
    return undefined;
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, entry: FaultLogEntry, truncate: boolean, lose = false): void => {
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        entry.status = upRes.statusCode;
        if (lose) {
          upRes.resume();
          upRes.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.headers);
        if (!truncate) {
          upRes.pipe(res);
          return;
        }
        const total = Number(upRes.headers['content-length'] ?? 0);
        const half = Math.floor(total / 2);
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= half) return;
          const part = chunk.subarray(0, half - sent);
          sent += part.length;
          res.write(part);
          if (sent >= half) {
            upRes.destroy();
            // let the half body reach the client, then cut the connection
            setTimeout(() => res.socket?.destroy(), 10);
          }
        });
        upRes.on('end', () => res.socket?.destroy());
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  };

  const server = http.createServer((req, res) => {
    const rule = pick(req);
    const entry: FaultLogEntry = { method: req.method ?? '', url: req.url ?? '', action: rule?.action ?? 'pass' };
    log.push(entry);
    if (!rule) return forward(req, res, entry, false);
    switch (rule.action) {
      case 'slowdown':
      case 'error': {
        const status = rule.action === 'slowdown' ? 503 : (rule.status ?? 500);
        const code = rule.code ?? (rule.action === 'slowdown' ? 'SlowDown' : 'InternalError');
        const message = rule.message ?? (rule.action === 'slowdown' ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.');
        // read the request body first, so the client is not cut off mid-upload
        req.resume();
        req.on('end', () => {
          const body = errorXml(code, message);
          entry.status = status;
          res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
        });
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'truncate':
        return forward(req, res, entry, true);
      case 'lose-response':
        return forward(req, res, entry, false, true);
      case 'delay':
        setTimeout(() => forward(req, res, entry, false), rule.delayMs ?? 100);
        return;
      case 'hang':
        req.resume();
        return;
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    log,
    fired: (i) => counts[i] ?? 0,
    setRules(next) {
      current = next;
      counts = next.map(() => 0);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
