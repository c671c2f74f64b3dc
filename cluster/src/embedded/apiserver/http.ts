/** The HTTP front: bearer-token auth, fault injection, the request log, then resource routes (no discovery: client-node's typed APIs need none). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Faults } from './faults.js';
import { parseRequest } from './requestinfo.js';
import type { LoggedRequest, RequestLog } from './requestlog.js';
import { handleResource, handleWatch, type Reply } from './routes.js';
import { ApiError, internalError, pathNotFound, unauthorized } from './status.js';
import type { Store } from './store.js';

export interface HttpDeps { store: Store; faults: Faults; log: RequestLog; token: string }

const PUBLIC = new Set(['/healthz', '/livez', '/readyz']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, entry: LoggedRequest | undefined, r: Reply): void {
  if (res.headersSent) { res.end(); return; }
  const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  if (entry) {
    entry.status = r.code;
    const reason = (r.body as { reason?: unknown } | undefined)?.reason;
    if (r.code >= 400 && typeof reason === 'string') entry.reason = reason;
  }
  res.writeHead(r.code, {
    'Content-Type': typeof r.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache, private',
    ...(r.headers ?? {}),
  });
  res.end(body);
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const info = parseRequest(method, url.pathname, url.searchParams);
  const entry = deps.log.add(method, url, info, req.headers['content-type']);
  try {
    const raw = await readBody(req);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (PUBLIC.has(path)) { send(res, entry, { code: 200, body: 'ok' }); return; }
    if (deps.token && req.headers.authorization !== `Bearer ${deps.token}`) throw unauthorized();
    const fault = deps.faults.decide(info);
    if (fault.latencyMs) await sleep(fault.latencyMs);
    if (fault.error) throw fault.error;
    if (!info.isResource) throw pathNotFound();
    if (info.verb === 'watch') {
      handleWatch(deps.store, info, res, url, () => { entry.status = 200; });
      return;
    }
    send(res, entry, handleResource(deps.store, info, req, url, raw));
  } catch (err) {
    const e = err instanceof ApiError ? err : internalError((err as Error)?.message ?? String(err));
    if (!(err instanceof ApiError)) console.error('embedded apiserver: unexpected error', err);
    send(res, entry, { code: e.status.code, body: e.status, headers: e.headers });
  }
}

export function createHttpServer(deps: HttpDeps): Server {
  const server = createServer((req, res) => { void handle(deps, req, res); });
  server.keepAliveTimeout = 5_000;
  return server;
}
