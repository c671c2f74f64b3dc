/**
 * Builds the pinned helm (tools/helm) into the cache if missing and prints where it is:
 *
 *   node dist/cluster/src/tools/helm-cli.js
 *
 * A module the proxy refuses fails it, naming the pinned module and version and Go's own message.
 */
import { helmBinary, helmBinaryPath } from './helm.js';

async function main(): Promise<void> {
  const started = Date.now();
  const bin = await helmBinary({
    onBuild: (i) => process.stderr.write(`helm: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`),
    log: (s) => process.stderr.write(s),
  });
  const { module, version } = helmBinaryPath();
  process.stdout.write(`helm ${bin}  (${process.env.BIJ_HELM_BIN ? 'BIJ_HELM_BIN' : `${module}@${version}`})\n`);
  if (Date.now() - started > 1000) process.stderr.write(`helm: ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((e: unknown) => {
  console.error(`helm: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
