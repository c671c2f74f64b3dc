/**
 * A point after each commit step where a test may act (end the process between `_manifest.json` and
 * `_SUCCESS`, as a SIGKILL would). Production installs nothing. The fault suite installs a hook from
 * a module it preloads into the operator process (e2e/support/fault-hooks.ts, through
 * NODE_OPTIONS=--import); no production code reads its settings.
 */
export type CommitStepHook = (step: number) => Promise<void> | void;

let installed: CommitStepHook | undefined;

export function installCommitStepHook(hook: CommitStepHook | undefined): void {
  installed = hook;
}

/** The installed hook, if any (the operator passes it to the Controller as commitAfterStep). */
export function commitStepHook(): CommitStepHook | undefined {
  return installed;
}
