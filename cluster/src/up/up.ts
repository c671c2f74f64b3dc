/**
 * `bij up`: a real Kubernetes cluster on this machine for trying the operator the way it runs in
 * production. It starts the control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler), the process kubelet (one Node; pods run as local processes of this checkout's
 * build), installs the CRD and the chart's RBAC, starts the unmodified operator (`bij operator`) as its
 * ServiceAccount, writes an admin kubeconfig, and runs until SIGINT or SIGTERM, when it stops all of it.
 *
 * Relative paths in jobs (`input.uri: data/features/`) resolve against the folder `bij up` runs in:
 * the operator and every pod run there.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../operator/src/log.js';
import { ensureQuickstartData } from '../cli/quickstart-data.js';
import { findControlPlane } from '../control-plane/binaries.js';
import { startControlPlane, type ControlPlane } from '../control-plane/launch.js';
import { Supervisor, type ManagedProcess } from '../control-plane/supervisor.js';
import { repoRoot } from '../go-binary.js';
import { startProcessKubelet, type ProcessKubelet } from '../kubelet/kubelet.js';
import { installCrd, installOperatorIdentity, OPERATOR_NAMESPACE } from './install.js';

export interface UpOptions {
  /** Where the admin kubeconfig goes (default `.bij/kubeconfig` under the working folder). */
  kubeconfig?: string;
  /** Keep etcd's data here, so jobs survive a restart. */
  dataDir?: string;
  /** nvidia.com/gpu the node advertises (faked: pods run on CPU). */
  gpus?: number;
  /** The working folder: relative job paths resolve here; `.bij/` holds logs. Default: process.cwd(). */
  cwd?: string;
  log: Logger;
  /** Extra `bij operator` flags. */
  operatorArgs?: string[];
}

export interface UpCluster {
  controlPlane: ControlPlane;
  kubelet: ProcessKubelet;
  kubeconfigPath: string;
  operator(): ManagedProcess;
  stop(): Promise<void>;
}

export async function up(o: UpOptions): Promise<UpCluster> {
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const stateDir = path.join(cwd, '.bij');
  const kubeconfigPath = path.resolve(cwd, o.kubeconfig ?? path.join('.bij', 'kubeconfig'));
  const binaries = findControlPlane(); // fails at once, naming the ways to get them
  // In this checkout, the README's example jobs read the quickstart's model and data: make them if missing.
  if (existsSync(path.join(cwd, 'examples', 'quickstart.yaml'))) {
    const made = ensureQuickstartData(path.join(cwd, 'examples'));
    if (made.length > 0) o.log.info({ files: made.length }, 'created the quickstart model and data under examples/');
  }
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });

  // The CRD goes in before the controller manager starts, so its garbage collector knows
  // BatchInferenceJobs at once (else a cascading delete in the first 30 s waits for its resync).
  const controlPlane = await startControlPlane({ binaries, dataDir: o.dataDir, log: (line) => o.log.info(line), beforeControllers: (admin) => installCrd(admin) });
  let kubelet: ProcessKubelet | undefined;
  const sup = new Supervisor(path.join(stateDir, 'logs'));
  let stopping = false;
  let operator: ManagedProcess | undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    await sup.stop(10_000);
    await kubelet?.stop();
    await controlPlane.stop();
  };
  try {
    const operatorKubeconfig = path.join(stateDir, 'operator.kubeconfig');
    writeFileSync(operatorKubeconfig, (await installOperatorIdentity(controlPlane)).kubeconfig, { mode: 0o600 });
    mkdirSync(path.dirname(kubeconfigPath), { recursive: true });
    writeFileSync(kubeconfigPath, controlPlane.kubeconfigFor('bij-admin', controlPlane.pki.admin, 'default'), { mode: 0o600 });

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    kubelet = await startProcessKubelet({
      controlPlane, gpus: o.gpus ?? 0, workDir: path.join(stateDir, 'kubelet'), baseEnv: env, log: o.log.child({ name: 'kubelet' }),
    });

    const bij = path.join(repoRoot(), 'bin', 'bij.js');
    const args = [
      bij, 'operator', `--kubeconfig=${operatorKubeconfig}`, `--lease-namespace=${OPERATOR_NAMESPACE}`,
      '--metrics-port=0', '--metrics-host=127.0.0.1', ...(o.operatorArgs ?? []),
    ];
    // Like a Deployment: an operator that exits (e.g. after losing its lease) is started again.
    let restarts = 0;
    const startOperator = (): void => {
      operator = sup.start('operator', process.execPath, args, { ...process.env, POD_NAME: `bij-up-${process.pid}`, POD_NAMESPACE: OPERATOR_NAMESPACE });
      const mine = operator;
      void mine.exited.then(({ code, signal }) => {
        if (stopping) return;
        restarts++;
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts, 5));
        o.log.warn({ code, signal, restartInMs: delay, log: mine.logFile }, 'the operator exited; restarting it');
        setTimeout(() => { if (!stopping) startOperator(); }, delay).unref();
      });
    };
    startOperator();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    controlPlane, kubelet, kubeconfigPath, stop,
    operator: () => operator!,
  };
}
