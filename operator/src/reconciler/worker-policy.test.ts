import { makeBIJ, makeInput } from '../testing/builders.js';
import { cond } from '../testing/reconcile-helpers.js';
import { isTerminal, reconcile } from './reconcile.js';
import { policyViolations } from './worker-policy.js';
import type { WorkerPolicy } from './types.js';

const spec = (worker: Record<string, unknown>) => makeBIJ().withSpec({ worker }).parsedSpec();

describe('policyViolations', () => {
  test.each<[string, Record<string, unknown>, WorkerPolicy, string[]]>([
    ['no policy', { image: 'evil.io/x' }, {}, []],
    ['an image under an allowed prefix', { image: 'reg.corp/ml/worker:1' }, { allowedImagePrefixes: ['reg.corp/ml/'] }, []],
    ['an image elsewhere', { image: 'evil.io/x' }, { allowedImagePrefixes: ['reg.corp/ml/', 'ghcr.io/batchinference/'] }, ['spec.worker.image']],
    ['the default service account when only others are allowed', {}, { allowedServiceAccounts: ['bij-worker'] }, ['spec.worker.serviceAccountName']],
    ['an allowed service account', { serviceAccountName: 'bij-worker' }, { allowedServiceAccounts: ['bij-worker'] }, []],
    ['Secrets in env when they are not allowed', {
      envFrom: [{ configMapRef: { name: 'c' } }, { secretRef: { name: 'db' } }],
      env: [{ name: 'A', value: '1' }, { name: 'T', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    }, { allowSecretEnv: false }, ['spec.worker.envFrom[1].secretRef', 'spec.worker.env[1].valueFrom.secretKeyRef']],
    ['Secrets in env by default', { envFrom: [{ secretRef: { name: 'db' } }] }, {}, []],
  ])('%s', (_n, worker, policy, fields) => {
    expect(policyViolations(spec(worker), policy).map((e) => e.field)).toEqual(fields);
  });

  test('the message names the image and the allowed prefixes', () => {
    expect(policyViolations(spec({ image: 'evil.io/x' }), { allowedImagePrefixes: ['reg.corp/ml/'] })[0].message)
      .toBe('evil.io/x is not allowed here: images must start with reg.corp/ml/');
  });
});

describe('reconcile with a worker policy', () => {
  const policy = { allowedImagePrefixes: ['reg.corp/ml/'] };
  test('a job the policy does not allow fails with NotAllowed before planning, and can be fixed by an edit', () => {
    const bij = makeBIJ().withSpec({ worker: { image: 'evil.io/x' } }).obj();
    const r = reconcile(makeInput(bij).options({ policy }).obj());
    expect(r.status.phase).toBe('Failed');
    expect(cond(r, 'Failed')).toMatchObject({ reason: 'NotAllowed', message: expect.stringContaining("not allowed by the operator's policy: spec.worker.image: evil.io/x is not allowed here") });
    expect(r.actions.plan).toBeUndefined();
    expect(r.create).toEqual([]);
    expect(isTerminal(r.status, r.status.runId ?? '')).toBe(false);
    const fixed = makeBIJ().withSpec({ worker: { image: 'reg.corp/ml/worker:1' } }).status(r.status).obj();
    expect(reconcile(makeInput(fixed).options({ policy }).obj()).actions.plan).toBeDefined();
  });
});
