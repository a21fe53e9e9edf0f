/**
 * The audit log: security-relevant events (PIN challenges and their outcomes, PIN changes), append-only.
 * Unlike the command log it is written straight away rather than through the write-behind queue: these
 * events are rare, and one lost to a crash would be the one someone later asks about.
 *
 * Entries are read newest first in the order they were written (by id), not by `at`: a clock stepped back
 * must not reorder the log, and the id is an exact cursor for paging with `before`.
 */
import type { Db } from "./database.ts";

export interface AuditEvent {
  /** Who acted: `google:<user id>`, `cli`, `admin:<token label>`. */
  actor: string;
  /** What kind of event: `two_factor`, `pin_set`, `pin_removed`, … */
  action: string;
  /** What it was about, when it was about something: a device id, a user id. */
  target?: string;
  /** How it ended, one word: `ok`, `wrong_pin`, `locked_out`, … */
  outcome: string;
  /** Anything else worth knowing, for people. Never a secret. */
  detail?: string;
}

export interface AuditEntry {
  id: number;
  /** ms since the epoch. */
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  detail: string | null;
}

export interface AuditQuery {
  /** At most this many entries (default 50, at most 1000). */
  limit?: number;
  /** Only entries older than the one with this id: the next page after the last entry seen. */
  before?: number;
  /** Only entries of this action. */
  action?: string;
}

export const AUDIT_DEFAULT_LIMIT = 50;
export const AUDIT_MAX_LIMIT = 1000;

export class AuditLog {
  private readonly insertStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare<[number, string, string, string | null, string, string | null]>(
      "INSERT INTO audit_log (at, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
    );
  }

  /** Appends one event and returns its id. */
  record(event: AuditEvent, now: number): number {
    const result = this.insertStmt.run(
      now,
      event.actor,
      event.action,
      event.target ?? null,
      event.outcome,
      event.detail ?? null,
    );
    return Number(result.lastInsertRowid);
  }

  /** The latest entries, newest first. */
  list(query: AuditQuery = {}): AuditEntry[] {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? AUDIT_DEFAULT_LIMIT), 1), AUDIT_MAX_LIMIT);
    const conditions: string[] = [];
    const values: Array<string | number> = [];
    if (query.before !== undefined) {
      conditions.push("id < ?");
      values.push(query.before);
    }
    if (query.action !== undefined) {
      conditions.push("action = ?");
      values.push(query.action);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    return this.db
      .prepare<Array<string | number>, AuditEntry>(
        `SELECT id, at, actor, action, target, outcome, detail FROM audit_log ${where} ORDER BY id DESC LIMIT ?`,
      )
      .all(...values, limit);
  }
}
