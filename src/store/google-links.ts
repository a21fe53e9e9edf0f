import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/**
 * Per user, whether Hearth may report state to Google's HomeGraph, and what went wrong last. Unlike
 * Alexa, Google needs no per-user token (HomeGraph is called with the service-account key for everyone),
 * so a row holds only the link's health. State changes commit with `synchronous=FULL`: a DISCONNECT
 * forgotten after a power cut would have Hearth report the house to an account that unlinked it.
 */

/**
 * `active`: reports go out. `broken`: HomeGraph does not know the user (404) or refuses the reports; the
 * user should link again. `disconnected`: the user unlinked Hearth in the Google Home app.
 */
export const GOOGLE_LINK_STATES = ["active", "broken", "disconnected"] as const;
export type GoogleLinkState = (typeof GOOGLE_LINK_STATES)[number];

export interface GoogleLinkRecord {
  userId: string;
  state: GoogleLinkState;
  /** When HomeGraph last accepted a report for the user (epoch ms). */
  lastReportAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** When the state last changed. */
  updatedAt: number;
}

/** What views show: the record and the user's name. */
export interface GoogleLinkSummary extends GoogleLinkRecord {
  userName: string;
}

interface LinkRow {
  user_id: string;
  state: string;
  last_report_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
  updated_at: number;
}

/** A value written by a newer Hearth, or by hand: treated as the state that sends nothing and asks to relink. */
function stateOf(value: string): GoogleLinkState {
  return (GOOGLE_LINK_STATES as readonly string[]).includes(value) ? (value as GoogleLinkState) : "broken";
}

function toRecord(row: LinkRow): GoogleLinkRecord {
  return {
    userId: row.user_id,
    state: stateOf(row.state),
    lastReportAt: row.last_report_at,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    updatedAt: row.updated_at,
  };
}

export class GoogleLinkStore {
  private readonly getStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], LinkRow>("SELECT * FROM google_links WHERE user_id = ?");
  }

  get(userId: string): GoogleLinkRecord | undefined {
    const row = this.getStmt.get(userId);
    return row ? toRecord(row) : undefined;
  }

  /** The user linked (again): reports go out, and the errors of an earlier link are forgotten. */
  markActive(userId: string, now: number): boolean {
    return this.setState(userId, "active", null, now);
  }

  /** HomeGraph no longer takes reports for the user; `error` says why, for the relink hint. */
  markBroken(userId: string, error: string, now: number): boolean {
    return this.setState(userId, "broken", error, now);
  }

  /** The user unlinked Hearth in the Google Home app; the last error stays as it was. */
  markDisconnected(userId: string, now: number): boolean {
    return this.setState(userId, "disconnected", undefined, now);
  }

  /** A report HomeGraph accepted. Not durable: it is only shown to the user. */
  recordReport(userId: string, now: number): void {
    this.db.prepare("UPDATE google_links SET last_report_at = ? WHERE user_id = ?").run(now, userId);
  }

  /** A failure that leaves the state as it is (HomeGraph unavailable, one report refused). */
  recordError(userId: string, error: string, now: number): void {
    this.db
      .prepare("UPDATE google_links SET last_error = ?, last_error_at = ? WHERE user_id = ?")
      .run(error, now, userId);
  }

  /**
   * The users whose state may be reported: an active link, and still linked to Google on Hearth's side
   * (a live OAuth grant of a Google client). A user whose link was ended here (password changed, client
   * removed, grant revoked) is told nothing more about the house, whatever Google still holds.
   */
  reportable(): string[] {
    return this.db
      .prepare<[], { user_id: string }>(
        `SELECT l.user_id FROM google_links l
          WHERE l.state = 'active'
            AND EXISTS (SELECT 1 FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
                         WHERE g.user_id = l.user_id AND g.revoked_at IS NULL AND c.platform = 'google')
          ORDER BY l.user_id`,
      )
      .all()
      .map((row) => row.user_id);
  }

  list(): GoogleLinkSummary[] {
    return this.db
      .prepare<[], LinkRow & { user_name: string }>(
        "SELECT l.*, u.name AS user_name FROM google_links l JOIN users u ON u.id = l.user_id ORDER BY u.name",
      )
      .all()
      .map((row) => ({ ...toRecord(row), userName: row.user_name }));
  }

  /**
   * Creates the row or changes its state. `error`: null clears the last error, a string records it,
   * undefined leaves it alone. False when there is no such user (removed meanwhile): a link is never
   * recorded for nobody.
   */
  private setState(userId: string, state: GoogleLinkState, error: string | null | undefined, now: number): boolean {
    const keepError = error === undefined;
    const errorAt = error === null || keepError ? null : now;
    return durably(
      this.db,
      () =>
        this.db
          .prepare(
            `INSERT INTO google_links (user_id, state, last_error, last_error_at, updated_at)
             SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)
             ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
               last_error = CASE WHEN ? THEN last_error ELSE excluded.last_error END,
               last_error_at = CASE WHEN ? THEN last_error_at ELSE excluded.last_error_at END`,
          )
          .run(userId, state, error ?? null, errorAt, now, userId, keepError ? 1 : 0, keepError ? 1 : 0).changes > 0,
    );
  }
}
