/**
 * Fault injection for tests: answer matching requests with an error, add latency, drop open watches and
 * compact the history so that watches from old resourceVersions get 410 Gone. Matching is on the HTTP
 * request (verb, resource, subresource, namespace, name); in-process store calls are never faulted.
 */
import type { RequestInfo, Verb } from './requestinfo.js';
import { ApiError, alreadyExists, conflict, failure, internalError, tooManyRequests } from './status.js';
import type { Store } from './store.js';
import type { CloseMode } from './watch.js';

export interface FaultMatch {
  verb?: Verb | Verb[];
  /** Plural (`jobs`) or id (`jobs.batch`). */
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface FaultRule extends FaultMatch {
  /** HTTP status to answer with: 409 (Conflict, or AlreadyExists on create), 429, 500, 503, or any other code. */
  status?: number;
  /** How many matching requests to affect (default 1; Infinity for all). */
  times?: number;
  /** For 429 and 503: the Retry-After seconds (default 1). */
  retryAfterSeconds?: number;
  /** Delay before handling (or failing) the request. */
  latencyMs?: number;
  message?: string;
}

export interface FaultHandle { readonly rule: FaultRule; remaining: number; hits: number; cancel(): void }

export interface FaultDecision { latencyMs: number; error?: ApiError }

export function matches(m: FaultMatch, info: RequestInfo): boolean {
  if (m.verb && !(Array.isArray(m.verb) ? m.verb : [m.verb]).includes(info.verb as Verb)) return false;
  if (m.resource) {
    const id = info.group ? `${info.resource}.${info.group}` : info.resource;
    if (m.resource !== info.resource && m.resource !== id) return false;
  }
  if (m.subresource !== undefined && m.subresource !== (info.subresource ?? '')) return false;
  if (m.namespace !== undefined && m.namespace !== info.namespace) return false;
  if (m.name !== undefined && m.name !== info.name) return false;
  return true;
}

export function errorFor(rule: FaultRule, info: RequestInfo): ApiError {
  const gr = { group: info.group, resource: info.resource ?? '' };
  const retry = rule.retryAfterSeconds ?? 1;
  switch (rule.status) {
    case 409: return info.verb === 'create' ? alreadyExists(gr, info.name ?? 'unknown') : conflict(gr, info.name ?? '');
    case 429: return tooManyRequests(retry);
    case 500: return internalError(rule.message ?? 'injected fault');
    case 503: return new ApiError(failure(503, 'ServiceUnavailable', rule.message ?? 'the server is currently unable to handle the request', { retryAfterSeconds: retry }), { 'Retry-After': String(retry) });
    default: return new ApiError(failure(rule.status ?? 500, 'InternalError', rule.message ?? 'injected fault'));
  }
}

/** Fault rules and how a request consumes them: shared by the embedded server (Faults, below) and the
 * fault proxy in front of the real kube-apiserver (e2e/support/api-fault-proxy.ts). */
export class FaultRules {
  private rules: FaultHandle[] = [];

  /** Adds a rule; the returned handle counts hits and can cancel it. */
  inject(rule: FaultRule): FaultHandle {
    const h: FaultHandle = { rule, remaining: rule.times ?? 1, hits: 0, cancel: () => { this.rules = this.rules.filter((r) => r !== h); } };
    this.rules.push(h);
    return h;
  }

  /** Answers the next `times` requests matching `match` with `status`. */
  failNext(match: FaultMatch, status: number, times = 1, extra: Partial<FaultRule> = {}): FaultHandle {
    return this.inject({ ...match, ...extra, status, times });
  }

  /** Delays matching requests (all of them by default) by `ms`. */
  latency(ms: number, match: FaultMatch = {}, times = Infinity): FaultHandle {
    return this.inject({ ...match, latencyMs: ms, times });
  }

  clear(): void { this.rules = []; }

  /** Consumes the rules matching a request. */
  decide(info: RequestInfo): FaultDecision {
    const out: FaultDecision = { latencyMs: 0 };
    for (const h of [...this.rules]) {
      if (h.remaining <= 0 || !matches(h.rule, info)) continue;
      if (h.rule.status !== undefined && out.error) continue;
      h.remaining--; h.hits++;
      if (h.remaining <= 0) h.cancel();
      out.latencyMs += h.rule.latencyMs ?? 0;
      if (h.rule.status !== undefined) out.error = errorFor(h.rule, info);
    }
    return out;
  }
}

export class Faults extends FaultRules {
  constructor(private readonly store: Store) { super(); }

  /** Ends open watches: 'graceful' like a server-side timeout (clients resume), 'abrupt' as a reset connection. */
  dropWatches(opts: { mode?: CloseMode; resource?: string } = {}): number {
    return this.store.hub.dropAll(opts.mode ?? 'graceful', opts.resource);
  }

  /** Forgets the event history: resuming a watch (or a paged list) from an older resourceVersion gets 410. */
  compactHistory(): void { this.store.compact(); }
}
