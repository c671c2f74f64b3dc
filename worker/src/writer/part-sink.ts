/**
 * Where one part's encoded bytes go as the encoder thread finishes them, so that no process holds a
 * whole part: the bytes gather here up to `streamAboveBytes`; a part that ends below that is written
 * in one piece (storage.write), and one that grows past it is streamed (storage.upload: a multipart
 * upload, or a temp file renamed at the end) from then on, with at most `maxQueuedBytes` waiting for
 * the upload (push() waits, which holds back the writer). Memory per part is bounded by those two
 * figures whatever the part's, or the shard's, size. The sha256 and size are computed on the way.
 *
 * An upload that fails (or a part that fails: fail()) ends the chunk stream with the error, so the
 * storage aborts the upload and leaves nothing behind.
 */
import { createHash, type Hash } from 'node:crypto';
import { awaitedLater } from '../../../core/src/contract/settle.js';
import { releaseBuffer } from '../../../core/src/threads/transfer.js';

export interface PartSinkOptions {
  /** Streams the chunks to the part's object (storage.upload). */
  upload: (chunks: AsyncIterable<Uint8Array>) => Promise<unknown>;
  /** Writes a part that stayed small in one piece (storage.write). */
  write: (bytes: Uint8Array) => Promise<unknown>;
  /** A part larger than this is streamed. */
  streamAboveBytes: number;
  /** While streaming, push() waits while more than this is queued for the upload. */
  maxQueuedBytes: number;
  /** The chunks pushed are this sink's alone (moved here from the encoder thread): each is freed as
   * soon as it is written (releaseBuffer), and so is the joined copy of a part written whole. */
  owned?: boolean;
}

export class PartSink {
  private readonly hash: Hash = createHash('sha256');
  private queue: Uint8Array[] = [];
  private queued = 0;
  private total = 0;
  private ended = false;
  private error: unknown = undefined;
  private uploading: Promise<unknown> | undefined;
  private uploadError: unknown = undefined;
  /** Wakes the upload's chunk stream (more bytes, the end, a failure). */
  private wakeReader: (() => void) | undefined;
  /** Wakes a push() waiting for the queue to drain. */
  private wakeWriter: (() => void) | undefined;
  /** Most bytes this sink held at once (for tests and diagnostics). */
  peakHeldBytes = 0;

  constructor(private readonly opts: PartSinkOptions) {}

  /** Bytes of the part seen so far. */
  get bytes(): number {
    return this.total;
  }

  /** Bytes held here now (gathered before streaming starts, or queued for the upload). */
  get heldBytes(): number {
    return this.queued;
  }

  /** Whether the part is being streamed (it outgrew streamAboveBytes). */
  get streaming(): boolean {
    return this.uploading !== undefined;
  }

  /** Takes the next bytes of the part, in order; waits while the upload is behind. */
  async push(chunks: readonly Uint8Array[]): Promise<void> {
    this.throwIfFailed();
    if (this.ended) throw new Error('PartSink: push after finish');
    for (const c of chunks) {
      if (c.byteLength === 0) continue;
      this.hash.update(c);
      this.total += c.byteLength;
      this.queue.push(c);
      this.queued += c.byteLength;
    }
    this.peakHeldBytes = Math.max(this.peakHeldBytes, this.queued);
    if (!this.uploading && this.queued > this.opts.streamAboveBytes) this.startUpload();
    this.wakeReader?.();
    while (this.uploading && this.queued > this.opts.maxQueuedBytes && this.uploadError === undefined) {
      await new Promise<void>((r) => { this.wakeWriter = r; });
    }
    this.throwIfFailed();
  }

  /** The last bytes: writes the part (or ends its upload) and returns its size and sha256. */
  async finish(last: readonly Uint8Array[]): Promise<{ bytes: number; sha256: string }> {
    await this.push(last);
    this.ended = true;
    if (this.uploading) {
      this.wakeReader?.();
      await this.uploading;
    } else {
      const whole = new Uint8Array(this.queued);
      let at = 0;
      for (const c of this.queue) {
        whole.set(c, at);
        at += c.byteLength;
        if (this.opts.owned) releaseBuffer(c.buffer);
      }
      this.queue = [];
      this.queued = 0;
      await this.opts.write(whole);
      if (this.opts.owned) releaseBuffer(whole.buffer);
    }
    return { bytes: this.total, sha256: this.hash.digest('hex') };
  }

  /** Gives the part up: an upload under way is aborted (its chunk stream fails); waits for that. */
  async fail(e: unknown): Promise<void> {
    if (this.error === undefined) this.error = e ?? new Error('the part failed');
    this.ended = true;
    this.queue = [];
    this.queued = 0;
    this.wakeReader?.();
    this.wakeWriter?.();
    await this.uploading?.catch(() => undefined);
  }

  private throwIfFailed(): void {
    if (this.error !== undefined) throw this.error;
    if (this.uploadError !== undefined) throw this.uploadError;
  }

  private startUpload(): void {
    this.uploading = this.opts.upload(this.chunks());
    this.uploading.catch((e: unknown) => {
      this.uploadError = e;
      this.wakeWriter?.();
    });
    awaitedLater(this.uploading); // awaited by finish() or fail()
  }

  private async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      const c = this.queue.shift();
      if (c) {
        this.queued -= c.byteLength;
        if (this.queued <= this.opts.maxQueuedBytes) this.wakeWriter?.();
        yield c;
        // Asked for the next chunk: the upload is done with this one (storage.upload copies a chunk into
        // its part buffer, or writes it to the file, before it reads on).
        if (this.opts.owned) releaseBuffer(c.buffer);
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => { this.wakeReader = r; });
      this.wakeReader = undefined;
    }
  }
}
