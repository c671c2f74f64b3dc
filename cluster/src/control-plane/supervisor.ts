/**
 * Starts the local cluster's processes, each in a process group of its own with its output in
 * `<logDir>/<name>.log`, and stops every one of them: in reverse order on stop() (SIGTERM, then SIGKILL
 * after the grace period), at once when this process exits, and through the reaper (reaper.ts) when this
 * process dies without running any exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../go-binary.js';

/** reaper.js beside this module when it runs from dist/; under jest (TypeScript sources) the built one. */
function reaperScript(): string {
  const sibling = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reaper.js');
  return existsSync(sibling) ? sibling : path.join(repoRoot(), 'dist', 'cluster', 'src', 'control-plane', 'reaper.js');
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves with the exit once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last `bytes` of its log. */
  tail(bytes?: number): string;
}

const live = new Set<Supervisor>();
let exitHook = false;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // gone already
  }
}

export class Supervisor {
  private readonly procs: ManagedProcess[] = [];
  private readonly reaper: ChildProcess;
  private stopping = false;
  /** Called when a process exits while the supervisor is not stopping. */
  onUnexpectedExit?: (p: ManagedProcess, code: number | null, signal: NodeJS.Signals | null) => void;

  constructor(private readonly logDir: string) {
    this.reaper = spawn(process.execPath, [reaperScript()], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    this.reaper.stdin!.on('error', () => undefined);
    this.reaper.unref();
    (this.reaper.stdin as unknown as { unref?: () => void }).unref?.();
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const s of live) for (const p of s.procs) if (p.child.exitCode === null && p.child.signalCode === null) killGroup(p.pid, 'SIGKILL');
      });
    }
  }

  /** The processes started so far, oldest first. */
  get processes(): readonly ManagedProcess[] {
    return this.procs;
  }

  start(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): ManagedProcess {
    const logFile = path.join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`cannot start ${name} (${bin})`);
    this.reaper.stdin!.write(`+${child.pid}\n`);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ code: null, signal: null }));
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.onUnexpectedExit?.(p, code, signal);
        resolve({ code, signal });
      });
    });
    const p: ManagedProcess = {
      name, child, pid: child.pid, logFile, exited,
      tail: (bytes = 3000) => {
        try {
          return readFileSync(logFile, 'utf8').slice(-bytes);
        } catch {
          return '';
        }
      },
    };
    this.procs.push(p);
    return p;
  }

  /** Stops every process, newest first; each gets SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        killGroup(p.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(p.pid, 'SIGKILL'), graceMs);
        await p.exited;
        clearTimeout(timer);
        // the group may hold more than the leader (e.g. a shell's children)
        killGroup(p.pid, 'SIGKILL');
      }
      this.reaper.stdin!.write(`-${p.pid}\n`);
    }
    this.reaper.stdin!.end();
    live.delete(this);
  }
}
