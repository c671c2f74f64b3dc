import { startApiServer, type ApiServer } from '../local/apiserver/index.js';
import { makeClients, type KubeClients } from './clients.js';
import { eventName, recordEvents } from './events.js';

let server: ApiServer;
let clients: KubeClients;
beforeAll(async () => {
  server = await startApiServer();
  clients = makeClients(server.kubeConfig());
});
afterAll(() => server.close());

const target = { name: 'churn', namespace: 'default', uid: 'uid-1' };

test('a keyed event is stored once however often it is recorded; unkeyed events each get their own', async () => {
  const failed = { type: 'Warning' as const, reason: 'ShardFailed', message: 'shard 1 attempt 0 failed: exit 137', key: 'churn-r1-s1-a0/ShardFailed' };
  expect(await recordEvents(clients, target, [failed], 'host')).toEqual([]);
  expect(await recordEvents(clients, target, [failed], 'host')).toEqual([]); // AlreadyExists is not a failure
  await recordEvents(clients, target, [{ type: 'Normal', reason: 'Merging', message: 'm' }, { type: 'Normal', reason: 'Merging', message: 'm' }], 'host');
  const events = (await clients.core.listNamespacedEvent({ namespace: 'default' })).items;
  expect(events.filter((e) => e.reason === 'ShardFailed')).toHaveLength(1);
  expect(events.filter((e) => e.reason === 'Merging')).toHaveLength(2);
  expect(events.find((e) => e.reason === 'ShardFailed')?.metadata?.name).toBe(eventName(target, failed));
  expect(eventName(target, failed)).toBe(eventName({ ...target }, { ...failed, message: 'other text' }));
  expect(eventName(target, failed)).not.toBe(eventName({ ...target, uid: 'uid-2' }, failed));
});
