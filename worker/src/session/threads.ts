/** How many CPUs this process may use: os.availableParallelism(), capped by a cgroup CPU quota. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** cgroup v2 `cpu.max` ("<quota> <period>" or "max <period>") -> CPUs, or undefined when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  return cpusFromQuota(quota, period ?? '100000');
}

/** cgroup v1 `cpu.cfs_quota_us` (-1 when unlimited) and `cpu.cfs_period_us`. */
export function parseCfsQuota(quotaText: string, periodText: string): number | undefined {
  return cpusFromQuota(quotaText.trim(), periodText.trim());
}

function cpusFromQuota(quota: string | undefined, period: string): number | undefined {
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface CpuOptions {
  /** Where the cgroup filesystem is mounted (tests point this at a fixture). */
  cgroupRoot?: string;
  /** What the OS offers this process (default os.availableParallelism()). */
  parallelism?: number;
}

/** CPUs available to this process: the smaller of the OS's count and the cgroup quota (v2, else v1). */
export function availableCpus(options: CpuOptions = {}): number {
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const os = options.parallelism ?? availableParallelism();
  const v2 = readOr(join(root, 'cpu.max'));
  let quota = v2 === undefined ? undefined : parseCpuMax(v2);
  if (v2 === undefined) {
    const q = readOr(join(root, 'cpu', 'cpu.cfs_quota_us')) ?? readOr(join(root, 'cpu,cpuacct', 'cpu.cfs_quota_us'));
    const p = readOr(join(root, 'cpu', 'cpu.cfs_period_us')) ?? readOr(join(root, 'cpu,cpuacct', 'cpu.cfs_period_us'));
    if (q !== undefined && p !== undefined) quota = parseCfsQuota(q, p);
  }
  return Math.max(1, quota === undefined ? os : Math.min(os, quota));
}
