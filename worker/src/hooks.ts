/**
 * Points in a shard attempt where a test may act: slow the attempt down, or end the process as a crash
 * would. Production installs nothing, so `shardHook` returns undefined at once and awaits nothing. The
 * fault suite installs a hook from a module it preloads into the worker process
 * (e2e/support/fault-hooks.ts, through NODE_OPTIONS=--import); no production code reads its settings.
 */
export type HookPoint = 'batch' | 'before-manifest';

export type ShardHook = (point: HookPoint, shard: number, attempt: number) => Promise<void> | undefined;

let installed: ShardHook | undefined;

export function installShardHook(hook: ShardHook | undefined): void {
  installed = hook;
}

/** `batch`: after each batch is written; `before-manifest`: right before the shard manifest. */
export function shardHook(point: HookPoint, shard: number, attempt: number): Promise<void> | undefined {
  return installed?.(point, shard, attempt);
}
