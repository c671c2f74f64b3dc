/**
 * The reaper: a small process that outlives whoever started the local cluster, for one purpose. Its
 * parent writes `+PGID` for each process group it starts and `-PGID` for each it has stopped itself,
 * over the reaper's stdin. When stdin closes (the parent finished, or died, kill -9 included: the kernel
 * closes the pipe), every group still listed gets SIGTERM, and SIGKILL two seconds later. So no etcd or
 * kube-apiserver outlives a test process that crashed or timed out.
 */
const groups = new Set<number>();
let buffered = '';

function signal(sig: NodeJS.Signals): void {
  for (const g of groups) {
    try {
      process.kill(-g, sig);
    } catch {
      groups.delete(g); // gone already
    }
  }
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    const n = Number(line.slice(1));
    if (!Number.isInteger(n) || n <= 1) continue;
    if (line.startsWith('+')) groups.add(n);
    else if (line.startsWith('-')) groups.delete(n);
  }
});
process.stdin.on('close', () => {
  if (groups.size === 0) process.exit(0);
  signal('SIGTERM');
  setTimeout(() => {
    signal('SIGKILL');
    process.exit(0);
  }, 2000);
});
// The parent's terminal may send its group SIGINT: the reaper is in a group of its own, but ignore it anyway.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
