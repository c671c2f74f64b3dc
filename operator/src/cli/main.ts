/**
 * The `bij` command:
 *   bij run job.yaml        run a job on this machine (embedded cluster, real worker processes)
 *   bij validate job.yaml   schema and semantic checks, without running
 *   bij operator            the operator, against a cluster (in-cluster config or KUBECONFIG)
 *   bij up                  a real Kubernetes control plane, a process kubelet and the operator, here
 *   bij crd                 print the CustomResourceDefinition
 *   bij quickstart-data DIR create the quickstart's model and data if missing
 */
import { Command, InvalidArgumentError } from 'commander';
import { makeLogger } from '../log.js';
import { readJobFile, resolveLocalPaths } from './job-file.js';
import { validateCommand } from './validate.js';
import { runCommand } from './run.js';
import { operatorCommand } from './operator.js';
import { renderCrdYaml } from '../api/crd.js';
import { upCommand } from '../../../cluster/src/up/command.js';
import { HOW_TO_GET_BINARIES } from '../../../cluster/src/control-plane/binaries.js';
import { ensureQuickstartData } from './quickstart-data.js';

const commaList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

const program = new Command()
  .name('bij')
  .description('Batch ML inference on Kubernetes: BatchInferenceJob tools')
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

program.command('validate')
  .description('check a BatchInferenceJob against the schema and the semantic rules')
  .argument('<job.yaml>')
  .action((file: string) => {
    process.exitCode = validateCommand(resolveLocalPaths(readJobFile(file), file), file);
  });

program.command('operator')
  .description('run the operator against a Kubernetes cluster')
  .option('--kubeconfig <path>', 'default: in-cluster config, else $KUBECONFIG or ~/.kube/config')
  .option('--namespace <ns>', 'watch one namespace (default: all)')
  .option('--metrics-port <port>', 'serve /metrics, /healthz, /readyz here (0: any free port)', nonNegativeInt, 8080)
  .option('--metrics-host <host>', 'address /metrics listens on', '0.0.0.0')
  .option('--lease-namespace <ns>', 'namespace of the leader-election Lease', process.env.POD_NAMESPACE ?? 'default')
  .option('--lease-name <name>', 'name of the leader-election Lease', 'bij-operator')
  .option('--no-leader-elect', 'act without a Lease (one replica only)')
  .option('--workers <n>', 'reconciles at once', positiveInt, 4)
  .option('--resync-ms <ms>', 'requeue every job this often, whatever the watches say (default 60000)', positiveInt)
  .option('--retry-backoff-ms <ms>', 'first retry delay of a failed shard, doubling to 30x (default 10000)', positiveInt)
  .option('--progress-poll-ms <ms>', 'how often running jobs re-read progress files (default 15000)', positiveInt)
  .option('--lease-duration-ms <ms>', 'leader lease duration (default 15000)', positiveInt)
  .option('--renew-deadline-ms <ms>', 'a leader that cannot renew within this stops leading (default 10000)', positiveInt)
  .option('--retry-period-ms <ms>', 'how often candidates try and the leader renews (default 2000)', positiveInt)
  .option('--allowed-image-prefixes <list>', 'comma-separated: worker images must start with one of these', commaList)
  .option('--allowed-service-accounts <list>', 'comma-separated: the only worker service accounts allowed', commaList)
  .option('--no-secret-env', 'refuse jobs whose worker.env or envFrom name Secrets (storage.s3.credentialsSecret stays allowed)')
  .action(async (opts) => {
    await operatorCommand(opts, makeLogger({ name: 'bij-operator' }));
  });

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

program.command('crd')
  .description('print the BatchInferenceJob CustomResourceDefinition (YAML)')
  .action(() => {
    process.stdout.write(renderCrdYaml());
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
