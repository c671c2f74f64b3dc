/**
 * A worker started by a process on this machine (the local runner behind `bij run`) dies with it.
 * The runner hands the worker the read end of a pipe as file descriptor `BIJ_PARENT_PIPE_FD` and
 * never writes to it; when the runner dies, however it dies (kill -9 included), the kernel closes the
 * write end and the worker sees the pipe close. Then it exits at once: an orphan would go on writing
 * into a run nobody commits. In Kubernetes the variable is absent and this does nothing.
 */
import { Socket } from 'node:net';
import { ENV } from '../../core/src/contract/process.js';
/** The exit code of a worker whose parent died: worth retrying, if anyone is left to. */
const EXIT_PARENT_GONE = 75;

export function exitWithParent(env: NodeJS.ProcessEnv = process.env, exit: (code: number) => void = (c) => process.exit(c)): void {
  const raw = env[ENV.parentPipeFd];
  if (raw === undefined || raw === '') return;
  const fd = Number(raw);
  if (!Number.isInteger(fd) || fd < 3) return;
  const pipe = new Socket({ fd, readable: true, writable: false });
  const gone = () => exit(EXIT_PARENT_GONE);
  pipe.on('end', gone);
  pipe.on('close', gone);
  pipe.on('error', gone);
  pipe.resume();
  pipe.unref(); // watching the parent must not keep the worker alive
}
