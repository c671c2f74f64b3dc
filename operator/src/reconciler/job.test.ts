import { makeBIJ } from '../testing/builders.js';
import { buildShardJob, type BijRef, type ShardJobOptions } from './job.js';
import { MAX_JOB_NAME, jobName, jobSelector, labelValue } from './names.js';

const ref = (b = makeBIJ()): BijRef => {
  const o = b.obj();
  return { metadata: o.metadata, spec: o.spec! };
};
const assignment = { runId: 'r0123456789', shard: 3, attempt: 1, planUri: 's3://scores/churn/_bij/r0123456789/plan.json' };
const build = (b = makeBIJ(), options?: ShardJobOptions) => buildShardJob(ref(b), assignment, options);
const container = (j: ReturnType<typeof build>) => j.spec!.template.spec!.containers[0];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('jobName', () => {
  test.each([
    { bij: 'churn', want: 'churn-r0123456789-s3-a1' },
    { bij: 'a'.repeat(28), want: `${'a'.repeat(28)}-r0123456789-s3-a1` },
  ])('short names are kept: $bij', ({ bij, want }) => {
    expect(jobName(bij, 'r0123456789', 3, 1)).toBe(want);
  });

  test.each([
    'a'.repeat(29),
    'x'.repeat(253),
    'scores.v3.daily',
    `${'b'.repeat(40)}-----------------------`,
  ])('long or non-label names are cut, hashed, and valid: %s', (bij) => {
    const n = jobName(bij, 'r0123456789', 99999, 12);
    expect(n.length).toBeLessThanOrEqual(MAX_JOB_NAME);
    expect(n).toMatch(DNS_LABEL);
    expect(n.endsWith('-r0123456789-s99999-a12')).toBe(true);
  });

  test('two long names with the same beginning get different Job names', () => {
    const a = jobName(`${'z'.repeat(60)}-one`, 'r0123456789', 0, 0);
    const b = jobName(`${'z'.repeat(60)}-two`, 'r0123456789', 0, 0);
    expect(a).not.toBe(b);
  });

  test('deterministic', () => {
    expect(jobName('x'.repeat(100), 'r1', 1, 1)).toBe(jobName('x'.repeat(100), 'r1', 1, 1));
  });

  test('label values fit', () => {
    expect(labelValue('churn')).toBe('churn');
    const long = labelValue('y'.repeat(200));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(jobSelector('churn')).toBe('batchinference.dev/job=churn');
  });
});

describe('buildShardJob', () => {
  test('metadata: name, namespace, labels, owner', () => {
    const j = build();
    expect(j.apiVersion).toBe('batch/v1');
    expect(j.kind).toBe('Job');
    expect(j.metadata).toEqual({
      name: 'churn-r0123456789-s3-a1',
      namespace: 'default',
      labels: {
        'batchinference.dev/job': 'churn',
        'batchinference.dev/run': 'r0123456789',
        'batchinference.dev/shard': '3',
        'batchinference.dev/attempt': '1',
        'app.kubernetes.io/managed-by': 'batch-inference-operator',
      },
      ownerReferences: [{ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'churn', uid: 'uid-1', controller: true, blockOwnerDeletion: true }],
    });
    expect(j.spec!.template.metadata!.labels).toEqual(j.metadata!.labels);
  });

  test('the operator decides about retries: backoffLimit 0, restartPolicy Never, no TTL', () => {
    const j = build();
    expect(j.spec).toMatchObject({ backoffLimit: 0, completions: 1, parallelism: 1 });
    expect(j.spec!.ttlSecondsAfterFinished).toBeUndefined();
    expect(j.spec!.template.spec!.restartPolicy).toBe('Never');
  });

  test.each([
    { options: undefined, want: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] } },
    { options: { podFailurePolicy: false }, want: undefined },
  ])('podFailurePolicy with options $options', ({ options, want }) => {
    expect(build(makeBIJ(), options).spec!.podFailurePolicy).toEqual(want);
  });

  test('env: the assignment first, then the user env without our names', () => {
    const b = makeBIJ().withSpec({ worker: { env: [{ name: 'LOG_LEVEL', value: 'debug' }, { name: 'BIJ_SHARD', value: '7' }] } });
    const env = container(build(b)).env!;
    expect(env.map((e) => e.name)).toEqual(['BIJ_PLAN_URI', 'BIJ_SHARD', 'BIJ_ATTEMPT', 'BIJ_RUN_ID', 'BIJ_S3', 'BIJ_MAX_FAILED_ROWS', 'BIJ_EXECUTION_PROVIDER', 'LOG_LEVEL']);
    const byName = Object.fromEntries(env.map((e) => [e.name, e.value]));
    expect(byName).toMatchObject({
      BIJ_PLAN_URI: assignment.planUri, BIJ_SHARD: '3', BIJ_ATTEMPT: '1', BIJ_RUN_ID: 'r0123456789', LOG_LEVEL: 'debug',
      BIJ_MAX_FAILED_ROWS: '0', BIJ_EXECUTION_PROVIDER: 'auto',
    });
    expect(JSON.parse(byName.BIJ_S3!)).toEqual({ endpoint: '', region: 'us-east-1', forcePathStyle: false, credentialsSecret: '' });
    expect(env.some((e) => e.name === 'NVIDIA_VISIBLE_DEVICES')).toBe(false);
  });

  test.each([
    { name: 'none', worker: {}, secret: '', want: undefined },
    { name: 'secret only', worker: {}, secret: 's3-creds', want: [{ secretRef: { name: 's3-creds' } }] },
    { name: 'user and secret', worker: { envFrom: [{ configMapRef: { name: 'cfg' } }] }, secret: 's3-creds', want: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 's3-creds' } }] },
  ])('envFrom: $name', ({ worker, secret, want }) => {
    const b = makeBIJ().withSpec({ worker, storage: { s3: { credentialsSecret: secret } } });
    expect(container(build(b)).envFrom).toEqual(want);
  });

  test.each([
    { name: 'no gpus, no resources', gpus: 0, resources: undefined, want: undefined },
    { name: 'gpus become a limit', gpus: 2, resources: undefined, want: { limits: { 'nvidia.com/gpu': '2' } } },
    { name: 'kept with user resources', gpus: 1, resources: { limits: { memory: '8Gi' }, requests: { cpu: '2' } }, want: { limits: { memory: '8Gi', 'nvidia.com/gpu': '1' }, requests: { cpu: '2' } } },
    { name: 'a gpu request follows the limit', gpus: 1, resources: { requests: { 'nvidia.com/gpu': '4' } }, want: { limits: { 'nvidia.com/gpu': '1' }, requests: { 'nvidia.com/gpu': '1' } } },
    { name: 'user resources without gpus', gpus: 0, resources: { limits: { cpu: '1' } }, want: { limits: { cpu: '1' } } },
  ])('resources: $name', ({ gpus, resources, want }) => {
    const b = makeBIJ().withSpec({ worker: { gpus, ...(resources ? { resources } : {}) } });
    const j = build(b);
    expect(container(j).resources).toEqual(want);
  });

  test('scheduling fields pass through; absent ones stay absent', () => {
    const worker = {
      nodeSelector: { 'nvidia.com/gpu.product': 'A100' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
      priorityClassName: 'batch-low',
      serviceAccountName: 'scorer',
      imagePullPolicy: 'IfNotPresent' as const,
      image: 'registry/bij-worker:1.2',
    };
    const pod = build(makeBIJ().withSpec({ worker })).spec!.template.spec!;
    expect(pod).toMatchObject({
      nodeSelector: worker.nodeSelector, tolerations: worker.tolerations, affinity: worker.affinity,
      priorityClassName: 'batch-low', serviceAccountName: 'scorer',
    });
    expect(pod.containers[0]).toMatchObject({ image: 'registry/bij-worker:1.2', imagePullPolicy: 'IfNotPresent' });
    const plain = build().spec!.template.spec!;
    for (const k of ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName', 'serviceAccountName'] as const) expect(plain[k]).toBeUndefined();
    expect(container(build()).imagePullPolicy).toBeUndefined();
  });

  test('hardened: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, /tmp emptyDir', () => {
    const j = build();
    const c = container(j);
    expect(c.name).toBe('worker');
    expect(c.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(j.spec!.template.spec!.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(j.spec!.template.spec!.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });

  test('options: image, namespace, command', () => {
    const j = build(makeBIJ(), { workerImage: 'local/worker:dev', namespace: 'other', command: ['node', 'worker.js'], args: ['--verbose'] });
    expect(j.metadata!.namespace).toBe('other');
    expect(container(j)).toMatchObject({ image: 'local/worker:dev', command: ['node', 'worker.js'], args: ['--verbose'] });
  });

  test('deterministic, and does not share objects with the spec', () => {
    const r = ref(makeBIJ().withSpec({ worker: { tolerations: [{ key: 'a' }], env: [{ name: 'A', value: '1' }] } }));
    const a = buildShardJob(r, assignment);
    expect(buildShardJob(r, assignment)).toEqual(a);
    (a.spec!.template.spec!.tolerations![0] as { key: string }).key = 'changed';
    expect(r.spec.worker.tolerations![0].key).toBe('a');
  });
});
