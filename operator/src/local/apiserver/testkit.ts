/** Test helpers for the embedded API server: a small CRD, clients, and waiting on conditions. */
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
import type { KObject } from './types.js';
import { until as poll } from '../../testing/until.js';

export const TEST_GROUP = 'test.bij.dev';

/** A CRD exercising defaults, nullable, int-or-string, maps, preserve-unknown-fields and CEL rules. */
export function widgetCRD(): KObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${TEST_GROUP}` },
    spec: {
      group: TEST_GROUP,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] },
      versions: [{
        name: 'v1', served: true, storage: true, subresources: { status: {} },
        schema: { openAPIV3Schema: {
          type: 'object',
          properties: {
            apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' },
            spec: {
              type: 'object', required: ['input'],
              'x-kubernetes-validations': [
                { rule: '!(has(self.shards) && has(self.targetRowsPerShard))', message: 'set at most one of shards or targetRowsPerShard' },
                { rule: '!has(self.min) || !has(self.max) || self.min <= self.max', message: 'min must not exceed max' },
              ],
              properties: {
                input: { type: 'object', required: ['uri', 'idColumn'], properties: { uri: { type: 'string', minLength: 1 }, idColumn: { type: 'string' } } },
                replicas: { type: 'integer', format: 'int32', minimum: 1, default: 1 },
                mode: { type: 'string', enum: ['fast', 'slow'], default: 'fast' },
                shards: { type: 'integer' },
                targetRowsPerShard: { type: 'integer' },
                min: { type: 'integer' },
                max: { type: 'integer' },
                size: { 'x-kubernetes-int-or-string': true },
                note: { type: 'string', nullable: true },
                immutableId: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'immutableId is immutable' }] },
                config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                worker: { type: 'object', default: {}, properties: { image: { type: 'string', default: 'img:1' }, gpus: { type: 'integer', default: 0 } } },
                mappings: {
                  type: 'object',
                  additionalProperties: {
                    type: 'object',
                    properties: { columns: { type: 'array', items: { type: 'string' } }, column: { type: 'string' } },
                    'x-kubernetes-validations': [{ rule: 'has(self.columns) != has(self.column)', message: 'set exactly one of columns or column' }],
                  },
                },
              },
            },
            status: {
              type: 'object',
              properties: {
                phase: { type: 'string' }, observedGeneration: { type: 'integer' },
                conditions: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            },
          },
        } },
      }],
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
  coord: k8s.CoordinationV1Api;
  custom: k8s.CustomObjectsApi;
}

export async function startHarness(opts: ApiServerOptions = {}): Promise<Harness> {
  const server = await startApiServer({ crds: [widgetCRD()], bookmarkIntervalMs: 100, ...opts });
  const kc = server.kubeConfig();
  return {
    server, kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    coord: kc.makeApiClient(k8s.CoordinationV1Api),
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
