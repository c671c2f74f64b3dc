import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../../core/src/storage/index.js';
import { shardManifestUri, type ShardManifest } from '../../../core/src/contract/index.js';
import { RunState } from './run-state.js';

const storage = openStorage();
const timings = { read: 0, decode: 1, pack: 0, infer: 2, unpack: 0, write: 0, total: 3 };

function manifest(runId: string, shard: number, attempt: number, rows: number): ShardManifest {
  return {
    kind: 'ShardManifest', runId, shard, attempt, files: [], rows: { read: rows, scored: rows, failed: 0 }, timings,
    model: { uri: '/m.onnx', sha256: 'a'.repeat(64) }, executionProvider: 'cpu',
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z',
  };
}

describe('RunState.manifestsFor', () => {
  test('keeps the valid manifests of each attempt and ignores for good what is not one (listed or probed)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bij-runstate-'));
    const put = (shard: number, attempt: number, text: string) => storage.write(shardManifestUri(out, 'r1', shard, attempt), text);
    await put(0, 0, JSON.stringify(manifest('r1', 0, 0, 10)));
    await put(0, 1, '{"kind": "ShardManifest",'); // cut short
    await put(1, 0, JSON.stringify(manifest('r1', 1, 1, 5))); // names another attempt
    await put(2, 0, JSON.stringify(manifest('r0', 2, 0, 5))); // another run's
    const state = new RunState();
    const first = await state.manifestsFor(storage, out, 'r1', []);
    expect([...first.keys()]).toEqual([0]);
    expect(first.get(0)).toEqual([{ attempt: 0, rows: { read: 10, scored: 10, failed: 0 }, timings }]);

    // Attempts that finished after the listing are probed once each.
    await put(1, 1, JSON.stringify(manifest('r1', 1, 1, 7)));
    await put(2, 1, JSON.stringify({ kind: 'ShardManifest', runId: 'r1', shard: 2, attempt: 1 })); // not valid
    const later = await state.manifestsFor(storage, out, 'r1', [{ shard: 1, attempt: 1 }, { shard: 2, attempt: 1 }]);
    expect(later.get(1)?.map((m) => [m.attempt, m.rows.scored])).toEqual([[1, 7]]);
    expect(later.has(2)).toBe(false);
  });
});

describe('RunState.forget', () => {
  test('drops everything kept about the run, including that its attempts were swept', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bij-runstate-'));
    await storage.write(shardManifestUri(out, 'r1', 0, 0), JSON.stringify(manifest('r1', 0, 0, 10)));
    const state = new RunState();
    expect((await state.manifestsFor(storage, out, 'r1', [])).size).toBe(1);
    state.markSwept('r1');
    state.markSwept('r2');
    await storage.delete(shardManifestUri(out, 'r1', 0, 0));
    expect((await state.manifestsFor(storage, out, 'r1', [])).size).toBe(1); // cached: manifests are immutable
    state.forget('r1');
    expect(state.swept('r1')).toBe(false);
    expect(state.swept('r2')).toBe(true);
    expect((await state.manifestsFor(storage, out, 'r1', [])).size).toBe(0); // listed again
  });
});
