/**
 * Output claims on a real S3 server (SeaweedFS) behind the fault proxy: the server's answer to a
 * conditional create (If-None-Match: *) decides which run owns an output, not a look before the write.
 */
import { useProxiedS3Clients } from '../../../e2e/support/s3-target.js';
import { OutputClaimedError, claimOutput, currentClaim } from './claim.js';

const CLAIMANTS = 16;
const s3 = useProxiedS3Clients(['scores'], CLAIMANTS);

test('16 runs claiming one output at once, each having seen no claim: the server lets exactly one create the claim', async () => {
  const output = 's3://scores/contended/';
  const claimPath = '/scores/contended/_bij/claims/0000000001.json';
  // Every claimant's listing says there is no claim yet (as when all look before any writes), and the
  // creates are held so that all are in flight together: only the server's 412s tell them apart.
  const { proxy, clients } = s3;
  proxy.setRules([
    { method: 'GET', path: '/scores', query: 'list-type', action: 'delay', delayMs: 200, times: CLAIMANTS },
    { method: 'PUT', path: claimPath, action: 'delay', delayMs: 300, times: CLAIMANTS },
  ]);
  const now = new Date();
  const results = await Promise.all(clients.map((c, i) =>
    claimOutput(c, output, { runId: `r${i}`, job: { namespace: 'ns', name: `job${i}`, uid: `u${i}` } }, now).then((claim) => claim.runId, (e: unknown) => e)));

  const puts = proxy.log.filter((e) => e.method === 'PUT' && e.url.startsWith(claimPath));
  expect(puts.map((e) => e.status).sort()).toEqual([200, ...Array<number>(puts.length - 1).fill(412)]);
  const winners = results.filter((r): r is string => typeof r === 'string');
  expect(winners).toHaveLength(1);
  const losers = results.filter((r) => r instanceof OutputClaimedError) as OutputClaimedError[];
  expect(losers).toHaveLength(CLAIMANTS - 1);
  for (const l of losers) expect(l.message).toContain(`belongs to run ${winners[0]} of BatchInferenceJob ns/job${winners[0].slice(1)}`);
  expect((await currentClaim(clients[0], output))?.runId).toBe(winners[0]);
}, 60_000);
