/**
 * Runs at most `limit` async tasks at once; the others wait in arrival order. Used where each task is
 * expensive in memory (an scrypt hash holds 128 MiB), so that a burst costs queueing time, not memory.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the concurrency limit must be ≥ 1, got ${limit}`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the oldest waiter, so a newcomer can never overtake the queue.
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
