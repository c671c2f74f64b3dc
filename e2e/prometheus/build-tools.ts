/**
 * `node dist/e2e/prometheus/build-tools.js` (.ci/run): builds promtool and prometheus from the module
 * pinned in tools/prometheus into the cache outside the checkout (reused when present) and prints where.
 */
import { goBinaryPath } from '../../cluster/src/go-binary.js';
import { PROMETHEUS_PINS, buildPrometheusTools } from './binaries.js';

async function main(): Promise<void> {
  const started = Date.now();
  const built = await buildPrometheusTools({
    onBuild: (i) => process.stderr.write(`prometheus-tools: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`),
    log: (s) => process.stderr.write(s),
  });
  for (const name of ['promtool', 'prometheus'] as const) {
    const { module, version } = goBinaryPath(PROMETHEUS_PINS[name]);
    process.stdout.write(`${name.padEnd(12)} ${built[name]}  (${module}@${version})\n`);
  }
  process.stderr.write(`prometheus-tools: ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((e: unknown) => {
  console.error(`prometheus-tools: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
