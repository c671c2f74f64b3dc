/** Test helpers for the embedded API server: a small CRD, clients, and waiting on conditions. */
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
import type { KObject } from './types.js';
import { until as poll } from '../../../../core/testing/until.js';

export const TEST_GROUP = 'test.bij.dev';

/** A small CRD with a status subresource (the embedded server serves it, without schema validation). */
export function widgetCRD(): KObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${TEST_GROUP}` },
    spec: {
      group: TEST_GROUP,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

export const widget = (name: string, spec: Record<string, unknown> = {}): KObject => ({
  apiVersion: `${TEST_GROUP}/v1`, kind: 'Widget', metadata: { name },
  spec: { input: { uri: 'file:///data', idColumn: 'id' }, ...spec },
});

export interface Harness {
  server: ApiServer;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
  custom: k8s.CustomObjectsApi;
}

export async function startHarness(opts: ApiServerOptions = {}): Promise<Harness> {
  const server = await startApiServer({ crds: [widgetCRD()], ...opts });
  const kc = server.kubeConfig();
  return {
    server, kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
  };
}

/** The parsed Status of a failed client-node call. */
export async function statusOf(p: Promise<unknown>): Promise<{ code: number; body: Record<string, any>; headers: Record<string, string> }> {
  try { await p; } catch (err) {
    const e = err as { code?: number; body?: unknown; headers?: Record<string, string> };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, body: typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as Record<string, any>), headers: e.headers ?? {} };
  }
  throw new Error('expected the call to fail');
}

export function until<T>(fn: () => T | undefined | false, timeoutMs = 3000, what = 'condition'): Promise<T> {
  return poll(what, fn, timeoutMs, 10);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
