/**
 * Events on the real kube-apiserver, written as the operator's ServiceAccount under the chart's RBAC:
 * a keyed event is stored once however often it is recorded, unkeyed ones each get their own, and
 * every event carries the operator's field manager.
 */
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { FIELD_MANAGER } from './clients.js';
import { eventName, recordEvents } from './events.js';

const env = useKubeTestEnv({ prefix: 'ev', controlPlane: { controllers: false } });

test('a keyed event is stored once however often it is recorded; unkeyed events each get their own', async () => {
  const { operator, admin, namespace } = env();
  const target = { name: 'churn', namespace, uid: 'uid-1' };
  const failed = { type: 'Warning' as const, reason: 'ShardFailed', message: 'shard 1 attempt 0 failed: exit 137', key: 'churn-r1-s1-a0/ShardFailed' };
  expect(await recordEvents(operator, target, [failed], 'host')).toEqual([]);
  expect(await recordEvents(operator, target, [failed], 'host')).toEqual([]); // AlreadyExists is not a failure
  expect(await recordEvents(operator, target, [{ type: 'Normal', reason: 'Merging', message: 'm' }, { type: 'Normal', reason: 'Merging', message: 'm' }], 'host')).toEqual([]);
  const events = (await admin.core.listNamespacedEvent({ namespace })).items;
  expect(events.filter((e) => e.reason === 'ShardFailed')).toHaveLength(1);
  expect(events.filter((e) => e.reason === 'Merging')).toHaveLength(2);
  expect(events.find((e) => e.reason === 'ShardFailed')?.metadata?.name).toBe(eventName(target, failed));
  expect(eventName(target, failed)).toBe(eventName({ ...target }, { ...failed, message: 'other text' }));
  expect(eventName(target, failed)).not.toBe(eventName({ ...target, uid: 'uid-2' }, failed));
  for (const e of events) expect(e.metadata?.managedFields?.map((m) => m.manager)).toEqual([FIELD_MANAGER]);
});

test('an event the API server refuses is returned as a failure, not thrown', async () => {
  const { operator, namespace } = env();
  // A namespace that does not exist: the failure comes back for the caller to log, keyed or not.
  const target = { name: 'churn', namespace: `${namespace}-missing`, uid: 'uid-3' };
  const failures = await recordEvents(operator, target, [{ type: 'Normal', reason: 'Merging', message: 'm' }, { type: 'Warning', reason: 'ShardFailed', message: 'x', key: 'k' }], 'host');
  expect(failures.map((f) => (f as { code?: number }).code)).toEqual([404, 404]);
});
