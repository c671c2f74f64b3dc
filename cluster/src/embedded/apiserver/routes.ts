/** Resource requests -> store calls, with the apiserver's status codes and response bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import { PATCH_CONTENT_TYPES } from './patch.js';
import type { RequestInfo } from './requestinfo.js';
import { groupResource } from './resource.js';
import { ApiError, badRequest, methodNotAllowed, pathNotFound, success, unsupportedMediaType } from './status.js';
import type { Store, WriteOptions } from './store.js';
import type { DeleteOptions, KObject, PropagationPolicy } from './types.js';
import { isPlainObject } from './util.js';

export interface Reply { code: number; body: unknown; headers?: Record<string, string | string[]> }

const mediaType = (req: IncomingMessage) => (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

export function parseBody(raw: string, contentType: string): unknown {
  if (!raw.trim()) return undefined;
  try {
    if (contentType.includes('yaml')) return YAML.parse(raw);
    return JSON.parse(raw);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

const NOT_HERE = (what: string) => badRequest(`${what} is not supported by the embedded API server of bij run; the real control plane (bij up) serves it`);

function writeOptions(q: URLSearchParams, info: RequestInfo): WriteOptions {
  if (q.getAll('dryRun').length) throw NOT_HERE('dryRun');
  return { namespace: info.namespace, name: info.name, subresource: info.subresource === 'status' ? 'status' : undefined };
}

function deleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const b = isPlainObject(body) ? body : {};
  if (q.getAll('dryRun').length || b.dryRun !== undefined) throw NOT_HERE('dryRun');
  if (q.get('orphanDependents') !== null || b.orphanDependents !== undefined) throw NOT_HERE('orphanDependents');
  if (b.preconditions !== undefined) throw NOT_HERE('a delete with preconditions');
  const grace = q.get('gracePeriodSeconds');
  return {
    propagationPolicy: (q.get('propagationPolicy') ?? b.propagationPolicy ?? undefined) as PropagationPolicy | undefined,
    gracePeriodSeconds: grace !== null ? Number(grace) : (b.gracePeriodSeconds as number | undefined),
  };
}

export function handleResource(store: Store, info: RequestInfo, req: IncomingMessage, url: URL, raw: string): Reply {
  const q = url.searchParams;
  if (!info.resource) throw pathNotFound();
  const rt = store.registry.find(info.group, info.resource);
  if (!rt || !rt.versions.includes(info.version)) throw pathNotFound();
  if (info.subresource && !(info.subresource === 'status' && rt.statusSubresource)) throw pathNotFound();
  if (info.subresource && !['get', 'update', 'patch'].includes(info.verb)) throw methodNotAllowed(info.verb, groupResource(rt));
  if (rt.namespaced && !info.namespace && !['list', 'watch', 'deletecollection'].includes(info.verb)) throw pathNotFound();
  const ref = { group: rt.group, version: info.version, resource: rt.plural };
  const ns = rt.namespaced ? info.namespace : undefined;
  const reply = (code: number, body: unknown): Reply => ({ code, body });
  const ct = mediaType(req);

  switch (info.verb) {
    case 'get': return reply(200, store.get(ref, ns, info.name!));
    case 'list':
      if (q.get('limit') || q.get('continue')) throw NOT_HERE('paging (limit, continue)');
      return reply(200, store.list(ref, { namespace: ns, labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined }));
    case 'create': {
      if (info.name) throw methodNotAllowed('create', groupResource(rt));
      const body = parseBody(raw, ct);
      if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
      return reply(201, store.create(ref, body as KObject, writeOptions(q, info)));
    }
    case 'update': {
      const body = parseBody(raw, ct);
      if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
      let existed = true;
      try { store.get(ref, ns, info.name!); } catch (err) { if (err instanceof ApiError && err.code === 404) existed = false; else throw err; }
      const out = store.update(ref, body as KObject, writeOptions(q, info));
      return reply(existed ? 200 : 201, out);
    }
    case 'patch': {
      const type = PATCH_CONTENT_TYPES[ct];
      if (!type) throw unsupportedMediaType(ct, Object.keys(PATCH_CONTENT_TYPES).slice(0, 3));
      const body = parseBody(raw, type === 'apply' ? 'yaml' : 'json');
      return reply(200, store.patch(ref, ns, info.name!, type, body, { ...writeOptions(q, info), contentType: ct }));
    }
    case 'delete': {
      const opts = deleteOptions(q, parseBody(raw, ct));
      const r = store.delete(ref, ns, info.name!, opts);
      if (!r.deleted) return reply(200, r.object);
      if (rt.returnDeletedObject) return reply(200, r.object);
      return reply(200, success({ name: info.name, group: rt.group || undefined, kind: rt.plural, uid: r.object.metadata?.uid }));
    }
    default: throw methodNotAllowed(info.verb, groupResource(rt));
  }
}

/** Streams a watch as newline-delimited JSON events over a chunked 200 response. */
export function handleWatch(store: Store, info: RequestInfo, res: ServerResponse, url: URL, onStart: () => void): void {
  const q = url.searchParams;
  const rt = info.resource ? store.registry.find(info.group, info.resource) : undefined;
  if (!rt || !rt.versions.includes(info.version) || info.subresource) throw pathNotFound();
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    onStart();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
  };
  let fieldSelector = q.get('fieldSelector') ?? undefined;
  if (info.name) fieldSelector = [`metadata.name=${info.name}`, fieldSelector].filter(Boolean).join(',');
  const watcher = store.watch({ group: rt.group, version: info.version, resource: rt.plural }, {
    namespace: rt.namespaced ? info.namespace : undefined,
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector,
    resourceVersion: q.get('resourceVersion') ?? undefined,
  }, {
    send(ev) { start(); res.write(`${JSON.stringify(ev)}\n`); },
    close(mode) {
      start();
      if (mode === 'abrupt') res.socket?.destroy(); else res.end();
    },
  });
  start();
  // The response closes when the client goes away (IncomingMessage 'close' fires once the request is read).
  res.on('close', () => watcher.stop('graceful'));
}
