/**
 * The operator's commands: `bij validate`, `bij operator`, `bij crd`. The operator image runs them from
 * main.ts; the full `bij` command (cluster/src/cli/main.ts) adds the local-cluster commands.
 */
import type { Command } from 'commander';
import { renderCrdYaml } from '../api/crd.js';
import { makeLogger } from '../log.js';
import { commaList, nonNegativeInt, positiveInt } from './args.js';
import { readJobFile, resolveLocalPaths } from './job-file.js';
import { operatorCommand } from './operator.js';
import { validateCommand } from './validate.js';

export function addOperatorCommands(program: Command): Command {
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

  program.command('crd')
    .description('print the BatchInferenceJob CustomResourceDefinition (YAML)')
    .action(() => {
      process.stdout.write(renderCrdYaml());
    });
  return program;
}
