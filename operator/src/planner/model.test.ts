import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../../core/src/storage/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import { linearModel } from '../../../core/src/modelgen/index.js';
import { ProtoError } from '../../../core/src/modelgen/protobuf.js';
import { WHOLE_READ_BYTES, bytesSource, readModelInfo } from '../../../core/src/tensors/model-info.js';
import { BadInputError } from '../../../core/src/contract/index.js';
import { inspectModel } from './model.js';

const storage = openStorage();
const dir = mkdtempSync(join(tmpdir(), 'bij-model-'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CHUNK = 8 * 1024 * 1024;

/** The storage, counting what it is asked: stats and ranged reads (with their version pins). */
function counting() {
  const seen = { stats: 0, reads: 0, ranges: [] as [number, number, string | undefined][] };
  const s: Storage = Object.assign(Object.create(storage) as Storage, {
    stat: (uri: string) => { seen.stats++; return storage.stat(uri); },
    read: (uri: string) => { seen.reads++; return storage.read(uri); },
    readRange: (uri: string, a: number, b: number, o?: { ifMatch?: string }) => { seen.ranges.push([a, b, o?.ifMatch]); return storage.readRange(uri, a, b, o); },
  });
  return { s, seen };
}
const model = (features: number, outputs: number) =>
  linearModel({ features, weights: Array.from({ length: features }, (_, i) => Array.from({ length: outputs }, (_, j) => ((i * 31 + j) % 97) / 97)), bias: new Array(outputs).fill(0) }).bytes;

describe('inspectModel', () => {
  test('a model up to WHOLE_READ_BYTES: one stat and one pass over its bytes give both its sha256 and its graph', async () => {
    const bytes = model(2048, 1024); // 8 MiB of weights: two hash chunks
    expect(bytes.length).toBeGreaterThan(CHUNK);
    expect(bytes.length).toBeLessThanOrEqual(WHOLE_READ_BYTES);
    const path = join(dir, 'mid.onnx');
    writeFileSync(path, bytes);
    const { s, seen } = counting();
    const { frozen, meta } = await inspectModel(s, path);
    expect(frozen).toEqual({ uri: path, sha256: sha(bytes), size: bytes.length, etag: expect.any(String) });
    const { inputs, outputs } = await readModelInfo(bytesSource(bytes));
    expect(meta).toEqual({ inputs, outputs });
    expect(seen.stats).toBe(1);
    expect(seen.reads).toBe(0);
    expect(seen.ranges.reduce((n, [a, b]) => n + b - a, 0)).toBe(bytes.length);
    expect(seen.ranges.every(([a, b]) => b - a <= CHUNK)).toBe(true);
    expect(new Set(seen.ranges.map((r) => r[2]))).toEqual(new Set([frozen.etag]));
  });

  test('a larger model: hashed in bounded pinned reads, its graph read in small windows that skip the weights', async () => {
    const bytes = model(4200, 1024); // ~17 MiB
    expect(bytes.length).toBeGreaterThan(WHOLE_READ_BYTES);
    const path = join(dir, 'big.onnx');
    writeFileSync(path, bytes);
    const { s, seen } = counting();
    const { frozen, meta } = await inspectModel(s, path);
    expect(frozen.sha256).toBe(sha(bytes));
    expect(meta.inputs.map((v) => v.name)).toEqual(['X']);
    expect(seen.stats).toBe(1);
    const beyondHash = seen.ranges.reduce((n, [a, b]) => n + b - a, 0) - bytes.length;
    expect(beyondHash).toBeGreaterThan(0);
    expect(beyondHash).toBeLessThan(bytes.length / 10);
    expect(new Set(seen.ranges.map((r) => r[2]))).toEqual(new Set([frozen.etag]));
  });

  test('an empty file is no model, whatever its hash', async () => {
    writeFileSync(join(dir, 'empty.onnx'), '');
    const err = await inspectModel(storage, join(dir, 'empty.onnx')).then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toMatch(/: not a valid ONNX model \(it has no graph\)$/);
  });

  test.each([
    ['missing', null, undefined, /^model not found at .*nope\.onnx \(spec\.model\.uri\)$/],
    ['not protobuf', 'this is not a model', undefined, /^cannot read the model at .*not protobuf\.onnx \(spec\.model\.uri\): not a valid ONNX model \(.+\)$/],
    ['truncated', () => model(3, 1).subarray(0, 60), undefined, /: not a valid ONNX model \(.*runs past the end.*\)$/],
    ['pinned to other bytes', () => model(3, 1), 'A'.repeat(64), /has sha256 [0-9a-f]{64}, but spec.model.sha256 is a{64}/],
  ] as const)('%s: refused at planning as bad input naming spec.model.uri', async (name, content, pin, message) => {
    const path = join(dir, content === null ? 'nope.onnx' : `${name}.onnx`);
    if (content !== null) writeFileSync(path, typeof content === 'function' ? content() : content);
    const err = await inspectModel(storage, path, pin).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(message);
    if (content !== null && pin === undefined) expect((err as Error).cause).toBeInstanceOf(ProtoError);
  });
});
