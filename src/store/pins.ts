/**
 * Users' PINs for guarded commands (as scrypt strings; this module never sees a PIN) and their failed
 * attempts. Failures live in the database rather than in memory so that a lockout outlives a restart:
 * otherwise restarting the daemon, or making it crash, would hand out a fresh set of guesses.
 *
 * The policy (how many failures, for how long) belongs to src/google/two-factor.ts; this module only
 * stores and counts.
 */
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

export class PinStore {
  private readonly hashStmt;
  private readonly failuresStmt;
  private readonly recordFailureStmt;
  private readonly clearFailuresStmt;

  constructor(private readonly db: Db) {
    this.hashStmt = db.prepare<[string], { pin_hash: string }>("SELECT pin_hash FROM user_pins WHERE user_id = ?");
    this.failuresStmt = db.prepare<[string, number], { at: number }>(
      "SELECT at FROM pin_failures WHERE user_id = ? AND at > ? ORDER BY at",
    );
    this.recordFailureStmt = db.prepare<[string, number]>("INSERT INTO pin_failures (user_id, at) VALUES (?, ?)");
    this.clearFailuresStmt = db.prepare<[string]>("DELETE FROM pin_failures WHERE user_id = ?");
  }

  /** The user's stored PIN hash, or undefined when they have no PIN. */
  hash(userId: string): string | undefined {
    return this.hashStmt.get(userId)?.pin_hash;
  }

  /**
   * Sets or replaces the user's PIN hash; false for an unknown user. A new PIN starts with no failures:
   * setting one is how an administrator lets a locked-out user in again, and the earlier guesses were
   * guesses of the old PIN.
   */
  set(userId: string, pinHash: string, now: number): boolean {
    return durably(this.db, () => {
      if (!this.db.prepare("SELECT 1 FROM users WHERE id = ?").get(userId)) return false;
      this.db
        .prepare(
          "INSERT INTO user_pins (user_id, pin_hash, updated_at) VALUES (?, ?, ?) " +
            "ON CONFLICT (user_id) DO UPDATE SET pin_hash = excluded.pin_hash, updated_at = excluded.updated_at",
        )
        .run(userId, pinHash, now);
      this.clearFailuresStmt.run(userId);
      return true;
    });
  }

  /** Removes the user's PIN and its failures; false when they had none. */
  remove(userId: string): boolean {
    return durably(this.db, () => {
      this.clearFailuresStmt.run(userId);
      return this.db.prepare("DELETE FROM user_pins WHERE user_id = ?").run(userId).changes > 0;
    });
  }

  /** The times (ms) of the user's failed attempts after `since`, oldest first. */
  failuresSince(userId: string, since: number): number[] {
    return this.failuresStmt.all(userId, since).map((row) => row.at);
  }

  /**
   * Counts one failed attempt. Committed with synchronous=FULL before the answer goes out: a guess must
   * not be forgotten because the power went off right after it.
   */
  recordFailure(userId: string, now: number): void {
    durably(this.db, () => this.recordFailureStmt.run(userId, now));
  }

  /** Forgets the user's failures, after a right PIN. */
  clearFailures(userId: string): void {
    this.clearFailuresStmt.run(userId);
  }

  /** Forgets every failure at or before `cutoff`, for all users: they no longer count towards a lockout. */
  pruneFailures(cutoff: number): number {
    return this.db.prepare("DELETE FROM pin_failures WHERE at <= ?").run(cutoff).changes;
  }
}
