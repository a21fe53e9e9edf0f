import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/**
 * The per-user tokens for Amazon's event gateway, obtained at Login with Amazon when a user links the
 * skill (AcceptGrant). Unlike the tokens Hearth issues they are sent to Amazon, so they are stored as
 * they are; the database file is readable by the daemon's user only. Token writes commit with
 * `synchronous=FULL`: the grant code is single-use, so tokens lost to a power cut after AcceptGrant was
 * answered, or a rotated refresh token lost after LWA handed it out, would silently end proactive reports
 * until the user relinks.
 */

/** `disabled`: the user disabled the skill. `unauthorized`: Amazon refuses the tokens and no refresh helps. */
export const ALEXA_GRANT_STATES = ["active", "disabled", "unauthorized"] as const;
export type AlexaGrantState = (typeof ALEXA_GRANT_STATES)[number];

export interface AlexaTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms after which Amazon refuses the access token. */
  expiresAt: number;
}

export interface NewAlexaGrant extends AlexaTokens {
  userId: string;
}

export interface AlexaGrantRecord extends NewAlexaGrant {
  state: AlexaGrantState;
  createdAt: number;
  updatedAt: number;
  lastEventAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
}

/** What views show of a grant: everything but the tokens. */
export interface AlexaGrantSummary {
  userId: string;
  userName: string;
  state: AlexaGrantState;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  lastEventAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
}

interface GrantRow {
  user_id: string;
  access_token: string;
  refresh_token: string;
  expires_at: number;
  state: string;
  created_at: number;
  updated_at: number;
  last_event_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
}

function stateOf(value: string): AlexaGrantState {
  return (ALEXA_GRANT_STATES as readonly string[]).includes(value) ? (value as AlexaGrantState) : "unauthorized";
}

export class AlexaGrantStore {
  private readonly getStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], GrantRow>("SELECT * FROM alexa_event_grants WHERE user_id = ?");
  }

  get(userId: string): AlexaGrantRecord | undefined {
    const row = this.getStmt.get(userId);
    if (!row) return undefined;
    return {
      userId: row.user_id,
      accessToken: row.access_token,
      refreshToken: row.refresh_token,
      expiresAt: row.expires_at,
      state: stateOf(row.state),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lastEventAt: row.last_event_at,
      lastError: row.last_error,
      lastErrorAt: row.last_error_at,
    };
  }

  /** A new grant, or a relink replacing the old one: active again, with its history forgotten. */
  save(grant: NewAlexaGrant, now: number): void {
    durably(this.db, () => {
      this.db
        .prepare(
          `INSERT INTO alexa_event_grants (user_id, access_token, refresh_token, expires_at, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'active', ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET access_token = excluded.access_token,
             refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, state = 'active',
             created_at = excluded.created_at, updated_at = excluded.updated_at,
             last_event_at = NULL, last_error = NULL, last_error_at = NULL`,
        )
        .run(grant.userId, grant.accessToken, grant.refreshToken, grant.expiresAt, now, now);
    });
  }

  /** Tokens from a refresh; false when the user has no grant (any more). */
  updateTokens(userId: string, tokens: AlexaTokens, now: number): boolean {
    return durably(
      this.db,
      () =>
        this.db
          .prepare(
            "UPDATE alexa_event_grants SET access_token = ?, refresh_token = ?, expires_at = ?, updated_at = ? WHERE user_id = ?",
          )
          .run(tokens.accessToken, tokens.refreshToken, tokens.expiresAt, now, userId).changes > 0,
    );
  }

  /** Changes the state; a non-null `error` is recorded as the last error, with `now`. */
  markState(userId: string, state: AlexaGrantState, error: string | null, now: number): void {
    durably(this.db, () => {
      this.db
        .prepare("UPDATE alexa_event_grants SET state = ?, updated_at = ? WHERE user_id = ?")
        .run(state, now, userId);
      if (error !== null) this.recordError(userId, error, now);
    });
  }

  /** Records a failure that leaves the state as it is (a throttled or refused event). */
  recordError(userId: string, error: string, now: number): void {
    this.db
      .prepare("UPDATE alexa_event_grants SET last_error = ?, last_error_at = ? WHERE user_id = ?")
      .run(error, now, userId);
  }

  /** An event Amazon accepted. Not durable: it is only shown to the user. */
  recordEvent(userId: string, now: number): void {
    this.db.prepare("UPDATE alexa_event_grants SET last_event_at = ? WHERE user_id = ?").run(now, userId);
  }

  /**
   * The users whose events may be sent: an active event grant, and still linked to Alexa. A user whose
   * link was ended (password changed, client removed, grant revoked) is told nothing more about the house,
   * whatever Amazon's tokens still allow.
   */
  active(): string[] {
    return this.db
      .prepare<[], { user_id: string }>(
        `SELECT e.user_id FROM alexa_event_grants e
          WHERE e.state = 'active'
            AND EXISTS (SELECT 1 FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
                         WHERE g.user_id = e.user_id AND g.revoked_at IS NULL AND c.platform = 'alexa')
          ORDER BY e.created_at, e.user_id`,
      )
      .all()
      .map((row) => row.user_id);
  }

  list(): AlexaGrantSummary[] {
    return this.db
      .prepare<[], GrantRow & { user_name: string }>(
        `SELECT g.*, u.name AS user_name FROM alexa_event_grants g JOIN users u ON u.id = g.user_id ORDER BY u.name`,
      )
      .all()
      .map((row) => ({
        userId: row.user_id,
        userName: row.user_name,
        state: stateOf(row.state),
        expiresAt: row.expires_at,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        lastEventAt: row.last_event_at,
        lastError: row.last_error,
        lastErrorAt: row.last_error_at,
      }));
  }
}
