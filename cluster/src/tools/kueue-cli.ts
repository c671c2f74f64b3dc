/**
 * Builds the pinned kueue (tools/kueue) into the cache if missing and prints where it is:
 *
 *   node dist/cluster/src/tools/kueue-cli.js
 *
 * A module the proxy refuses fails it, naming the pinned module and version and Go's own message.
 */
import { kueueBinary, kueueBinaryPath } from './kueue.js';

async function main(): Promise<void> {
  const started = Date.now();
  const bin = await kueueBinary({
    onBuild: (i) => process.stderr.write(`kueue: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`),
    log: (s) => process.stderr.write(s),
  });
  const { module, version } = kueueBinaryPath();
  process.stdout.write(`kueue ${bin}  (${process.env.BIJ_KUEUE_BIN ? 'BIJ_KUEUE_BIN' : `${module}@${version}`})\n`);
  if (Date.now() - started > 1000) process.stderr.write(`kueue: ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((e: unknown) => {
  console.error(`kueue: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
