/**
 * A worker's assignment: which plan, shard and attempt it runs. From command-line flags
 * (`--plan s3://… --shard 3 --attempt 0 --run-id r1 --termination-log /dev/termination-log`)
 * or the BIJ_* environment variables of the shard Job (flags win).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { BadInputError, DEFAULT_TERMINATION_LOG, ENV } from '../../core/src/contract/index.js';
import { S3SettingsSchema } from '../../core/src/contract/job-spec.js';
import { MAX_DECODERS } from './pipeline/parallel-decode.js';

export interface Assignment {
  planUri: string;
  shard: number;
  attempt: number;
  runId?: string;
  terminationLog: string;
  progressIntervalMs: number;
  /** Decoder threads, when BIJ_DECODERS sets them (else the worker picks by CPUs). */
  decoders?: number;
  s3: z.infer<typeof S3SettingsSchema>;
  /** The current spec's values of settings that may change mid-run (else the plan's are used). */
  overrides: { maxFailedRows?: number; executionProvider?: 'cuda' | 'cpu' | 'auto' };
}

const intArg = (name: string, raw: string | undefined): number => {
  if (raw === undefined || raw === '') throw new BadInputError(`missing ${name}: pass --${name} or set the environment variable`);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new BadInputError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
};

/** Pure: parses flags and an environment map. Throws BadInputError naming what is missing. */
export function parseAssignment(argv: string[], env: Record<string, string | undefined>): Assignment {
  const { values } = parseArgs({
    args: argv,
    options: {
      plan: { type: 'string' },
      shard: { type: 'string' },
      attempt: { type: 'string' },
      'run-id': { type: 'string' },
      'termination-log': { type: 'string' },
    },
    allowPositionals: false,
    strict: true,
  });
  const planUri = values.plan ?? env[ENV.planUri];
  if (!planUri) throw new BadInputError(`missing plan location: pass --plan or set ${ENV.planUri}`);
  let s3: z.infer<typeof S3SettingsSchema>;
  try {
    s3 = S3SettingsSchema.parse(env[ENV.s3] ? JSON.parse(env[ENV.s3] as string) : {});
  } catch (cause) {
    throw new BadInputError(`${ENV.s3} is not valid JSON of spec.storage.s3`, { cause });
  }
  const interval = Number(env[ENV.progressInterval] ?? '2');
  const overrides: Assignment['overrides'] = {};
  const maxFailed = env[ENV.maxFailedRows];
  if (maxFailed !== undefined && maxFailed !== '') overrides.maxFailedRows = intArg('maxFailedRows', maxFailed);
  const ep = env[ENV.executionProvider];
  if (ep !== undefined && ep !== '') {
    if (ep !== 'cuda' && ep !== 'cpu' && ep !== 'auto') throw new BadInputError(`${ENV.executionProvider} must be cuda, cpu or auto, got "${ep}"`);
    overrides.executionProvider = ep;
  }
  const decoders = env[ENV.decoders];
  let decoderThreads: number | undefined;
  if (decoders !== undefined && decoders !== '') {
    decoderThreads = intArg(ENV.decoders, decoders);
    if (decoderThreads < 1 || decoderThreads > MAX_DECODERS) {
      throw new BadInputError(`${ENV.decoders} must be 1 to ${MAX_DECODERS} (decoder threads), got "${decoders}"`);
    }
  }
  return {
    planUri,
    shard: intArg('shard', values.shard ?? env[ENV.shard]),
    attempt: intArg('attempt', values.attempt ?? env[ENV.attempt]),
    runId: values['run-id'] ?? env[ENV.runId],
    terminationLog: values['termination-log'] ?? env[ENV.terminationLog] ?? DEFAULT_TERMINATION_LOG,
    progressIntervalMs: Number.isFinite(interval) && interval > 0 ? interval * 1000 : 2000,
    ...(decoderThreads !== undefined ? { decoders: decoderThreads } : {}),
    s3,
    overrides,
  };
}
