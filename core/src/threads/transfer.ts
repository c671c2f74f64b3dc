/**
 * What a thread client may hand over when it posts bytes to another thread: the view's own buffer
 * (transferred, no copy) when the view spans all of a plain ArrayBuffer, else a copy of just the view.
 * Transferring a buffer the view only shares (a Buffer from Node's pool, a slice of a larger read, a
 * SharedArrayBuffer) would detach, or fail on, memory that others still use.
 */

/** Typed arrays that can be re-created over a fresh buffer by their constructor. */
type View = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** By tag, not instanceof: buffers made in another realm (jest's, a thread's) are ArrayBuffers too. */
const isPlainArrayBuffer = (b: unknown): b is ArrayBuffer => Object.prototype.toString.call(b) === '[object ArrayBuffer]';

/** The view covers the whole of a plain (not shared) ArrayBuffer. */
export function spansOwnBuffer(v: ArrayBufferView): boolean {
  return isPlainArrayBuffer(v.buffer) && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
}

/** A copy of the view in a fresh buffer of its exact size, of the view's own element type (a Buffer
 * becomes a Uint8Array: Buffer's slice() would not copy). */
export function copyOfView<T extends View>(v: T): T {
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  const Ctor = (globalThis as unknown as Record<string, new (b: ArrayBuffer) => T>)[tag];
  const bytes = new Uint8Array(v.byteLength);
  bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return new Ctor(bytes.buffer);
}

/**
 * The view to post, whose buffer goes in the transfer list: `v` itself when it may be handed over
 * (`handOver`, it spans its own buffer, and that buffer is not already in `taken`), else a copy.
 * Adds the returned view's buffer to `taken` (one buffer may be transferred only once per message).
 */
export function transferable<T extends View>(v: T, handOver = true, taken?: Set<ArrayBuffer>): T {
  const own = handOver && spansOwnBuffer(v) && !taken?.has(v.buffer as ArrayBuffer);
  const out = own ? v : copyOfView(v);
  taken?.add(out.buffer as ArrayBuffer);
  return out;
}

/** ES2024's ArrayBuffer members (this project's lib is ES2023; Node 24 has them). */
type Detachable = ArrayBuffer & { readonly detached: boolean; transfer(newLength?: number): ArrayBuffer };

/**
 * Frees the memory of a buffer known to be garbage now, by detaching it (`transfer(0)`), instead of
 * leaving it to V8's next collection of the isolate. V8 lets dead ArrayBuffers pile up by tens of MiB
 * in each isolate before it collects them, and more as it goes: the worker's RSS then climbs with
 * the first millions of rows of a shard. Only for buffers nothing else can still read: every view of
 * it becomes empty. A shared or already detached buffer is left alone.
 */
export function releaseBuffer(buffer: ArrayBufferLike): void {
  if (!isPlainArrayBuffer(buffer)) return;
  const b = buffer as Detachable;
  // typeof: a runtime without ES2024's transfer (Node before 21) leaves it to the collector.
  if (!b.detached && typeof b.transfer === 'function') b.transfer(0);
}
