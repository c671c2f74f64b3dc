/**
 * The process kubelet: the one part of Kubernetes with no stand-in on this machine. It registers a
 * Node with the real API server (as system:node:<name>, so the Node authorizer and NodeRestriction
 * apply), keeps it Ready (a Lease in kube-node-lease, a status heartbeat), and runs each pod bound to it
 * as a local process, so the real scheduler, Job controller and `kubectl logs` do the rest.
 *
 * What it is not:
 * - No images: `imageMap` turns a container into an argv (by default the `bij-worker` image is this
 *   checkout's dist/worker/src/main.js, the `bij-operator` image its `bin/bij.js operator`, run with
 *   this Node; image-map.ts). An image it cannot map fails the pod with reason ImageNotMapped; it never
 *   runs something else in its place.
 * - One container per pod; init, sidecar and ephemeral containers are refused (UnsupportedPodSpec).
 * - restartPolicy Never (the operator's shard Jobs) and Always (a Deployment's pods, such as the
 *   operator's own from the Helm chart: restarted in place with the kubelet's CrashLoopBackOff).
 *   OnFailure is refused with reason UnsupportedPodSpec rather than run without its restarts.
 * - No volumes (emptyDir is ignored; the process sees the host's files), except the projected
 *   service-account token: a container that mounts it gets a bound token for the pod's ServiceAccount
 *   and KUBECONFIG naming a kubeconfig that uses it (service-account.ts). No probes (a started process
 *   is Ready), no resource limits (requests only schedule; an nvidia.com/gpu capacity is advertised but
 *   pods run on the CPU), no networking (pod IP = host IP 127.0.0.1: two pods listening on one port
 *   collide), no resourceFieldRef in env.
 * - stop() ends its processes without writing their status; a kubelet started again on the same node
 *   fails the pods that had a process (ContainerStatusUnknown), as the real kubelet does.
 *
 *   const kubelet = await startProcessKubelet({ controlPlane: cp, workDir, log, gpus: 2 });
 *   ...
 *   await kubelet.stop();
 */
import * as k8s from '@kubernetes/client-node';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { mkdirSync } from 'node:fs';
import type { ControlPlane } from '../control-plane/launch.js';
import { repoRoot } from '../go-binary.js';
import type { Logger } from '../../../operator/src/log.js';
import { SelfHealingInformer } from '../../../operator/src/kube/informer.js';
import { defaultImageMap, type ImageMapping } from './image-map.js';
import { every, renewLease } from './lease.js';
import { startLogsServer } from './logs-server.js';
import { heartbeat, hostFacts, registerNode } from './node.js';
import { PodWorkers } from './pods.js';

export interface ProcessKubeletOptions {
  controlPlane: Pick<ControlPlane, 'url' | 'pki' | 'nodeName' | 'kubeconfigFor'>;
  /** nvidia.com/gpu capacity to advertise (default 0). The GPUs are not real: pods run on the CPU. */
  gpus?: number;
  /** Pod logs and termination-message files. */
  workDir: string;
  /** Environment every pod process starts with (PATH, AWS_* for local S3, test settings). */
  baseEnv?: Record<string, string>;
  log: Logger;
  /** Maps a container to the argv that stands in for its image (default: defaultImageMap(repoRoot())). */
  imageMap?: (container: V1Container) => ImageMapping;
  /** Pod capacity of the node (default 110, the kubelet's): at most this many pods run at once. */
  maxPods?: number;
  /** Lease renewal interval; default 10 s. */
  leaseRenewMs?: number;
  /** Node status heartbeat interval; default 60 s. */
  statusRenewMs?: number;
  /** First restart delay of a restartPolicy Always container; default 10 s (the kubelet's), doubling to 5 min. */
  restartBackoffMs?: number;
}

export interface ProcessKubelet {
  nodeName: string;
  port: number;
  running(): { namespace: string; pod: string; job?: string; pid: number }[];
  /** Test hook: signals a pod's process group (by pod name or by its Job's name): a crash, not a deletion. */
  kill(name: string, signal?: NodeJS.Signals): boolean;
  onPodStarted?: (pod: V1Pod, pid: number) => void;
  /** Stops watching, SIGTERMs the pods (SIGKILL after their grace), stops the Lease, heartbeat and HTTPS server. */
  stop(): Promise<void>;
}

export async function startProcessKubelet(o: ProcessKubeletOptions): Promise<ProcessKubelet> {
  const { pki, nodeName } = o.controlPlane;
  const log = o.log.child({ node: nodeName });
  const gpus = o.gpus ?? 0;
  if (gpus > 0) log.warn({ gpus }, `advertising ${gpus} nvidia.com/gpu, but they are fake: pods run on the CPU`);
  mkdirSync(o.workDir, { recursive: true });
  const kc = new k8s.KubeConfig();
  kc.loadFromString(o.controlPlane.kubeconfigFor(`system:node:${nodeName}`, pki.kubeletClient));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);

  let kubelet: ProcessKubelet | undefined;
  const pods = new PodWorkers({
    core, workDir: o.workDir, baseEnv: o.baseEnv ?? {}, imageMap: o.imageMap ?? defaultImageMap(repoRoot()), log,
    onPodStarted: (pod, pid) => kubelet?.onPodStarted?.(pod, pid),
    apiServer: { url: o.controlPlane.url, caCert: pki.ca.cert }, restartBackoffMs: o.restartBackoffMs,
  });
  const server = await startLogsServer({
    tls: { cert: pki.kubeletServing.cert, key: pki.kubeletServing.key, ca: pki.ca.cert },
    logs: (ns, pod, container) => pods.logSource(ns, pod, container), log,
  });
  const stops: (() => Promise<void>)[] = [server.close];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const facts = hostFacts(nodeName, server.port, gpus, o.workDir, o.maxPods);
    const nodeUid = await registerNode(core, facts, log);
    const since = new Date();
    const lease = every(o.leaseRenewMs ?? 10_000, 'lease renewal', () => renewLease(coordination, nodeName, nodeUid), log);
    stops.push(lease.stop);
    await lease.first;
    const status = every(o.statusRenewMs ?? 60_000, 'node status heartbeat', () => heartbeat(core, facts, since), log);
    stops.push(status.stop);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const informer = new SelfHealingInformer<V1Pod>({
      kc, path: `/api/v1/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`,
      list: () => core.listPodForAllNamespaces({ fieldSelector }),
      log, name: `kubelet-pods-${nodeName}`,
      onObject: (kind, pod) => pods.onPod(kind, pod),
    });
    stops.push(() => pods.stop());
    stops.push(() => informer.stop());
    await informer.start();
  } catch (e) {
    await stopAll();
    throw new Error(`the process kubelet for node ${nodeName} did not start`, { cause: e });
  }
  const k: ProcessKubelet = {
    nodeName,
    port: server.port,
    running: () => pods.running(),
    kill: (name, signal = 'SIGKILL') => pods.kill_(name, signal),
    stop: stopAll,
  };
  kubelet = k;
  return k;
}
