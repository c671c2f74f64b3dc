/** Fault injection and the request log, as a client sees them. */
import { startHarness, statusOf, widget, TEST_GROUP, type Harness } from './testkit.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.server.close(); });
afterEach(() => { h.server.faults.clear(); });

const ns = 'faults';
const W = { group: TEST_GROUP, version: 'v1', namespace: ns, plural: 'widgets' };

test('the next N matching requests fail with 409, 429 (Retry-After) or 500; others pass', async () => {
  await h.custom.createNamespacedCustomObject({ ...W, body: widget('f1') });
  const conflict = h.server.faults.failNext({ verb: 'update', resource: 'widgets', subresource: 'status', name: 'f1' }, 409);
  const cur = await h.custom.getNamespacedCustomObject({ ...W, name: 'f1' });
  const c = await statusOf(h.custom.replaceNamespacedCustomObjectStatus({ ...W, name: 'f1', body: { ...cur, status: { phase: 'Running' } } }));
  expect(c.body).toMatchObject({ code: 409, reason: 'Conflict', message: `Operation cannot be fulfilled on widgets.${TEST_GROUP} "f1": the object has been modified; please apply your changes to the latest version and try again` });
  expect(conflict).toMatchObject({ hits: 1, remaining: 0 });
  const ok = await h.custom.replaceNamespacedCustomObjectStatus({ ...W, name: 'f1', body: { ...cur, status: { phase: 'Running' } } });
  expect(ok.status.phase).toBe('Running');

  h.server.faults.failNext({ verb: 'list', resource: 'configmaps' }, 429, 2, { retryAfterSeconds: 3 });
  const throttled = await statusOf(h.core.listNamespacedConfigMap({ namespace: ns }));
  expect(throttled.code).toBe(429);
  expect(throttled.headers['retry-after']).toBe('3');
  expect(throttled.body).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } });
  expect((await statusOf(h.core.listNamespacedConfigMap({ namespace: ns }))).code).toBe(429);
  await h.core.listNamespacedConfigMap({ namespace: ns });

  h.server.faults.failNext({ verb: 'create', resource: 'jobs.batch' }, 500);
  const ise = await statusOf(h.batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'j' } } }));
  expect(ise.body).toMatchObject({ code: 500, reason: 'InternalError', message: 'Internal error occurred: injected fault' });
  // The store was never reached: nothing was created.
  expect((await statusOf(h.batch.readNamespacedJob({ namespace: ns, name: 'j' }))).code).toBe(404);
});

test('latency delays matching requests', async () => {
  const fault = h.server.faults.latency(120, { verb: 'get', resource: 'configmaps' }, 1);
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'slow' } } });
  expect(fault.hits).toBe(0); // the create did not match
  // The delayed read is overtaken by a read sent after it (the rule is used up, so that one is not
  // delayed): order, not a wall time, shows the delay.
  const order: string[] = [];
  const slow = h.core.readNamespacedConfigMap({ namespace: ns, name: 'slow' }).then(() => order.push('delayed'));
  while (fault.hits === 0) await new Promise((r) => setTimeout(r, 1)); // the first read holds the rule
  await h.core.readNamespacedConfigMap({ namespace: ns, name: 'slow' }).then(() => order.push('plain'));
  await slow;
  expect(order).toEqual(['plain', 'delayed']);
  expect(fault).toMatchObject({ hits: 1, remaining: 0 }); // used up by the first read: the second was not delayed
});

test('the request log records what the client did', async () => {
  const before = h.server.requestLog.length;
  await h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'logged' } } });
  await statusOf(h.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'logged' } } }));
  const entries = h.server.requestLog.slice(before);
  expect(entries.map((e) => [e.method, e.verb, e.resource, e.namespace, e.status, e.reason])).toEqual([
    ['POST', 'create', 'configmaps', ns, 201, undefined],
    ['POST', 'create', 'configmaps', ns, 409, 'AlreadyExists'],
  ]);
  expect(h.server.requests({ verb: 'create', resource: 'configmaps', status: 409 })).toHaveLength(1);
});
