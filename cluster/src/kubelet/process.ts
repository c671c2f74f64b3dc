/**
 * One pod's container as a local process: spawned in its own process group (signals go to the whole
 * group, as a container's processes share a fate), stdout and stderr written to the pod's log file in
 * the CRI format with per-line timestamps, and fd 3 a pipe this kubelet never writes to, so the worker
 * sees it close and exits if the kubelet dies (worker/src/parent-watch.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { ENV } from '../../../core/src/contract/process.js';
import { formatEntry, LineSplitter, type LogEntry, type Stream } from './log-format.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  finishedAt: Date;
}

export interface PodProcess {
  pid: number;
  startedAt: Date;
  /** Resolves when the process has exited and its output is in the log file. */
  exited: Promise<ProcessExit>;
  /** Signals the process group; false if it is gone. */
  signal(sig: NodeJS.Signals): boolean;
  readonly done: boolean;
}

export interface SpawnOptions {
  argv: string[];
  env: Record<string, string>;
  logFile: string;
  terminationFile: string;
}

export function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Spawns the process; rejects if it cannot start at all (e.g. ENOENT), naming the argv. */
export function spawnPodProcess(o: SpawnOptions): Promise<PodProcess> {
  const child: ChildProcess = spawn(o.argv[0], o.argv.slice(1), {
    env: { ...o.env, [ENV.terminationLog]: o.terminationFile, [ENV.parentPipeFd]: '3' },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const write = (entries: LogEntry[]) => { for (const e of entries) log.write(formatEntry(e)); };
  const splitters: LineSplitter[] = [];
  const pipe = (stream: NodeJS.ReadableStream | null, name: Stream) => {
    if (!stream) return;
    const s = new LineSplitter(name);
    splitters.push(s);
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => write(s.push(d)));
  };
  pipe(child.stdout, 'stdout');
  pipe(child.stderr, 'stderr');
  (child.stdio[3] as { unref?: () => void } | null)?.unref?.();

  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      log.end();
      reject(new Error(`cannot start ${JSON.stringify(o.argv)}: ${err.message}`, { cause: err }));
    });
    child.once('spawn', () => {
      const pid = child.pid!;
      let done = false;
      let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      // When the main process ends, the rest of its group goes too (a container's processes die with it).
      child.once('exit', (code, signal) => {
        exitInfo = { code, signal };
        signalGroup(pid, 'SIGKILL');
        // fd 3 is never read: close it here, or 'close' would wait for it
        (child.stdio[3] as { destroy?: () => void } | null)?.destroy?.();
      });
      const exited = new Promise<ProcessExit>((res) => {
        child.once('close', (code, signal) => {
          for (const s of splitters) write(s.flush());
          const info = exitInfo ?? { code, signal };
          log.end(() => {
            done = true; // the log file now holds all of it
            res({ ...info, finishedAt: new Date() });
          });
        });
      });
      resolve({
        pid, startedAt: new Date(), exited,
        signal: (sig) => !done && signalGroup(pid, sig),
        get done() { return done; },
      });
    });
  });
}

export function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
