import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../../worker/src/storage/index.js';
import type { Storage } from '../../../worker/src/storage/types.js';
import { BadInputError } from '../contract/index.js';
import { freezeModel } from './model.js';

const storage = openStorage();
const dir = mkdtempSync(join(tmpdir(), 'bij-model-'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('freezeModel', () => {
  test('hashes a model larger than one read in bounded ranged reads, pinned to the version first seen', async () => {
    const bytes = randomBytes(20 * 1024 * 1024 + 123);
    const path = join(dir, 'big.onnx');
    writeFileSync(path, bytes);
    const ranges: [number, number, string | undefined][] = [];
    const spy: Storage = Object.assign(Object.create(storage) as Storage, {
      readRange: (uri: string, s: number, e: number, o?: { ifMatch?: string }) => { ranges.push([s, e, o?.ifMatch]); return storage.readRange(uri, s, e, o); },
    });
    const m = await freezeModel(spy, path);
    expect(m).toEqual({ uri: path, sha256: sha(bytes), size: bytes.length, etag: expect.any(String) });
    expect(ranges.map(([s, e]) => e - s).every((n) => n <= 8 * 1024 * 1024)).toBe(true);
    expect(ranges.reduce((n, [s, e]) => n + e - s, 0)).toBe(bytes.length);
    expect(new Set(ranges.map((r) => r[2]))).toEqual(new Set([m.etag]));
  });

  test('an empty model hashes to the empty sha256', async () => {
    writeFileSync(join(dir, 'empty.onnx'), '');
    expect((await freezeModel(storage, join(dir, 'empty.onnx'))).sha256).toBe(sha(new Uint8Array()));
  });

  test.each([
    ['a missing model', 'missing.onnx', undefined, /model not found at .*missing.onnx \(spec.model.uri\)/],
    ['a pin that differs', 'pinned.onnx', 'A'.repeat(64), /has sha256 [0-9a-f]{64}, but spec.model.sha256 is a{64}/],
  ])('refuses %s at planning, as bad input', async (_n, file, pin, message) => {
    writeFileSync(join(dir, 'pinned.onnx'), 'model bytes');
    const err = await freezeModel(storage, join(dir, file), pin).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(message);
  });
});
