/**
 * The operator image's command (Dockerfile.operator): `bij validate`, `bij operator`, `bij crd`. It
 * holds nothing of the local cluster, so the image ships only the operator's code and dependencies.
 * The full `bij` command, with `run`, `up` and `quickstart-data`, is cluster/src/cli/main.ts.
 */
import { Command } from 'commander';
import { BIJ_VERSION } from '../version.js';
import { addOperatorCommands } from './commands.js';

const program = addOperatorCommands(new Command()
  .name('bij')
  .description('Batch ML inference on Kubernetes: the BatchInferenceJob operator')
  .version(BIJ_VERSION)
  .showHelpAfterError());

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`bij: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
