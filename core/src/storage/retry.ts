/** Retry with exponential backoff and full jitter: the one place S3 requests are retried (the SDK
 * client itself runs with maxAttempts 1). */
import { RetriesExhaustedError } from './backend-errors.js';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  maxAttempts: number;
  /** Attempt n (n >= 1) failing waits a random time in [0, min(maxMs, baseMs * 2^(n-1))). */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseMs: 200, maxMs: 20_000 };

export interface RetryInfo {
  label: string;
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface RetryOptions extends RetryPolicy {
  /** Names the request in the error thrown when attempts run out, e.g. "S3 GetObject s3://b/k". */
  label: string;
  isRetryable(e: unknown): boolean;
  /** One line about an error, for the final message. */
  describe?(e: unknown): string;
  onRetry?(info: RetryInfo): void;
  random?(): number;
  sleep?(ms: number): Promise<void>;
}

/** The wait after failed attempt `attempt` (1-based): full jitter over an exponentially growing cap. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable (thrown as is), or has failed
 * `maxAttempts` times with retryable errors (then RetriesExhaustedError, the last error as cause).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts));
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!opts.isRetryable(e)) throw e;
      if (attempt >= maxAttempts) {
        const last = opts.describe ? opts.describe(e) : e instanceof Error ? e.message : String(e);
        throw new RetriesExhaustedError(
          `${opts.label} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${last}`,
          attempt,
          { cause: e },
        );
      }
      const delayMs = backoffDelay(attempt, opts, opts.random);
      opts.onRetry?.({ label: opts.label, attempt, delayMs, error: e });
      if (delayMs > 0) await sleep(delayMs);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of items. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
