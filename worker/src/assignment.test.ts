import { parseAssignment } from './assignment.js';
import { outcomeOf, serializeSummary } from './termination.js';
import { BadInputError, EXIT } from '../../core/src/contract/index.js';

describe('parseAssignment', () => {
  const env = { BIJ_PLAN_URI: 's3://b/out/_bij/r1/plan.json', BIJ_SHARD: '3', BIJ_ATTEMPT: '1', BIJ_RUN_ID: 'r1' };
  test.each([
    ['env only', [], env, { planUri: 's3://b/out/_bij/r1/plan.json', shard: 3, attempt: 1, runId: 'r1' }],
    ['flags win over env', ['--shard', '7', '--plan', '/tmp/p.json'], env, { planUri: '/tmp/p.json', shard: 7, attempt: 1 }],
    ['flags only', ['--plan', 'p.json', '--shard', '0', '--attempt', '0'], {}, { planUri: 'p.json', shard: 0, attempt: 0 }],
  ])('%s', (_name, argv, e, expected) => {
    expect(parseAssignment(argv, e)).toMatchObject(expected);
  });

  test('defaults: termination log and S3 settings', () => {
    const a = parseAssignment([], env);
    expect(a.terminationLog).toBe('/dev/termination-log');
    expect(a.s3).toEqual({ endpoint: '', region: 'us-east-1', forcePathStyle: false, credentialsSecret: '' });
  });

  test('mid-run settings from the current spec win over the plan', () => {
    expect(parseAssignment([], { ...env, BIJ_MAX_FAILED_ROWS: '12', BIJ_EXECUTION_PROVIDER: 'cpu' }).overrides).toEqual({ maxFailedRows: 12, executionProvider: 'cpu' });
    expect(parseAssignment([], env).overrides).toEqual({});
    expect(() => parseAssignment([], { ...env, BIJ_EXECUTION_PROVIDER: 'tpu' })).toThrow(/cuda, cpu or auto/);
  });

  test('decoder threads from BIJ_DECODERS (spec.worker.env), else left to the worker', () => {
    expect(parseAssignment([], { ...env, BIJ_DECODERS: '3' }).decoders).toBe(3);
    expect(parseAssignment([], env).decoders).toBeUndefined();
    expect(() => parseAssignment([], { ...env, BIJ_DECODERS: '0' })).toThrow(/BIJ_DECODERS must be 1 to 16 \(decoder threads\), got "0"/);
    expect(() => parseAssignment([], { ...env, BIJ_DECODERS: '64' })).toThrow(/BIJ_DECODERS must be 1 to 16/);
    expect(() => parseAssignment([], { ...env, BIJ_DECODERS: 'many' })).toThrow(/BIJ_DECODERS must be a non-negative integer, got "many"/);
  });

  test('S3 settings from BIJ_S3', () => {
    const a = parseAssignment([], { ...env, BIJ_S3: JSON.stringify({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }) });
    expect(a.s3).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, region: 'us-east-1' });
  });

  test.each([
    ['no plan', [], { BIJ_SHARD: '1', BIJ_ATTEMPT: '0' }, /missing plan location/],
    ['no shard', [], { BIJ_PLAN_URI: 'p', BIJ_ATTEMPT: '0' }, /missing shard/],
    ['negative attempt', [], { BIJ_PLAN_URI: 'p', BIJ_SHARD: '1', BIJ_ATTEMPT: '-1' }, /attempt must be a non-negative integer/],
    ['bad BIJ_S3', [], { ...env, BIJ_S3: '{' }, /BIJ_S3 is not valid JSON/],
  ])('%s is bad input', (_name, argv, e, message) => {
    expect(() => parseAssignment(argv, e)).toThrow(BadInputError);
    expect(() => parseAssignment(argv, e)).toThrow(message);
  });
});

describe('outcomeOf', () => {
  test.each([
    ['success', undefined, EXIT.ok, 'succeeded'],
    ['bad input', new BadInputError('column f9 not found in s3://b/in/a.parquet'), EXIT.badInput, 'bad-input'],
    ['anything else is retryable', new Error('socket hang up'), EXIT.retryable, 'failed'],
  ])('%s', (_name, err, code, outcome) => {
    const o = outcomeOf(err, { shard: 1, attempt: 0 });
    expect(o.code).toBe(code);
    expect(o.summary.outcome).toBe(outcome);
  });

  test('the message carries the cause chain', () => {
    const err = new Error('reading row group 2 of a.parquet', { cause: new Error('ECONNRESET') });
    expect(outcomeOf(err, {}).summary.message).toBe('reading row group 2 of a.parquet: ECONNRESET');
  });

  test('a long message is cut to the 4 KiB Kubernetes limit and stays valid JSON', () => {
    const s = serializeSummary({ outcome: 'failed', message: 'x'.repeat(10_000) });
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(4096);
    expect(JSON.parse(s).outcome).toBe('failed');
  });
});
