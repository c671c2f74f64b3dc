/**
 * One run owns an output prefix at a time, and the store, not hope, enforces it.
 *
 * A claim is a numbered file, `<output>/_bij/claims/<epoch>.json`, created with a conditional write
 * (S3 `If-None-Match: *`, O_EXCL on files): of two runs that race for the same epoch, exactly one
 * wins. The owner is the claim with the highest epoch. A run claims the output before it writes
 * anything there, renews its claim while it runs and releases it when it ends. A claim that is
 * released, or not renewed within its TTL (its run died), can be taken over by claiming the next
 * epoch. Fencing: before the commit touches the output, and again before `_manifest.json` and
 * `_SUCCESS`, the committer checks that its epoch is still the highest, so a stale owner's late
 * commit (a process that was paused past its TTL) fails instead of overwriting a newer run.
 *
 * Two BatchInferenceJobs naming one output, two `bij run`s, two clusters: the second claimant fails
 * at once with a message naming the owner. A new run of the same BatchInferenceJob (its spec changed)
 * takes over from the old one without waiting: the operator stops the old run first.
 */
import { z } from 'zod';
import type { Storage } from '../../../core/src/storage/types.js';
import { isAlreadyExists } from '../../../core/src/storage/backend-errors.js';
import { BIJ_DIR, joinUri, pad } from '../../../core/src/contract/index.js';

export const CLAIMS_DIR = 'claims';
/** A claim not renewed for this long belongs to a run that is gone. */
export const DEFAULT_CLAIM_TTL_MS = 10 * 60_000;

const EPOCH_WIDTH = 10;
const CLAIM_FILE = /\/claims\/(\d+)\.json$/;

export const ClaimSchema = z.object({
  kind: z.literal('OutputClaim'),
  epoch: z.number().int().positive(),
  runId: z.string(),
  job: z.object({ namespace: z.string().optional(), name: z.string(), uid: z.string().optional() }),
  claimedAt: z.string(),
  renewedAt: z.string(),
  ttlMs: z.number().int().positive(),
  released: z.boolean().default(false),
});
export type Claim = z.infer<typeof ClaimSchema>;

export interface Claimant {
  runId: string;
  job: Claim['job'];
}

export const claimsPrefix = (outputUri: string): string => joinUri(outputUri, BIJ_DIR, CLAIMS_DIR) + '/';
export const claimUri = (outputUri: string, epoch: number): string => joinUri(outputUri, BIJ_DIR, CLAIMS_DIR, `${pad(epoch, EPOCH_WIDTH)}.json`);

const jobText = (j: Claim['job']): string => (j.namespace ? `${j.namespace}/${j.name}` : j.name);
const describe = (c: Claim): string => `run ${c.runId} of BatchInferenceJob ${jobText(c.job)} (claimed at ${c.claimedAt}, renewed at ${c.renewedAt})`;

/** Another run owns the output: the run cannot start (or go on). Terminal, with the owner named. */
export class OutputClaimedError extends Error {
  override readonly name = 'OutputClaimedError';
  constructor(message: string, readonly owner?: Claim) {
    super(message);
  }
}

export const isExpired = (c: Claim, now: Date): boolean => c.released || Date.parse(c.renewedAt) + c.ttlMs <= now.getTime();

/** The claim with the highest epoch, or undefined when nobody ever claimed the output. */
export async function currentClaim(storage: Storage, outputUri: string): Promise<Claim | undefined> {
  let top: { epoch: number; uri: string } | undefined;
  for await (const o of storage.list(claimsPrefix(outputUri))) {
    const m = CLAIM_FILE.exec(o.uri);
    if (m && (!top || Number(m[1]) > top.epoch)) top = { epoch: Number(m[1]), uri: o.uri };
  }
  if (!top) return undefined;
  const parsed = ClaimSchema.safeParse(JSON.parse(await storage.readText(top.uri)));
  if (!parsed.success) throw new Error(`${top.uri} is not an output claim: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

const write = (storage: Storage, outputUri: string, c: Claim, create: boolean) =>
  storage.write(claimUri(outputUri, c.epoch), JSON.stringify(c) + '\n', { ifNoneMatch: create, contentType: 'application/json' });

/**
 * Claims the output for `me`, or returns the claim it already holds (renewed if due). Throws
 * OutputClaimedError naming the owner when another run holds a live claim.
 */
export async function claimOutput(storage: Storage, outputUri: string, me: Claimant, now: Date, ttlMs = DEFAULT_CLAIM_TTL_MS): Promise<Claim> {
  for (let tries = 0; tries < 5; tries++) {
    const cur = await currentClaim(storage, outputUri);
    if (cur && cur.runId === me.runId && !cur.released) return renewIfDue(storage, outputUri, cur, now);
    const sameJob = cur !== undefined && me.job.uid !== undefined && cur.job.uid === me.job.uid;
    if (cur && !sameJob && !isExpired(cur, now)) {
      const until = new Date(Date.parse(cur.renewedAt) + cur.ttlMs).toISOString();
      throw new OutputClaimedError(
        `the output ${outputUri} belongs to ${describe(cur)}; two runs must not write one output at once. ` +
        `Choose another spec.output.uri, or wait for that run to end (its claim lapses at ${until} if it is gone)`, cur);
    }
    const at = now.toISOString();
    const mine: Claim = { kind: 'OutputClaim', epoch: (cur?.epoch ?? 0) + 1, runId: me.runId, job: me.job, claimedAt: at, renewedAt: at, ttlMs, released: false };
    try {
      await write(storage, outputUri, mine, true);
      await pruneClaims(storage, outputUri, mine.epoch - 1);
      return mine;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Another claimant took this epoch first: look again (it is the owner now, unless it is us).
    }
  }
  throw new Error(`could not claim ${outputUri}: the claims under ${claimsPrefix(outputUri)} kept changing`);
}

/** Deletes claims below `keepFrom` (only the highest counts; the one before it stays as a record). */
async function pruneClaims(storage: Storage, outputUri: string, keepFrom: number): Promise<void> {
  const old: string[] = [];
  for await (const o of storage.list(claimsPrefix(outputUri))) {
    const m = CLAIM_FILE.exec(o.uri);
    if (m && Number(m[1]) < keepFrom) old.push(o.uri);
  }
  for (const uri of old) await storage.delete(uri);
}

/** Whether `mine` is still the owning claim; throws OutputClaimedError naming the new owner if not. */
export async function checkFence(storage: Storage, outputUri: string, mine: Pick<Claim, 'epoch' | 'runId'>): Promise<void> {
  const cur = await currentClaim(storage, outputUri);
  if (cur && cur.epoch === mine.epoch && cur.runId === mine.runId) return;
  if (!cur) throw new OutputClaimedError(`the claim of run ${mine.runId} on ${outputUri} is gone (deleted outside the operator?)`);
  throw new OutputClaimedError(`run ${mine.runId} no longer owns ${outputUri}: ${describe(cur)} took it over`, cur);
}

/** Renews a held claim when a third of its TTL has passed. Only the owner writes its epoch's file. */
export async function renewIfDue(storage: Storage, outputUri: string, c: Claim, now: Date): Promise<Claim> {
  if (now.getTime() - Date.parse(c.renewedAt) < c.ttlMs / 3) return c;
  await checkFence(storage, outputUri, c);
  const renewed = { ...c, renewedAt: now.toISOString() };
  await write(storage, outputUri, renewed, false);
  return renewed;
}

/** Ends a run's claim, so another run may claim the output at once. A no-op if it is not the owner. */
export async function releaseClaim(storage: Storage, outputUri: string, runId: string, now: Date): Promise<void> {
  const cur = await currentClaim(storage, outputUri);
  if (!cur || cur.runId !== runId || cur.released) return;
  await write(storage, outputUri, { ...cur, released: true, renewedAt: now.toISOString() }, false);
}
