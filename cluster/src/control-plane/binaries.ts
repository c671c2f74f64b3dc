/**
 * The four upstream binaries of the local control plane, and where they come from, first match wins:
 *
 *   1. `$KUBEBUILDER_ASSETS/<name>` (envtest's convention; setup-envtest users have etcd and kube-apiserver there)
 *   2. the build cache, filled by `npm run control-plane` from the modules pinned in tools/kubernetes and
 *      tools/etcd (Kubernetes v1.34, etcd v3.6; see go-binary.ts for the cache's layout)
 *   3. the PATH
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureGoBinary, goBinaryPath, type EnsureOptions, type GoToolPin } from '../go-binary.js';

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type BinaryName = (typeof BINARIES)[number];
export type ControlPlaneBinaries = Record<BinaryName, string>;

/** What Kubernetes' own build stamps into its binaries, so /version (and kubectl's skew check) reads v1.34.x. */
function kubeVersionVars(version: string): Record<string, string> {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const vars: Record<string, string> = {};
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    Object.assign(vars, {
      [`${pkg}.gitVersion`]: version, [`${pkg}.gitMajor`]: major, [`${pkg}.gitMinor`]: minor, [`${pkg}.gitTreeState`]: 'clean',
    });
  }
  return vars;
}

const kube = (name: BinaryName): GoToolPin => ({ name, pinDir: 'tools/kubernetes', pkg: `k8s.io/kubernetes/cmd/${name}`, linkerVars: kubeVersionVars });

export const PINS: Record<BinaryName, GoToolPin> = {
  etcd: { name: 'etcd', pinDir: 'tools/etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  'kube-apiserver': kube('kube-apiserver'),
  'kube-controller-manager': kube('kube-controller-manager'),
  'kube-scheduler': kube('kube-scheduler'),
};

export type BinarySource = 'KUBEBUILDER_ASSETS' | 'cache' | 'PATH';

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
};

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The cache path of a pinned binary, or undefined when this is no checkout (no tools/ pins). */
function cached(name: BinaryName): string | undefined {
  try {
    return goBinaryPath(PINS[name]).bin;
  } catch {
    return undefined;
  }
}

export function locateBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env): { path: string; source: BinarySource } | undefined {
  const assets = env.KUBEBUILDER_ASSETS;
  if (assets && executable(path.join(assets, name))) return { path: path.join(assets, name), source: 'KUBEBUILDER_ASSETS' };
  const c = cached(name);
  if (c && existsSync(c)) return { path: c, source: 'cache' };
  const p = onPath(name, env);
  return p ? { path: p, source: 'PATH' } : undefined;
}

export const HOW_TO_GET_BINARIES = [
  'build them once with `npm run control-plane` (Go 1.26+, a few minutes per binary; cached outside the checkout)',
  'or point KUBEBUILDER_ASSETS at a folder holding them (setup-envtest\'s folder has etcd and kube-apiserver)',
  'or put them on the PATH',
];

/** Every binary, or an error that names the missing ones and the three ways to get them. */
export function findControlPlane(env: NodeJS.ProcessEnv = process.env): ControlPlaneBinaries {
  const found: Partial<ControlPlaneBinaries> = {};
  const missing: BinaryName[] = [];
  for (const name of BINARIES) {
    const hit = locateBinary(name, env);
    if (hit) found[name] = hit.path;
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new Error(`the local control plane needs ${missing.join(', ')}, not found: ${HOW_TO_GET_BINARIES.join('; ')}`);
  }
  return found as ControlPlaneBinaries;
}

/** Builds into the cache whatever KUBEBUILDER_ASSETS does not already provide; returns every path. */
export async function buildControlPlane(opts: EnsureOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<Record<BinaryName, { path: string; source: BinarySource }>> {
  const env = opts.env ?? process.env;
  const out = {} as Record<BinaryName, { path: string; source: BinarySource }>;
  for (const name of BINARIES) {
    const assets = env.KUBEBUILDER_ASSETS;
    if (assets && executable(path.join(assets, name))) {
      out[name] = { path: path.join(assets, name), source: 'KUBEBUILDER_ASSETS' };
      continue;
    }
    out[name] = { path: await ensureGoBinary(PINS[name], opts), source: 'cache' };
  }
  return out;
}
