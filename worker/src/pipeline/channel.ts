/**
 * A bounded async channel between two pipeline stages: `send` waits while `capacity` items are
 * waiting (backpressure), the consumer pulls with `for await`. Closing lets the consumer drain;
 * failing wakes both sides with the error, so a broken stage stops the whole chain.
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private readonly senders: (() => void)[] = [];
  private receiver?: () => void;
  private closed = false;
  private error?: unknown;
  /** Total milliseconds senders spent blocked on a full channel (the consumer was the bottleneck). */
  blockedSendMs = 0;
  /** Total milliseconds the receiver spent waiting on an empty channel (the producer was the bottleneck). */
  starvedReceiveMs = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error(`channel capacity must be >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.items.length;
  }

  async send(item: T): Promise<void> {
    if (this.error !== undefined) throw this.error;
    if (this.closed) throw new Error('send on a closed channel');
    if (this.items.length >= this.capacity) {
      const t0 = performance.now();
      while (this.items.length >= this.capacity && this.error === undefined) {
        await new Promise<void>((resolve) => this.senders.push(resolve));
      }
      this.blockedSendMs += performance.now() - t0;
      if (this.error !== undefined) throw this.error;
    }
    this.items.push(item);
    this.wakeReceiver();
  }

  close(): void {
    this.closed = true;
    this.wakeReceiver();
  }

  /** Fails the channel: pending and future sends and receives throw `err`. */
  fail(err: unknown): void {
    if (this.error === undefined) this.error = err ?? new Error('channel failed');
    this.wakeReceiver();
    for (const s of this.senders.splice(0)) s();
  }

  private wakeReceiver(): void {
    const r = this.receiver;
    this.receiver = undefined;
    r?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (this.items.length > 0) {
        const item = this.items.shift() as T;
        this.senders.shift()?.();
        yield item;
        continue;
      }
      if (this.closed) return;
      const t0 = performance.now();
      await new Promise<void>((resolve) => (this.receiver = resolve));
      this.starvedReceiveMs += performance.now() - t0;
    }
  }
}

/**
 * Runs `produce` into a new channel in the background and returns the channel: the producer pauses
 * whenever `capacity` items are waiting. An error in the producer fails the channel (the consumer
 * sees it); a consumer that stops early should call `fail` so the producer stops too.
 */
export function pipe<T>(capacity: number, produce: (send: (item: T) => Promise<void>) => Promise<void>): Channel<T> {
  const ch = new Channel<T>(capacity);
  produce((item) => ch.send(item)).then(
    () => ch.close(),
    (err: unknown) => ch.fail(err),
  );
  return ch;
}
