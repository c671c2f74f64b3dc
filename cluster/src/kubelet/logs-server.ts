/**
 * The kubelet's HTTPS API, the part `kubectl logs` needs: the API server proxies
 * GET /containerLogs/{namespace}/{pod}/{container} here (follow, tailLines, limitBytes, timestamps,
 * sinceSeconds, sinceTime), and /healthz. Only clients with a certificate from the cluster's CA get in
 * (the API server's kubelet-client certificate); this server does no further authorization.
 */
import { open } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../operator/src/log.js';
import { parseEntries, renderEntries, type LogQuery } from './log-format.js';
import type { LogSource } from './pods.js';

export interface LogsServerOptions {
  tls: { cert: string; key: string; ca: string };
  logs: (namespace: string, pod: string, container: string) => LogSource | undefined;
  log: Logger;
  /** How often a follow looks for more output. */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the file from `offset`: the complete lines (entries) and the offset after them. */
async function readFrom(file: string, offset: number): Promise<{ text: string; next: number }> {
  // No file yet: the container has not written a line.
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (!fh) return { text: '', next: offset };
  try {
    const { size } = await fh.stat();
    if (size <= offset) return { text: '', next: offset };
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    const end = buf.lastIndexOf(0x0a) + 1;
    return { text: buf.subarray(0, end).toString('utf8'), next: offset + end };
  } finally {
    await fh.close();
  }
}

export function parseLogQuery(q: URLSearchParams, now: Date): LogQuery & { follow: boolean; limitBytes?: number } {
  const int = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
    return n;
  };
  const sinceSeconds = int('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  const since = sinceSeconds !== undefined ? new Date(now.getTime() - sinceSeconds * 1000) : sinceTime ? new Date(sinceTime) : undefined;
  if (since && Number.isNaN(since.getTime())) throw new Error(`sinceTime=${sinceTime} is not an RFC 3339 time`);
  return { follow: q.get('follow') === 'true', timestamps: q.get('timestamps') === 'true', tailLines: int('tailLines'), limitBytes: int('limitBytes'), since };
}

export async function startLogsServer(o: LogsServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const pollMs = o.pollMs ?? 200;
  const server = https.createServer({ cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, `${req.method} is not supported\n`);
    if (url.pathname === '/healthz') return send(200, 'ok');
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(404, `404 page not found: ${url.pathname}\n`);
    const [namespace, pod, container] = m.slice(1).map(decodeURIComponent);
    const src = o.logs(namespace, pod, container);
    if (!src) return send(404, `pod ${namespace}/${pod} (container ${container}) is not on this node\n`);
    let q: ReturnType<typeof parseLogQuery>;
    try {
      q = parseLogQuery(url.searchParams, new Date());
    } catch (err) {
      return send(400, `${(err as Error).message}\n`);
    }
    let closed = false;
    res.on('close', () => (closed = true));
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    void (async () => {
      let left = q.limitBytes ?? Infinity;
      const write = (text: string): boolean => {
        if (text === '' || left <= 0) return left > 0;
        const buf = Buffer.from(text, 'utf8');
        const part = buf.length > left ? buf.subarray(0, left) : buf;
        left -= part.length;
        res.write(part);
        return left > 0;
      };
      let { text, next } = await readFrom(src.file, 0);
      let more = write(renderEntries(parseEntries(text), q));
      while (more && q.follow && !closed) {
        const done = src.done(); // read once more after the process is done: its last lines
        ({ text, next } = await readFrom(src.file, next));
        more = write(renderEntries(parseEntries(text), { timestamps: q.timestamps }));
        if (done) break;
        if (text === '') await sleep(pollMs);
      }
      res.end();
    })().catch((err: unknown) => {
      o.log.warn({ pod: `${namespace}/${pod}`, err: String(err) }, 'serving logs failed');
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
