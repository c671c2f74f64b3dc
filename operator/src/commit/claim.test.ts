import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../../core/src/storage/index.js';
import { OutputClaimedError, checkFence, claimOutput, currentClaim, releaseClaim, renewIfDue, type Claimant } from './claim.js';

const storage = openStorage();
const T0 = new Date('2026-12-04T10:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const TTL = 60_000;
const who = (runId: string, name = 'a', uid = `uid-${name}`): Claimant => ({ runId, job: { namespace: 'ns', name, uid } });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('output claims', () => {
  let out: string;
  beforeEach(() => {
    out = join(mkdtempSync(join(tmpdir(), 'bij-claim-')), 'out') + '/';
  });

  test('the first claimant owns the output; claiming again is a no-op for the owner', async () => {
    const c = await claimOutput(storage, out, who('r1'), T0, TTL);
    expect(c).toMatchObject({ epoch: 1, runId: 'r1', job: { namespace: 'ns', name: 'a' }, claimedAt: T0.toISOString() });
    expect(await claimOutput(storage, out, who('r1'), later(1000), TTL)).toEqual(c);
    expect(await currentClaim(storage, out)).toEqual(c);
  });

  test('another job is refused while the claim lives, with the owner named', async () => {
    await claimOutput(storage, out, who('r1'), T0, TTL);
    const err = await refusal(claimOutput(storage, out, who('r2', 'b'), later(TTL - 1), TTL));
    expect(err).toBeInstanceOf(OutputClaimedError);
    expect((err as Error).message).toMatch(/belongs to run r1 of BatchInferenceJob ns\/a \(claimed at 2026-12-04T10:00:00.000Z, renewed at 2026-12-04T10:00:00.000Z\).*lapses at 2026-12-04T10:01:00.000Z/);
  });

  test('a lapsed claim is taken over at the next epoch, and the stale owner is fenced off', async () => {
    const old = await claimOutput(storage, out, who('r1'), T0, TTL);
    const taken = await claimOutput(storage, out, who('r2', 'b'), later(TTL), TTL);
    expect(taken.epoch).toBe(2);
    await expect(checkFence(storage, out, taken)).resolves.toBeUndefined();
    const fenced = await refusal(checkFence(storage, out, old));
    expect(fenced).toBeInstanceOf(OutputClaimedError);
    expect((fenced as Error).message).toMatch(/run r1 no longer owns .*: run r2 of BatchInferenceJob ns\/b .* took it over/);
    // The stale owner cannot renew its way back either.
    expect(await refusal(renewIfDue(storage, out, old, later(TTL + 30_000)))).toBeInstanceOf(OutputClaimedError);
  });

  test('a released claim can be taken at once; a new run of the same job takes over without waiting', async () => {
    await claimOutput(storage, out, who('r1'), T0, TTL);
    expect((await claimOutput(storage, out, who('r2'), later(1), TTL)).epoch).toBe(2); // same uid, new run
    await releaseClaim(storage, out, 'r2', later(2));
    expect((await claimOutput(storage, out, who('r3', 'b'), later(3), TTL))).toMatchObject({ epoch: 3, runId: 'r3' });
    await releaseClaim(storage, out, 'r2', later(4)); // not the owner any more: a no-op
    expect((await currentClaim(storage, out))?.released).toBe(false);
    // Only the owner's claim and the one before it are kept.
    const left = [];
    for await (const o of storage.list(out + '_bij/claims/')) left.push(o.uri.slice(-15));
    expect(left).toEqual(['0000000002.json', '0000000003.json']);
  });

  test('renewal rewrites the owner\'s claim once a third of the TTL has passed', async () => {
    const c = await claimOutput(storage, out, who('r1'), T0, TTL);
    expect(await renewIfDue(storage, out, c, later(TTL / 3 - 1))).toBe(c);
    const renewed = await renewIfDue(storage, out, c, later(TTL / 2));
    expect(renewed.renewedAt).toBe(later(TTL / 2).toISOString());
    expect(await currentClaim(storage, out)).toEqual(renewed);
    // Renewed, so still alive for another TTL from then.
    expect(await refusal(claimOutput(storage, out, who('r9', 'z'), later(TTL + 1), TTL))).toBeInstanceOf(OutputClaimedError);
  });

  test('of many claimants racing for a fresh output, exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => refusal(claimOutput(storage, out, who(`r${i}`, `j${i}`), T0, TTL)).then((e) => e ?? i)));
    const winners = results.filter((r) => typeof r === 'number');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r instanceof OutputClaimedError)).toHaveLength(15);
    expect((await currentClaim(storage, out))?.runId).toBe(`r${winners[0]}`);
  });
});
