/**
 * The messages between the inference thread (inference-thread-main.ts) and its client
 * (inference-thread.ts).
 *
 * The thread posts `ready` once onnxruntime-node is loaded. The client then posts requests (`op`),
 * each with an id, and the thread answers each with one `reply` carrying the same id, one request at
 * a time in the order they arrive. Everything here is structured-clonable; the model's bytes, the
 * input tensors and the outputs travel in the transfer list when they can (moved, not copied).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { TensorData } from '../../../core/src/tensors/types.js';

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  name: string;
  type: string;
  dims: number[];
  data: TensorData;
}

/** onnxruntime's ValueMetadata, as the thread posts it. */
export interface RawValueMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** The client's requests, by op. */
export interface Requests {
  /** Keep the model's bytes for the sessions to come. */
  load: { bytes: TensorData };
  /** An InferenceSession from the loaded bytes. */
  create: { sid: number; options: InferenceSession.SessionOptions };
  /** Drop the bytes (every session needed is created). */
  unload: Record<string, never>;
  /** One run of a session. */
  run: { sid: number; feeds: WireTensor[]; names?: string[] };
  /** `rows` rows of the feeds in runs of at most maxBatch rows (exactly fixedBatch, zero-padded),
   * back to back, outputs concatenated: tensors/batch.ts scoreInBatches, run in the thread. */
  score: { sid: number; feeds: WireTensor[]; rows: number; fixedBatch?: number; maxBatch?: number; shrinkOnOom?: boolean; names?: string[] };
  release: { sid: number };
}

export type Op = keyof Requests;

/** A request as posted: its op, its fields and the call id. */
export type Request<K extends Op = Op> = { [P in K]: { op: P; id: number } & Requests[P] }[K];

export interface ScoreReply {
  outputs: WireTensor[];
  /** Milliseconds the thread spent on the request (the runs and the slicing around them). */
  ms: number;
  /** Rows per run the request started with. */
  size: number;
  /** Runs that ran out of memory, by rows per run, in order (each was retried smaller). */
  oom: number[];
  runs: number;
}

/** The thread's answers, by op. */
export interface Replies {
  load: true;
  create: { inputs: RawValueMeta[]; outputs: RawValueMeta[] };
  unload: true;
  run: WireTensor[];
  score: ScoreReply;
  release: true;
}

/** Why a request failed, as the thread saw it. */
export interface WireError {
  message: string;
  /** The error's name in the thread (onnxruntime's errors are plain `Error`s). */
  name: string;
  /** A model output whose shape does not fit the batch (a BadInputError in the thread). */
  badInput: boolean;
}

/** Thread -> client. */
export type ThreadMessage =
  | { t: 'ready' }
  | { t: 'reply'; id: number; result?: Replies[Op]; error?: WireError };

/** What the client passes the thread at start. */
export interface ThreadData {
  /** Absolute path of onnxruntime-node's entry point, resolved by the client. */
  ortPath: string;
  /** Tests only: passed on to a test's own thread entry (ThreadOptions.entry). */
  test?: unknown;
}
