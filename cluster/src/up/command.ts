/** `bij up` on the command line: start, print how to use it, stop everything on SIGINT or SIGTERM. */
import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import type { Logger } from '../../../operator/src/log.js';
import { up } from './up.js';

export interface UpCommandOptions {
  kubeconfig: string;
  dataDir?: string;
  gpus: number;
}

export async function upCommand(o: UpCommandOptions, log: Logger): Promise<number> {
  const started = Date.now();
  const cluster = await up({ kubeconfig: o.kubeconfig, dataDir: o.dataDir, gpus: o.gpus, log });
  const cp = cluster.controlPlane;
  const version = await cp.kubeConfig().makeApiClient(k8s.VersionApi).getCode().then((v) => v.gitVersion, () => '(unknown version)');
  process.stdout.write([
    `bij up: Kubernetes ${version} control plane at ${cp.url}, node ${cluster.kubelet.nodeName} Ready, operator running (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `  operator log: ${cluster.operator().logFile}`,
    `  control-plane logs: ${path.join(cp.dir, 'logs')}`,
    o.dataDir ? `  etcd data kept in ${path.resolve(o.dataDir)}` : '  etcd data is temporary (--data-dir DIR keeps it)',
    '',
    `export KUBECONFIG=${cluster.kubeconfigPath}`,
    '',
  ].join('\n'));
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      process.stdout.write(`bij up: ${signal}, stopping the operator, the kubelet and the control plane\n`);
      resolve();
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
  await cluster.stop();
  process.stdout.write('bij up: stopped\n');
  return 0;
}
