/** URL -> what a request is about, as the apiserver's RequestInfoFactory parses it. */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RequestInfo {
  /** true for /api/... and /apis/... paths that name a resource. */
  isResource: boolean;
  verb: Verb | string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespace?: string;
  resource?: string;
  name?: string;
  subresource?: string;
  /** Segments after the version, for discovery paths (/api, /apis, /apis/<group>, /apis/<group>/<version>). */
  prefix: 'api' | 'apis' | 'other';
  parts: string[];
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function parseRequest(method: string, path: string, query: URLSearchParams): RequestInfo {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const info: RequestInfo = { isResource: false, verb: method.toLowerCase(), group: '', version: '', prefix: 'other', parts };
  let rest: string[];
  if (parts[0] === 'api') {
    info.prefix = 'api';
    if (parts.length < 2) return info;
    info.version = parts[1]; rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    info.prefix = 'apis';
    if (parts.length < 3) { info.group = parts[1] ?? ''; return info; }
    info.group = parts[1]; info.version = parts[2]; rest = parts.slice(3);
  } else return info;
  if (!rest.length) return info;
  info.isResource = true;
  let watchPath = false;
  if (rest[0] === 'watch') { watchPath = true; rest = rest.slice(1); }
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
  }
  [info.resource, info.name, info.subresource] = rest;
  if (rest.length > 3) info.isResource = false;
  const watchParam = query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET': case 'HEAD': info.verb = watchPath || watchParam ? 'watch' : info.name ? 'get' : 'list'; break;
    case 'POST': info.verb = 'create'; break;
    case 'PUT': info.verb = 'update'; break;
    case 'PATCH': info.verb = 'patch'; break;
    case 'DELETE': info.verb = info.name ? 'delete' : 'deletecollection'; break;
    default:
  }
  return info;
}
