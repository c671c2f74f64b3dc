/**
 * The Node this kubelet registers, and the status heartbeat that keeps its conditions fresh. As the
 * real kubelet: create the Node, or (a restart, the Node kept) patch its labels and status; the node's
 * spec (taints set by the node lifecycle controller) is left alone, as NodeRestriction demands.
 */
import * as k8s from '@kubernetes/client-node';
import { statfsSync } from 'node:fs';
import os from 'node:os';
import type { Logger } from '../../../operator/src/log.js';
import { isAlreadyExists } from '../../../operator/src/kube/api-errors.js';
import { HOST_IP } from './pod-status.js';

export const KUBELET_VERSION = 'v1.34.4';
export const RUNTIME_VERSION = 'bij-process://0.1.0';
export const GPU_RESOURCE = 'nvidia.com/gpu';

export const strategicMerge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

export interface NodeFacts {
  name: string;
  port: number;
  gpus: number;
  /** How many pods the node takes at once (the scheduler honours it). */
  maxPods: number;
  cpus: number;
  memoryBytes: number;
  storageBytes: number;
  arch: string;
  kernel: string;
  osImage: string;
}

export function hostFacts(name: string, port: number, gpus: number, workDir: string, maxPods = 110): NodeFacts {
  const fs = statfsSync(workDir);
  return {
    name, port, gpus, maxPods, cpus: os.cpus().length, memoryBytes: os.totalmem(), storageBytes: fs.blocks * fs.bsize,
    arch: goArch(process.arch), kernel: os.release(), osImage: `${os.type()} ${os.release()}`,
  };
}

/** Node's process.arch in Go's GOARCH spelling (kubernetes.io/arch). */
export function goArch(arch: string): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[arch] ?? arch;
}

const ki = (bytes: number): string => `${Math.floor(bytes / 1024)}Ki`;
const ts = (d: Date): Date => d.toISOString().replace(/\.\d+Z$/, 'Z') as unknown as Date;

export function nodeLabels(f: NodeFacts): Record<string, string> {
  return { 'kubernetes.io/hostname': f.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': f.arch, 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': f.arch };
}

export function nodeConditions(now: Date, since: Date): k8s.V1NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string): k8s.V1NodeCondition =>
    ({ type, status, reason, message, lastHeartbeatTime: ts(now), lastTransitionTime: ts(since) });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/** Pure: the Node's status as this kubelet reports it. */
export function nodeStatus(f: NodeFacts, now: Date, since: Date): k8s.V1NodeStatus {
  const resources: Record<string, string> = {
    cpu: String(f.cpus), memory: ki(f.memoryBytes), pods: String(f.maxPods), 'ephemeral-storage': ki(f.storageBytes),
    ...(f.gpus > 0 ? { [GPU_RESOURCE]: String(f.gpus) } : {}),
  };
  return {
    capacity: resources,
    allocatable: resources,
    conditions: nodeConditions(now, since),
    addresses: [{ type: 'InternalIP', address: HOST_IP }, { type: 'Hostname', address: f.name }],
    daemonEndpoints: { kubeletEndpoint: { Port: f.port } },
    nodeInfo: {
      machineID: '', systemUUID: '', bootID: '',
      kernelVersion: f.kernel, osImage: f.osImage, operatingSystem: 'linux', architecture: f.arch,
      containerRuntimeVersion: RUNTIME_VERSION, kubeletVersion: KUBELET_VERSION, kubeProxyVersion: '',
    },
  };
}

/** Creates the Node, or brings a kept one up to date; returns its uid (the Lease's owner). */
export async function registerNode(core: k8s.CoreV1Api, f: NodeFacts, log: Logger): Promise<string> {
  const now = new Date();
  const status = nodeStatus(f, now, now);
  try {
    const created = await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name: f.name, labels: nodeLabels(f) }, status } });
    // status on create is kept for a Node (unlike most kinds), but write it again to be sure of it
    await core.patchNodeStatus({ name: f.name, body: { status } }, strategicMerge);
    log.info({ node: f.name, port: f.port, gpus: f.gpus }, 'node registered');
    return created.metadata!.uid!;
  } catch (e) {
    if (!isAlreadyExists(e)) throw new Error(`cannot register node ${f.name}`, { cause: e });
  }
  const updated = await core.patchNode({ name: f.name, body: { metadata: { labels: nodeLabels(f) } } }, strategicMerge);
  await core.patchNodeStatus({ name: f.name, body: { status } }, strategicMerge);
  log.info({ node: f.name, port: f.port, gpus: f.gpus }, 'node existed: labels and status updated');
  return updated.metadata!.uid!;
}

/** Refreshes the conditions' lastHeartbeatTime (kept transition times: the statuses do not change). */
export async function heartbeat(core: k8s.CoreV1Api, f: NodeFacts, since: Date): Promise<void> {
  await core.patchNodeStatus({ name: f.name, body: { status: { conditions: nodeConditions(new Date(), since) } } }, strategicMerge);
}
