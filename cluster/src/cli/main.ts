/**
 * The `bij` command:
 *   bij run job.yaml        run a job on this machine (embedded cluster, real worker processes)
 *   bij validate job.yaml   schema and semantic checks, without running
 *   bij operator            the operator, against a cluster (in-cluster config or KUBECONFIG)
 *   bij up                  a real Kubernetes control plane, a process kubelet and the operator, here
 *   bij crd                 print the CustomResourceDefinition
 *   bij quickstart-data DIR create the quickstart's model and data if missing
 * The operator's own commands come from operator/src/cli/commands.ts; this file adds the local ones.
 */
import { Command } from 'commander';
import { BIJ_VERSION } from '../../../operator/src/version.js';
import { makeLogger } from '../../../operator/src/log.js';
import { nonNegativeInt, positiveInt } from '../../../operator/src/cli/args.js';
import { addOperatorCommands } from '../../../operator/src/cli/commands.js';
import { HOW_TO_GET_BINARIES } from '../control-plane/binaries.js';
import { upCommand } from '../up/command.js';
import { ensureQuickstartData } from './quickstart-data.js';
import { runCommand } from './run.js';

const program = new Command()
  .name('bij')
  .description('Batch ML inference on Kubernetes: BatchInferenceJob tools')
  .version(BIJ_VERSION)
  .showHelpAfterError();

program.command('run')
  .description('run a BatchInferenceJob on this machine, with no cluster')
  .argument('<job.yaml>', 'file holding a BatchInferenceJob')
  .option('--timeout <seconds>', 'give up after this long', positiveInt)
  .option('--workdir <dir>', 'where worker logs go (default: a temp folder)')
  .option('--max-pods <n>', 'worker processes at once on this machine', positiveInt)
  .option('-v, --verbose', 'print operator and runner logs')
  .action(async (file: string, opts: { timeout?: number; workdir?: string; maxPods?: number; verbose?: boolean }) => {
    process.exitCode = await runCommand(file, opts);
  });

addOperatorCommands(program);

program.command('up')
  .description('start a real Kubernetes cluster on this machine (etcd, kube-apiserver, controller manager, scheduler, a process kubelet) with the operator, until Ctrl-C')
  .option('--kubeconfig <path>', 'where to write the admin kubeconfig', '.bij/kubeconfig')
  .option('--data-dir <dir>', 'keep etcd\'s data here, so jobs survive a restart (default: temporary)')
  .option('--gpus <n>', 'nvidia.com/gpu the node advertises; faked: shard pods that ask for GPUs run on CPU', nonNegativeInt, 0)
  .option('-v, --verbose', 'print the kubelet\'s and the control plane\'s progress')
  .addHelpText('after', [
    '',
    'Relative paths in jobs (model.uri, input.uri, output.uri) resolve against the folder bij up runs in:',
    'the operator and every pod run there. Pods run this checkout\'s build (dist/): the worker for bij-worker',
    'images, the operator for bij-operator images (as installed by the Helm chart, with the pod\'s',
    'ServiceAccount token); any other image fails its pod with reason ImageNotMapped.',
    '',
    'It needs etcd, kube-apiserver, kube-controller-manager and kube-scheduler:',
    ...HOW_TO_GET_BINARIES.map((h) => `  - ${h}`),
  ].join('\n'))
  .action(async (opts: { kubeconfig: string; dataDir?: string; gpus: number; verbose?: boolean }) => {
    const log = makeLogger({ name: 'bij-up', level: opts.verbose ? 'info' : 'warn', destination: process.stderr });
    process.exitCode = await upCommand(opts, log);
  });

program.command('quickstart-data')
  .description('create the quickstart model and dataset under DIR if they are missing')
  .argument('<dir>')
  .action((dir: string) => {
    const created = ensureQuickstartData(dir);
    if (created.length > 0) console.log(`created ${created.length} quickstart file(s) under ${dir}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`bij: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
