/**
 * A real Prometheus server for a test: on a free loopback port, with its TSDB in a temporary folder,
 * read until /-/ready answers, and stopped (SIGTERM, SIGKILL after 10 s) by `stop()`, which also
 * removes the folder. Its HTTP API is what the tests use (the built server has no UI: binaries.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface PrometheusServer {
  url: string;
  dir: string;
  child: ChildProcess;
  output(): string;
  /** GET /api/v1/<path>; throws unless the API says success. */
  api<T = unknown>(apiPath: string, params?: Record<string, string | string[]>): Promise<T>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `config` is prometheus.yml; `files` are written beside it (e.g. a rule file it names). */
export async function startPrometheus(bin: string, config: string, files: Record<string, string> = {}, timeoutMs = 30_000): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bij-prometheus-'));
  writeFileSync(path.join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(bin, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const api = async <T>(apiPath: string, params: Record<string, string | string[]> = {}): Promise<T> => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
    const res = await fetch(`${url}/api/v1/${apiPath}?${qs}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${apiPath} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${out}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dir, child, output: () => out, api, stop };
}
