import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { nodeStatus, type NodeFacts } from './node.js';
import { fieldValue, withFieldRefs } from './pod-env.js';
import { deadlineOf, graceSeconds, hadProcess, unsupportedReason } from './pod-spec.js';
import { exitCodeOf, lostStatus, mergeConditions, runningStatus, terminatedStatus, terminationMessage, waitingStatus } from './pod-status.js';

const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-01T00:01:00Z');
const at = (d: Date) => d.toISOString().replace('.000', '') as unknown as Date;
const cond = (type: string, status: string, when = T0, more: Partial<V1PodCondition> = {}): V1PodCondition => ({ type, status, lastTransitionTime: at(when), ...more });

function makePod(o: { conditions?: V1PodCondition[]; spec?: Partial<V1Pod['spec']> } = {}): V1Pod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u-1', labels: { app: 'x' }, annotations: { note: 'hi' } },
    spec: { nodeName: 'n1', restartPolicy: 'Never', serviceAccountName: 'sa', containers: [{ name: 'worker', image: 'bij-worker:1' }], ...(o.spec ?? {}) },
    status: { phase: 'Pending', conditions: o.conditions ?? [cond('PodScheduled', 'True')] },
  };
}

describe('exitCodeOf', () => {
  test.each<[number | null, NodeJS.Signals | null, number]>([[0, null, 0], [3, null, 3], [null, 'SIGKILL', 137], [null, 'SIGTERM', 143], [null, 'SIGINT', 130]])(
    '%s %s -> %d', (code, sig, want) => expect(exitCodeOf(code, sig)).toBe(want));
});

describe('mergeConditions', () => {
  test('keeps conditions of others, replaces its own, keeps a transition time while the status holds', () => {
    const existing = [cond('PodScheduled', 'True'), cond('DisruptionTarget', 'True', T0, { reason: 'EvictionByEvictionAPI' }), cond('Ready', 'True'), cond('Initialized', 'True')];
    const got = mergeConditions(existing, [{ type: 'Ready', status: 'False', reason: 'PodFailed' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'False' }], T1);
    expect(got).toEqual([
      cond('PodScheduled', 'True'),
      cond('DisruptionTarget', 'True', T0, { reason: 'EvictionByEvictionAPI' }),
      { type: 'Ready', status: 'False', reason: 'PodFailed', message: undefined, lastTransitionTime: at(T1) },
      { type: 'Initialized', status: 'True', reason: undefined, message: undefined, lastTransitionTime: at(T0) },
      { type: 'ContainersReady', status: 'False', reason: undefined, message: undefined, lastTransitionTime: at(T1) },
    ]);
  });
});

const types = (s: { conditions?: V1PodCondition[] }) => Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c.status]));

describe('pod status', () => {
  test('running: ready, the process as container id, IPs', () => {
    const s = runningStatus(makePod(), { pid: 42, startTime: T0, startedAt: T1 });
    expect(s.phase).toBe('Running');
    expect(types(s)).toEqual({ PodScheduled: 'True', PodReadyToStartContainers: 'True', Initialized: 'True', ContainersReady: 'True', Ready: 'True' });
    expect(s.containerStatuses).toEqual([{
      name: 'worker', image: 'bij-worker:1', imageID: 'bij-process://bij-worker:1', containerID: 'bij-process://42',
      ready: true, started: true, restartCount: 0, state: { running: { startedAt: at(T1) } },
    }]);
    expect([s.hostIP, s.podIP, s.startTime]).toEqual(['127.0.0.1', '127.0.0.1', at(T0)]);
  });
  test('waiting: pending with the reason', () => {
    const s = waitingStatus(makePod(), { reason: 'CreateContainerConfigError', message: 'secret "s" not found', startTime: T0, now: T1 });
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses?.[0].state).toEqual({ waiting: { reason: 'CreateContainerConfigError', message: 'secret "s" not found' } });
    expect(types(s).Ready).toBe('False');
  });
  test.each([
    ['exit 0', { exitCode: 0 }, 'Succeeded', 'Completed', 'PodCompleted', undefined],
    ['exit 3', { exitCode: 3, message: 'bad input' }, 'Failed', 'Error', 'PodFailed', undefined],
    ['killed past the deadline', { exitCode: 143, signal: 15, pod: { reason: 'DeadlineExceeded', message: 'too long' } }, 'Failed', 'Error', 'PodFailed', 'DeadlineExceeded'],
    ['exit 0 but refused', { exitCode: 0, reason: 'X', pod: { reason: 'X', message: 'm' } }, 'Failed', 'X', 'PodFailed', 'X'],
  ])('terminated, %s', (_, t, phase, reason, readyReason, podReason) => {
    const pod = makePod({ conditions: [cond('PodScheduled', 'True'), cond('DisruptionTarget', 'True'), cond('Ready', 'True')] });
    const s = terminatedStatus(pod, { startTime: T0, startedAt: T0, finishedAt: T1, pid: 7, ...t });
    expect(s.phase).toBe(phase);
    expect(s.reason).toBe(podReason);
    expect(s.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: t.exitCode, reason, finishedAt: at(T1), containerID: 'bij-process://7' });
    expect(s.containerStatuses?.[0].state?.terminated?.message).toBe('message' in t ? t.message : undefined);
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: readyReason, lastTransitionTime: at(T1) });
    expect(types(s).DisruptionTarget).toBe('True');
  });
  test('lost: the real kubelet verdict for a container that is gone', () => {
    const pod = makePod();
    pod.status!.startTime = at(T0);
    const s = lostStatus(pod, T1);
    expect(s.phase).toBe('Failed');
    expect(s.startTime).toEqual(at(T0));
    expect(s.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' });
  });
});

describe('terminationMessage', () => {
  const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
  test.each<[string, string, string, number, string | undefined, string | RegExp]>([
    ['the file wins', 'from file', log, 1, 'FallbackToLogsOnError', 'from file'],
    ['File policy: no fallback', '', log, 1, 'File', ''],
    ['success: no fallback', '', log, 0, 'FallbackToLogsOnError', ''],
    ['fallback: the last 80 lines', '', log, 1, 'FallbackToLogsOnError', /^line 20\n[^]*line 99$/],
    ['fallback: at most 2048 bytes', '', 'y'.repeat(5000), 2, 'FallbackToLogsOnError', 'y'.repeat(2048)],
  ])('%s', (_, file, tail, code, policy, want) => {
    const got = terminationMessage(file, tail, code, policy);
    if (want instanceof RegExp) expect(got).toMatch(want);
    else expect(got).toBe(want);
  });
});

describe('pod spec', () => {
  test.each<[string, Partial<V1Pod['spec']>, RegExp | undefined]>([
    ['one container, Never', {}, undefined],
    ['two containers', { containers: [{ name: 'a' }, { name: 'b' }] }, /exactly one container.*has 2 \(a, b\)/],
    ['init containers', { initContainers: [{ name: 'init' }] }, /spec.initContainers.*\(init\)/],
    ['OnFailure', { restartPolicy: 'OnFailure' }, /spec.restartPolicy OnFailure is not supported/],
    // A Deployment's pods (the operator's own, from the Helm chart): restarted in place.
    ['the default Always', { restartPolicy: undefined }, undefined],
    ['Always', { restartPolicy: 'Always' }, undefined],
  ])('%s', (_, spec, want) => {
    const got = unsupportedReason(makePod({ spec }));
    if (want) expect(got).toMatch(want);
    else expect(got).toBeUndefined();
  });
  test('deadline, grace and whether a container had a process', () => {
    expect(deadlineOf(makePod({ spec: { activeDeadlineSeconds: 5 } }), T0)).toEqual(new Date(T0.getTime() + 5000));
    expect(deadlineOf(makePod(), T0)).toBeUndefined();
    expect(graceSeconds(makePod({ spec: { terminationGracePeriodSeconds: 7 } }))).toBe(7);
    const deleting = makePod({ spec: { terminationGracePeriodSeconds: 7 } });
    deleting.metadata!.deletionGracePeriodSeconds = 2;
    expect(graceSeconds(deleting)).toBe(2);
    expect(hadProcess(makePod())).toBe(false);
    expect(hadProcess({ status: runningStatus(makePod(), { pid: 1, startTime: T0, startedAt: T0 }) })).toBe(true);
    expect(hadProcess({ status: waitingStatus(makePod(), { reason: 'r', message: 'm', startTime: T0, now: T0 }) })).toBe(false);
  });
});

describe('downward API env', () => {
  test.each([
    ['metadata.name', 'p'], ['metadata.namespace', 'ns'], ['metadata.uid', 'u-1'], ['spec.nodeName', 'n1'],
    ['spec.serviceAccountName', 'sa'], ['status.podIP', '127.0.0.1'], ['status.hostIP', '127.0.0.1'],
    ["metadata.labels['app']", 'x'], ["metadata.annotations['note']", 'hi'], ["metadata.labels['none']", ''],
  ])('%s', (f, want) => expect(fieldValue(makePod(), f)).toBe(want));
  test('fieldRef values replace the refs; unsupported ones name the variable', () => {
    const c = { name: 'worker', env: [{ name: 'A', value: 'a' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] };
    expect(withFieldRefs(c, makePod()).env).toEqual([{ name: 'A', value: 'a' }, { name: 'POD', value: 'p' }]);
    expect(() => withFieldRefs({ name: 'w', env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, makePod())).toThrow(/env X of container w: fieldRef spec.bogus/);
    expect(() => withFieldRefs({ name: 'w', env: [{ name: 'L', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }] }, makePod())).toThrow(/env L.*resourceFieldRef/);
  });
});

describe('node status', () => {
  const f: NodeFacts = { name: 'n1', port: 10250, gpus: 2, maxPods: 110, cpus: 4, memoryBytes: 8 * 1024 ** 3, storageBytes: 100 * 1024 ** 3, arch: 'amd64', kernel: '6.1', osImage: 'Linux 6.1' };
  test('capacity, the kubelet endpoint, Ready', () => {
    const s = nodeStatus(f, T1, T0);
    expect(s.capacity).toEqual({ cpu: '4', memory: '8388608Ki', pods: '110', 'ephemeral-storage': '104857600Ki', 'nvidia.com/gpu': '2' });
    expect(s.allocatable).toEqual(s.capacity);
    expect(s.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    expect(s.addresses).toEqual([{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'n1' }]);
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory'], ['DiskPressure', 'False', 'KubeletHasNoDiskPressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID'], ['Ready', 'True', 'KubeletReady'],
    ]);
    expect(s.nodeInfo).toMatchObject({ kubeletVersion: 'v1.34.4', containerRuntimeVersion: 'bij-process://0.1.0', operatingSystem: 'linux', architecture: 'amd64' });
  });
  test('no GPUs: no nvidia.com/gpu', () => expect(nodeStatus({ ...f, gpus: 0 }, T1, T0).capacity).not.toHaveProperty('nvidia.com/gpu'));
});
