/**
 * The launcher against the real binaries: it comes up with RBAC on, the admin kubeconfig works for a
 * real kubectl, a ServiceAccount identity is judged by RBAC, and no process outlives it: not after
 * stop(), and not after the process that started it is killed with SIGKILL (the reaper's job).
 */
import * as k8s from '@kubernetes/client-node';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../go-binary.js';
import { startControlPlane } from './launch.js';
import { issueClientCert } from './pki.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // a zombie is dead for our purposes
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('starts with RBAC, serves kubectl, and stop() leaves no process behind', async () => {
  const cp = await startControlPlane();
  const pids = cp.processes.map((p) => p.pid);
  try {
    expect(cp.processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    const out = execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'get', 'namespaces', '-o', 'name'], { encoding: 'utf8' });
    expect(out.split('\n')).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
    const version = await cp.kubeConfig().makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.34\.\d+$/);

    // A user with no bindings is refused by RBAC (403), not let through.
    const nobody = await issueClientCert(cp.pki.ca, 'nobody');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cp.kubeconfigFor('nobody', nobody));
    const err = await kc.makeApiClient(k8s.CoreV1Api).listNamespace().then(() => undefined, (e: unknown) => e as { code?: number });
    expect(err?.code).toBe(403);
    expect(pids.every(alive)).toBe(true);
  } finally {
    await cp.stop();
  }
  expect(pids.filter(alive)).toEqual([]);
}, 120_000);

test('a parent killed with SIGKILL leaves no process behind', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bij-cp-orphan-'));
  const launch = path.join(repoRoot(), 'dist', 'cluster', 'src', 'control-plane', 'launch.js');
  const script = path.join(dir, 'parent.mjs');
  const pidsFile = path.join(dir, 'pids');
  writeFileSync(script, [
    `import { startControlPlane } from ${JSON.stringify(launch)};`,
    `import { writeFileSync } from 'node:fs';`,
    `const cp = await startControlPlane();`,
    `writeFileSync(${JSON.stringify(pidsFile)}, cp.processes.map((p) => p.pid).join(','));`,
    `setInterval(() => {}, 1000);`,
  ].join('\n'));
  const parent = spawn(process.execPath, [script], { stdio: 'ignore' });
  let pids: number[] = [];
  try {
    await until('the control plane in the child', () => {
      try {
        pids = readFileSync(pidsFile, 'utf8').split(',').map(Number);
        return pids.length === 4;
      } catch {
        return false;
      }
    }, 100_000);
    expect(pids.every(alive)).toBe(true);
  } finally {
    parent.kill('SIGKILL');
  }
  await until('every control-plane process gone after its parent was killed', () => pids.every((p) => !alive(p)), 20_000);
}, 150_000);
