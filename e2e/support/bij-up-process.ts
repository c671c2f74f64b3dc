/**
 * `bij up` as a user runs it: a real process (`node bin/bij.js up`) in a working folder, read until it
 * prints `export KUBECONFIG=...`, stopped with SIGINT (Ctrl-C) like a terminal would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { faultEnv } from './fault-env.js';

export interface BijUp {
  child: ChildProcess;
  kubeconfig: string;
  output(): string;
  /** SIGINT, then waits for the exit (SIGKILL after `ms`). */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `env` is added to bij up's environment, which its pods inherit (as a node's environment). */
export async function startBijUp(cwd: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<BijUp> {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'bij.js'), 'up', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: faultEnv({ ...process.env, ...env }) });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kubeconfig = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bij up printed no KUBECONFIG within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = (): void => {
      const m = /^export KUBECONFIG=(.+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].trim());
      }
    };
    child.stdout!.on('data', check);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`bij up exited (${e.signal ?? e.code}) before it was ready:\n${out}`));
    });
  });
  return {
    child, kubeconfig,
    output: () => out,
    stop: async (ms = 30_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
