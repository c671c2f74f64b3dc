/** How the Parquet thread's failures reach its callers. */
import type { WireError } from './thread-protocol.js';

/** An error reported by the thread (a parquet-wasm error), or the thread dying (a wasm panic). */
export class ParquetThreadError extends Error {
  override readonly name = 'ParquetThreadError';
  /** The thread is gone (a wasm panic, or it was stopped): it cannot be used again. */
  readonly fatal: boolean;
  /** The thread was stopped on purpose (terminate()), not crashed. */
  stopped = false;
  /** What storage.readRange threw while serving the file this call was about, if it threw: usually the
   * real reason the call failed (the thread only sees its message). */
  ioError?: unknown;
  /** It failed while packing decoded rows into tensors (the bytes decoded fine). */
  packing = false;
  /** The rows do not fit the model's inputs (the packer's BadInputError), with its message. */
  badInput = false;
  constructor(message: string, fatal: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.fatal = fatal;
  }
}

/** A failure the thread reported, as the error its caller gets. */
export function threadError(w: WireError): ParquetThreadError {
  const err = new ParquetThreadError(w.message, w.fatal);
  err.packing = w.packing;
  err.badInput = w.badInput;
  return err;
}
