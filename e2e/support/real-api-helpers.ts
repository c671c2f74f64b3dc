/**
 * Helpers for e2e/real-api/: raw HTTPS requests to the real kube-apiserver as its admin (for what the
 * typed client hides: content types, Table output, dry runs, apply patches, Status bodies), the fields
 * a refusal names, and `bij validate` run the way the CLI runs it.
 */
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../../cluster/src/control-plane/launch.js';
import { API_GROUP, API_VERSION, PLURAL } from '../../core/src/contract/job-spec.js';
import { parseBatchInferenceJob, type ParsedBatchInferenceJob } from '../../operator/src/api/validate.js';
import { readJobFile, resolveLocalPaths } from '../../operator/src/cli/job-file.js';
import { validateCommand } from '../../operator/src/cli/validate.js';

export interface RawResponse {
  status: number;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: any;
}

export interface RawRequest {
  body?: string | object;
  /** Default application/json (objects) or application/yaml (strings). */
  contentType?: string;
  accept?: string;
}

/** One request to the control plane's API server, authenticated as its admin. */
export function api(cp: ControlPlane, method: string, path: string, r: RawRequest = {}): Promise<RawResponse> {
  const url = new URL(path, cp.url);
  const data = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  const contentType = r.contentType ?? (typeof r.body === 'string' ? 'application/yaml' : 'application/json');
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, ca: cp.pki.ca.cert, cert: cp.pki.admin.cert, key: cp.pki.admin.key, timeout: 20_000,
      // Content-Length always: Node sends a DELETE body neither chunked nor with a length otherwise.
      headers: { accept: r.accept ?? 'application/json', ...(data === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(data) }) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.once('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** Fails naming the request and the server's answer unless the status is one of `want`. */
export function expectStatus(r: RawResponse, what: string, ...want: number[]): RawResponse {
  if (!want.includes(r.status)) throw new Error(`${what}: expected HTTP ${want.join(' or ')}, got ${r.status}: ${r.body.slice(0, 2000)}`);
  return r;
}

export const bijPath = (namespace: string, name?: string, sub?: string): string =>
  `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${PLURAL}${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`;

/** A field path in one spelling: `spec.model.inputs[X]` (the server's) and `spec.model.inputs["X"]`
 * (bij's) both become `spec.model.inputs.X`; list indexes stay `[0]`. */
export function normalizeField(f: string): string {
  return f.replace(/\["((?:[^"\\]|\\.)*)"\]/g, (_m, k: string) => `.${JSON.parse(`"${k}"`)}`).replace(/\[([^\]0-9][^\]]*|)\]/g, '.$1');
}

/** Whether `field` is `want` or lies inside it. */
export function fieldWithin(field: string, want: string): boolean {
  const f = normalizeField(field);
  const w = normalizeField(want);
  return f === w || f.startsWith(`${w}.`) || f.startsWith(`${w}[`);
}

/** The fields a refusal (a Status body) names: its causes, and the fields of a strict-decoding error
 * (`unknown field "spec.x"`, `duplicate field "x"`), which come without causes. */
export function refusedFields(r: RawResponse): string[] {
  const out: string[] = [];
  for (const c of (r.json?.details?.causes ?? []) as { field?: string }[]) {
    if (c.field && c.field !== '<nil>') out.push(c.field);
  }
  const message = String(r.json?.message ?? r.body);
  for (const m of message.matchAll(/(?:unknown|duplicate) field "([^"]+)"/g)) out.push(m[1]);
  return out;
}

export interface BijVerdict {
  ok: boolean;
  /** The exit code `bij validate` would give (2: the file could not be read as a job). */
  code: number;
  /** What `bij validate` printed, or the error it died with. */
  output: string[];
  /** The fields its errors name (`  field: message` lines). */
  fields: string[];
  /** The parsed spec (defaults applied), when valid: what the operator would act on. */
  parsed?: ParsedBatchInferenceJob;
}

/**
 * `bij validate FILE` on `text`, in process: the CLI's own path (readJobFile, resolveLocalPaths,
 * validateCommand). The file is written under `dir`.
 */
export function bijValidate(dir: string, name: string, text: string): BijVerdict {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  const output: string[] = [];
  let job;
  try {
    job = resolveLocalPaths(readJobFile(file), file);
  } catch (e) {
    const message = [(e as Error).message, (e as Error).cause ? String((e as Error).cause) : ''].filter(Boolean).join(': ');
    return { ok: false, code: 2, output: [message], fields: [] };
  }
  const code = validateCommand(job, file, (l) => output.push(l));
  const fields = output.slice(1).map((l) => /^ {2}([^\s:][^:]*): /.exec(l)?.[1]).filter((f): f is string => f !== undefined && f !== 'warning');
  const parsed = parseBatchInferenceJob(job);
  return { ok: code === 0, code, output, fields, parsed: parsed.ok ? parsed.bij : undefined };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a CRD is Established and its resource is in the API server's discovery (the server
 * serves discovery for a new group a moment after Established: clients that read it first, kubectl
 * included, would not find the kind). Fails at once, with the server's reason, when it is refused.
 */
export async function waitEstablished(cp: ControlPlane, name: string, timeoutMs = 20_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  let crd: any;
  for (;;) {
    const r = expectStatus(await api(cp, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`), `read CRD ${name}`, 200);
    const conds = (r.json.status?.conditions ?? []) as { type: string; status: string; reason?: string; message?: string }[];
    const bad = conds.find((c) => (c.type === 'NonStructuralSchema' && c.status === 'True') || (c.type === 'NamesAccepted' && c.status === 'False'));
    if (bad) throw new Error(`the API server did not accept CRD ${name}: ${bad.type}: ${bad.reason}: ${bad.message}`);
    if (conds.some((c) => c.type === 'Established' && c.status === 'True')) {
      crd = r.json;
      break;
    }
    if (Date.now() > end) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(conds)}`);
    await sleep(50);
  }
  const version = crd.spec.versions.find((v: { served?: boolean }) => v.served)?.name ?? crd.spec.versions[0].name;
  const path = `/apis/${crd.spec.group}/${version}`;
  for (;;) {
    const r = await api(cp, 'GET', path);
    if (r.status === 200 && (r.json?.resources ?? []).some((x: { name: string }) => x.name === crd.spec.names.plural)) return crd;
    if (Date.now() > end) throw new Error(`CRD ${name} Established but ${crd.spec.names.plural} not in discovery (${path}) after ${timeoutMs} ms: HTTP ${r.status}`);
    await sleep(50);
  }
}
