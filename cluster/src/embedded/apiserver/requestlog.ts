/** A bounded log of the HTTP requests the server answered, so tests can assert what a client did. */
import type { RequestInfo } from './requestinfo.js';

export interface LoggedRequest {
  seq: number;
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  verb: string;
  group: string;
  version: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  /** The HTTP status sent (for watches, when the stream started). */
  status?: number;
  /** A Status reason for errors (Conflict, NotFound, ...). */
  reason?: string;
}

export type RequestFilter = Partial<Pick<LoggedRequest, 'verb' | 'method' | 'resource' | 'subresource' | 'namespace' | 'name' | 'status' | 'group'>>;

export class RequestLog {
  private entries: LoggedRequest[] = [];
  private seq = 0;
  constructor(private readonly max = 10_000) {}

  add(method: string, url: URL, info: RequestInfo, contentType?: string): LoggedRequest {
    const e: LoggedRequest = {
      seq: ++this.seq, time: Date.now(), method, path: url.pathname, query: Object.fromEntries(url.searchParams),
      verb: info.verb, group: info.group, version: info.version, resource: info.resource, subresource: info.subresource,
      namespace: info.namespace, name: info.name, contentType,
    };
    this.entries.push(e);
    if (this.entries.length > this.max) this.entries.shift();
    return e;
  }

  all(): LoggedRequest[] { return [...this.entries]; }

  find(f: RequestFilter = {}): LoggedRequest[] {
    return this.entries.filter((e) => Object.entries(f).every(([k, v]) => v === undefined || e[k as keyof LoggedRequest] === v));
  }

  count(f: RequestFilter = {}): number { return this.find(f).length; }

  clear(): void { this.entries = []; }
}
