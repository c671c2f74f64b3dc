/**
 * `npm run control-plane`: builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from
 * the modules pinned in tools/etcd and tools/kubernetes into the cache outside the checkout (reused when
 * present), or takes those KUBEBUILDER_ASSETS already holds, and prints where each binary is. A module
 * the proxy refuses fails the command with the module and version named.
 */
import { goBinaryPath } from '../go-binary.js';
import { BINARIES, PINS, buildControlPlane } from './binaries.js';

async function main(): Promise<void> {
  const started = Date.now();
  const built = await buildControlPlane({
    onBuild: (i) => process.stderr.write(`control-plane: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`),
    log: (s) => process.stderr.write(s),
  });
  for (const name of BINARIES) {
    const { path, source } = built[name];
    const pinned = source === 'cache' ? ` ${goBinaryPath(PINS[name]).module}@${goBinaryPath(PINS[name]).version}` : '';
    process.stdout.write(`${name.padEnd(24)} ${path}  (${source}${pinned})\n`);
  }
  process.stderr.write(`control-plane: ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((e: unknown) => {
  console.error(`control-plane: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
