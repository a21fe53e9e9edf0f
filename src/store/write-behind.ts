/**
 * Write-behind for the high-rate, low-stakes tables (device state, desired state, command log): writes
 * queue up for a few milliseconds and commit together in one transaction, so a command costs a share of
 * one commit instead of three, and 32 commands in flight cost one. The in-memory caches are updated at
 * once, and every read of these tables flushes first, so nothing in this process ever sees an older
 * value. A crash can lose at most the last few milliseconds of these writes — the exposure
 * `synchronous=NORMAL` already accepts — and a node re-publishes its retained state when it reconnects.
 */
import type { Db } from "./database.ts";

const MAX_QUEUED = 512;
const FLUSH_DELAY_MS = 10;

export class WriteBehind {
  private queue: Array<() => void> = [];
  private scheduled: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    /** Reports a write that failed (a row whose parent was deleted meanwhile); the others still commit. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  enqueue(write: () => void): void {
    this.queue.push(write);
    if (this.queue.length >= MAX_QUEUED) this.flush();
    else this.scheduled ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  /**
   * Resolves once everything queued so far is committed. Callers in the same turn of the event loop share
   * one transaction: commands confirmed by one burst of a node's messages cost one commit, not one each.
   */
  commit(): Promise<void> {
    this.committing ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.committing = undefined;
        try {
          this.flush();
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    return this.committing;
  }

  /** Commits everything queued, in order, in one transaction. */
  flush(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    if (this.queue.length === 0 || !this.db.open) return;
    const writes = this.queue;
    this.queue = [];
    this.db
      .transaction(() => {
        for (const write of writes) {
          try {
            write();
          } catch (error) {
            // A failed statement does not abort the transaction in SQLite: the rest still commits.
            this.onError(error);
          }
        }
      })
      .immediate();
  }
}
