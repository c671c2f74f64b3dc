/**
 * addFinalizer/removeFinalizer on the real kube-apiserver, as the operator's ServiceAccount (through the
 * fault proxy, for its request log): guarded JSON patches that keep other controllers' finalizers, and
 * fail as a conflict (losing nothing) when the object changed after it was read.
 */
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { BIJ_REF, FIELD_MANAGER, type KubeClients } from './clients.js';
import { isConflict } from './api-errors.js';
import { addFinalizer, removeFinalizer } from './finalizer.js';
import { FINALIZER } from '../reconciler/names.js';

const OTHER = 'other.example.com/protect';
const THIRD = 'third.example.com/hold';

const env = useKubeTestEnv({ proxy: 'operator', prefix: 'fin', controlPlane: { controllers: false } });
let NS: string;
/** The operator's clients (through the proxy). */
let clients: KubeClients;
/** The admin's: the other controllers, and the test's reads. */
let admin: KubeClients;
beforeEach(() => {
  ({ namespace: NS, viaProxy: clients, admin } = env());
});
const requests = (f: Parameters<ReturnType<typeof env>['requests']>[0]) => env().requests(f);

const spec = {
  model: { uri: '/m/model.onnx', inputs: { X: { columns: ['f0'] } }, outputs: { probs: { column: 'score' } } },
  input: { uri: '/data/in/', idColumn: 'id' },
  output: { uri: '/data/out/' },
};

type Obj = { metadata: { name: string; namespace: string; resourceVersion: string; finalizers?: string[]; managedFields?: { manager?: string; operation?: string; fieldsV1?: object }[] } };

async function create(name: string, finalizers?: string[]): Promise<Obj> {
  return admin.custom.createNamespacedCustomObject({
    ...BIJ_REF, namespace: NS,
    body: { apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name, finalizers }, spec },
  }) as Promise<Obj>;
}
const read = (name: string): Promise<Obj> => admin.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name }) as Promise<Obj>;
const guardOf = (o: Obj) => ({ name: o.metadata.name, namespace: NS, resourceVersion: o.metadata.resourceVersion, finalizers: o.metadata.finalizers });

async function failure(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (err) { return err; }
  throw new Error('expected the patch to fail');
}

test('ours is added and removed; another controller\'s finalizer is kept', async () => {
  const created = await create('shared', [OTHER]);
  await addFinalizer(clients, guardOf(created));
  const added = await read('shared');
  expect(added.metadata.finalizers).toEqual([OTHER, FINALIZER]);
  // The operator's write carries its field manager (client-node would send `node-fetch`), which owns
  // exactly the finalizer it added; the other one stays the creator's.
  expect(added.metadata.managedFields?.map((m) => m.manager).sort()).toEqual([FIELD_MANAGER, 'kube-test-admin']);
  expect(added.metadata.managedFields?.find((m) => m.manager === FIELD_MANAGER))
    .toMatchObject({ operation: 'Update', fieldsV1: { 'f:metadata': { 'f:finalizers': { [`v:"${FINALIZER}"`]: {} } } } });
  expect(JSON.stringify(added.metadata.managedFields?.find((m) => m.manager === FIELD_MANAGER))).not.toContain(OTHER);

  await removeFinalizer(clients, guardOf(added));
  expect((await read('shared')).metadata.finalizers).toEqual([OTHER]);
  const patches = requests({ verb: 'patch', resource: 'batchinferencejobs', name: 'shared' });
  expect(patches.map((p) => [p.status, p.contentType])).toEqual([[200, 'application/json-patch+json'], [200, 'application/json-patch+json']]);
});

test('on an object without finalizers ours is the only one; adding it twice is a no-op', async () => {
  const created = await create('alone');
  await addFinalizer(clients, guardOf(created));
  const added = await read('alone');
  expect(added.metadata.finalizers).toEqual([FINALIZER]);
  const before = requests({ verb: 'patch', name: 'alone' }).length;
  await addFinalizer(clients, guardOf(added));
  expect(requests({ verb: 'patch', name: 'alone' })).toHaveLength(before);
  // And removing from an object without ours sends nothing either.
  await removeFinalizer(clients, { name: 'alone', namespace: NS, resourceVersion: '1', finalizers: [OTHER] });
  expect(requests({ verb: 'patch', name: 'alone' })).toHaveLength(before);
});

test('add: an object changed since it was read gives a conflict, and the other finalizer is not lost', async () => {
  const stale = await create('race-add', [OTHER]);
  // Another controller adds its finalizer after we read.
  await admin.custom.patchNamespacedCustomObject(
    { ...BIJ_REF, namespace: NS, name: 'race-add', body: [{ op: 'add', path: '/metadata/finalizers/-', value: THIRD }] },
  );
  const err = await failure(addFinalizer(clients, guardOf(stale)));
  expect(isConflict(err)).toBe(true);
  const now = await read('race-add');
  expect(now.metadata.finalizers).toEqual([OTHER, THIRD]);

  // Re-read and retry: both survive and ours is added.
  await addFinalizer(clients, guardOf(now));
  expect((await read('race-add')).metadata.finalizers).toEqual([OTHER, THIRD, FINALIZER]);
});

test('remove: a list that shifted since it was read gives a conflict; nothing is removed by mistake', async () => {
  const created = await create('race-remove', [OTHER, FINALIZER, THIRD]);
  const stale = await read('race-remove');
  expect(created.metadata.resourceVersion).toBe(stale.metadata.resourceVersion);
  // Another controller removes its finalizer (index 0): ours moves from index 1 to 0, THIRD to 1.
  await admin.custom.patchNamespacedCustomObject(
    { ...BIJ_REF, namespace: NS, name: 'race-remove', body: [{ op: 'remove', path: '/metadata/finalizers/0' }] },
  );
  const err = await failure(removeFinalizer(clients, guardOf(stale)));
  expect(isConflict(err)).toBe(true);
  expect((await read('race-remove')).metadata.finalizers).toEqual([FINALIZER, THIRD]);

  // Only the resourceVersion changed (a label): still a conflict, nothing lost.
  const stale2 = await read('race-remove');
  await admin.custom.patchNamespacedCustomObject(
    { ...BIJ_REF, namespace: NS, name: 'race-remove', body: [{ op: 'add', path: '/metadata/labels', value: { touched: 'yes' } }] },
  );
  expect(isConflict(await failure(removeFinalizer(clients, guardOf(stale2))))).toBe(true);
  expect((await read('race-remove')).metadata.finalizers).toEqual([FINALIZER, THIRD]);

  await removeFinalizer(clients, guardOf(await read('race-remove')));
  expect((await read('race-remove')).metadata.finalizers).toEqual([THIRD]);
});

test('removing ours from an object being deleted lets it go once no other finalizer holds it', async () => {
  await create('deleting', [FINALIZER]);
  await admin.custom.deleteNamespacedCustomObject({ ...BIJ_REF, namespace: NS, name: 'deleting' });
  const held = await read('deleting');
  expect(held.metadata).toHaveProperty('deletionTimestamp');
  await removeFinalizer(clients, guardOf(held));
  const gone = await failure(read('deleting'));
  expect((gone as { code?: number }).code).toBe(404);
  // A second pass on the same (now stale) object: the object is gone, so is the finalizer; no error.
  await expect(removeFinalizer(clients, guardOf(held))).resolves.toBeUndefined();
  expect(requests({ verb: 'patch', name: 'deleting' }).map((r) => r.status)).toEqual([200, 404]);
  // Adding to a gone object is still an error.
  expect(((await failure(addFinalizer(clients, { ...guardOf(held), finalizers: [] }))) as { code?: number }).code).toBe(404);
});
