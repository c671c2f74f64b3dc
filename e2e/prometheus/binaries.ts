/**
 * The real Prometheus tools the monitoring tests run, built from github.com/prometheus/prometheus as
 * pinned in tools/prometheus (v0.316.0, which is Prometheus 3.16.0) into the cache outside the tree
 * (cluster/src/go-binary.ts):
 *
 *   promtool    `promtool check rules`, `promtool test rules` on helm/bij-operator/rules
 *   prometheus  the server that scrapes the operator in e2e/prometheus/dashboard.test.ts
 *
 * Both are built with the tag `remove_all_sd`: Prometheus' own switch that leaves out every cloud
 * service discovery (AWS, Azure, GCE, Kubernetes, ...; static, file and HTTP discovery stay), which
 * roughly halves what is compiled. The server's web UI is not in the Go module (its assets are
 * built by npm and embedded only with the `builtinassets` tag, which would not compile without
 * them), so the built server has no UI pages: its HTTP API, all these tests use, is complete.
 */
import { ensureGoBinary, goBinaryPath, type EnsureOptions, type GoToolPin } from '../../cluster/src/go-binary.js';

/** Go module version v0.3YY.Z is Prometheus 3.YY.Z: what `--version` reports, as Prometheus' own build stamps it. */
export function prometheusVersion(moduleVersion: string): string {
  const m = /^v0\.(\d+)\.(\d+)/.exec(moduleVersion);
  if (!m) return moduleVersion.replace(/^v/, '');
  const n = Number(m[1]);
  return `${Math.floor(n / 100)}.${n % 100}.${m[2]}`;
}

const versionVars = (version: string): Record<string, string> => ({
  'github.com/prometheus/common/version.Version': prometheusVersion(version),
});

const pin = (name: 'promtool' | 'prometheus'): GoToolPin => ({
  name, pinDir: 'tools/prometheus', pkg: `github.com/prometheus/prometheus/cmd/${name}`, tags: ['remove_all_sd'], linkerVars: versionVars,
});

export const PROMETHEUS_PINS = { promtool: pin('promtool'), prometheus: pin('prometheus') } as const;

export const promtoolPath = (): string => goBinaryPath(PROMETHEUS_PINS.promtool).bin;
export const prometheusPath = (): string => goBinaryPath(PROMETHEUS_PINS.prometheus).bin;

/** Both binaries, built first if the cache lacks them (minutes on 2 cores, once per pin). */
export async function buildPrometheusTools(opts: EnsureOptions = {}): Promise<{ promtool: string; prometheus: string }> {
  return {
    promtool: await ensureGoBinary(PROMETHEUS_PINS.promtool, opts),
    prometheus: await ensureGoBinary(PROMETHEUS_PINS.prometheus, opts),
  };
}
