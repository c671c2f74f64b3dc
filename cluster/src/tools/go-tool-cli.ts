/**
 * Builds a pinned Go tool into the cache if missing and prints where it is:
 *
 *   node dist/cluster/src/tools/go-tool-cli.js helm     (tools/helm: helm v4, for the chart's tests)
 *   node dist/cluster/src/tools/go-tool-cli.js kueue    (tools/kueue: the Kueue manager, for e2e/kueue)
 *
 * A module the proxy refuses fails it, naming the pinned module and version and Go's own message.
 */
import type { EnsureOptions } from '../go-binary.js';
import { helmBinary, helmBinaryPath } from './helm.js';
import { kueueBinary, kueueBinaryPath } from './kueue.js';

interface Tool {
  /** The variable that names another binary instead (no build). */
  env: string;
  binary: (opts: EnsureOptions) => Promise<string>;
  path: () => { module: string; version: string };
}

const TOOLS: Record<string, Tool> = {
  helm: { env: 'BIJ_HELM_BIN', binary: helmBinary, path: helmBinaryPath },
  kueue: { env: 'BIJ_KUEUE_BIN', binary: kueueBinary, path: kueueBinaryPath },
};

async function main(name: string | undefined): Promise<void> {
  const tool = name ? TOOLS[name] : undefined;
  if (!name || !tool) throw new Error(`usage: go-tool-cli.js <${Object.keys(TOOLS).join('|')}>${name ? ` (not ${name})` : ''}`);
  const started = Date.now();
  const bin = await tool.binary({
    onBuild: (i) => process.stderr.write(`${name}: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`),
    log: (s) => process.stderr.write(s),
  });
  const { module, version } = tool.path();
  process.stdout.write(`${name} ${bin}  (${process.env[tool.env] ? tool.env : `${module}@${version}`})\n`);
  if (Date.now() - started > 1000) process.stderr.write(`${name}: ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

const name = process.argv[2];
main(name).catch((e: unknown) => {
  console.error(`${name ?? 'go-tool-cli'}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
