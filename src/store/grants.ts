import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/**
 * Table access for account linking: authorization codes, grants, tokens and link health. Only hashes of
 * codes and tokens reach this module (RFC 6819 §5.1.4.1.3). Every write that issues or revokes commits
 * with `synchronous=FULL`: a token handed to Alexa or Google and then lost to a power cut would unlink
 * the user. The rules (lifetimes, PKCE, who may use what) live in src/oauth/grants.ts.
 */

export type TokenKind = "access" | "refresh";

export interface NewCode {
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface CodeRecord extends NewCode {
  usedAt: number | null;
  grantId: string | null;
}

/** A token with its grant and the grant's client: everything a check of the token needs, in one read. */
export interface TokenRecord {
  tokenHash: string;
  kind: TokenKind;
  grantId: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number;
  revokedAt: number | null;
  clientId: string;
  userId: string;
  scope: string;
  grantRevokedAt: number | null;
  platform: string;
}

export interface NewToken {
  tokenHash: string;
  kind: TokenKind;
  grantId: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface LinkChange {
  userId: string;
  platform: string;
  state: "linked" | "unlinked" | "broken";
  at: number;
}

export interface LinkRecord {
  userId: string;
  userName: string;
  platform: string;
  linkedAt: number;
  lastTokenAt: number | null;
  lastRefreshAt: number | null;
  lastRequestAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** Whether the user holds an unrevoked grant of a client of this platform. */
  active: boolean;
}

interface CodeRow {
  code_hash: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  scope: string;
  code_challenge: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  grant_id: string | null;
}

interface TokenRow {
  token_hash: string;
  kind: string;
  grant_id: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number;
  revoked_at: number | null;
  client_id: string;
  user_id: string;
  scope: string;
  grant_revoked_at: number | null;
  platform: string;
}

interface LinkRow {
  user_id: string;
  user_name: string;
  platform: string;
  linked_at: number;
  last_token_at: number | null;
  last_refresh_at: number | null;
  last_request_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
  active: number;
}

export class GrantStore {
  private readonly codeStmt;
  private readonly tokenStmt;

  constructor(private readonly db: Db) {
    this.codeStmt = db.prepare<[string], CodeRow>("SELECT * FROM oauth_codes WHERE code_hash = ?");
    this.tokenStmt = db.prepare<[string], TokenRow>(
      `SELECT t.*, g.client_id, g.user_id, g.scope, g.revoked_at AS grant_revoked_at, c.platform
         FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id JOIN oauth_clients c ON c.id = g.client_id
        WHERE t.token_hash = ?`,
    );
  }

  /** Runs several of the writes below as one durable transaction. */
  atomically<T>(fn: () => T): T {
    return durably(this.db, fn);
  }

  insertCode(code: NewCode): void {
    durably(this.db, () => {
      this.db
        .prepare(
          `INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          code.codeHash,
          code.clientId,
          code.userId,
          code.redirectUri,
          code.scope,
          code.codeChallenge,
          code.createdAt,
          code.expiresAt,
        );
    });
  }

  code(codeHash: string): CodeRecord | undefined {
    const row = this.codeStmt.get(codeHash);
    if (!row) return undefined;
    return {
      codeHash: row.code_hash,
      clientId: row.client_id,
      userId: row.user_id,
      redirectUri: row.redirect_uri,
      scope: row.scope,
      codeChallenge: row.code_challenge,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      usedAt: row.used_at,
      grantId: row.grant_id,
    };
  }

  /** Marks a code used and remembers the grant it produced, so a replay can revoke that grant. */
  markCodeUsed(codeHash: string, grantId: string, now: number): void {
    durably(this.db, () => {
      this.db
        .prepare("UPDATE oauth_codes SET used_at = ?, grant_id = ? WHERE code_hash = ?")
        .run(now, grantId, codeHash);
    });
  }

  /**
   * Deletes codes that expired before `before`. Used codes are kept until then so that a replay within
   * that time still finds them and revokes what they produced.
   */
  pruneCodes(before: number): number {
    return durably(this.db, () => this.db.prepare("DELETE FROM oauth_codes WHERE expires_at < ?").run(before).changes);
  }

  insertGrant(grant: { id: string; clientId: string; userId: string; scope: string; createdAt: number }): void {
    durably(this.db, () => {
      this.db
        .prepare("INSERT INTO oauth_grants (id, client_id, user_id, scope, created_at) VALUES (?, ?, ?, ?, ?)")
        .run(grant.id, grant.clientId, grant.userId, grant.scope, grant.createdAt);
    });
  }

  insertToken(token: NewToken): void {
    durably(this.db, () => {
      this.db
        .prepare(
          "INSERT INTO oauth_tokens (token_hash, kind, grant_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(token.tokenHash, token.kind, token.grantId, token.createdAt, token.expiresAt, token.createdAt);
    });
  }

  token(tokenHash: string): TokenRecord | undefined {
    const row = this.tokenStmt.get(tokenHash);
    if (!row) return undefined;
    return {
      tokenHash: row.token_hash,
      kind: row.kind as TokenKind,
      grantId: row.grant_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
      clientId: row.client_id,
      userId: row.user_id,
      scope: row.scope,
      grantRevokedAt: row.grant_revoked_at,
      platform: row.platform,
    };
  }

  /** Moves the start of a refresh token's inactivity window. */
  touchToken(tokenHash: string, now: number): void {
    durably(this.db, () => {
      this.db.prepare("UPDATE oauth_tokens SET last_used_at = ? WHERE token_hash = ?").run(now, tokenHash);
    });
  }

  /** Deletes a grant's access tokens that expired before `before`; a link refreshing hourly adds 24 a day. */
  pruneAccessTokens(grantId: string, before: number): number {
    return durably(
      this.db,
      () =>
        this.db
          .prepare("DELETE FROM oauth_tokens WHERE grant_id = ? AND kind = 'access' AND expires_at < ?")
          .run(grantId, before).changes,
    );
  }

  revokeToken(tokenHash: string, now: number): boolean {
    return durably(
      this.db,
      () =>
        this.db
          .prepare("UPDATE oauth_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
          .run(now, tokenHash).changes > 0,
    );
  }

  /** Revokes a grant and every token issued under it. */
  revokeGrant(grantId: string, now: number): void {
    this.revokeGrantsWhere("id = ?", grantId, now);
  }

  /** Revokes every grant of a user, and deletes the user's codes not yet exchanged. Returns the grants revoked. */
  revokeUser(userId: string, now: number): number {
    return durably(this.db, () => {
      this.db.prepare("DELETE FROM oauth_codes WHERE user_id = ? AND used_at IS NULL").run(userId);
      return this.revokeGrantsWhere("user_id = ?", userId, now);
    });
  }

  /** Revokes every grant of a client, and deletes its codes not yet exchanged. Returns the grants revoked. */
  revokeClient(clientId: string, now: number): number {
    return durably(this.db, () => {
      this.db.prepare("DELETE FROM oauth_codes WHERE client_id = ? AND used_at IS NULL").run(clientId);
      return this.revokeGrantsWhere("client_id = ?", clientId, now);
    });
  }

  private revokeGrantsWhere(condition: "id = ?" | "user_id = ?" | "client_id = ?", value: string, now: number): number {
    return durably(this.db, () => {
      this.db
        .prepare(
          `UPDATE oauth_tokens SET revoked_at = ?
            WHERE revoked_at IS NULL AND grant_id IN (SELECT id FROM oauth_grants WHERE ${condition})`,
        )
        .run(now, value);
      return this.db
        .prepare(`UPDATE oauth_grants SET revoked_at = ? WHERE revoked_at IS NULL AND ${condition}`)
        .run(now, value).changes;
    });
  }

  private readonly linkListeners: Array<(change: LinkChange) => void> = [];

  /** Told of every link made, broken or ended (the daemon puts it on the bus for webhooks). */
  onLinkChanged(listener: (change: LinkChange) => void): void {
    this.linkListeners.push(listener);
  }

  private linkChanged(change: LinkChange): void {
    for (const listener of this.linkListeners) listener(change);
  }

  /** A new link, or a relink: the times start over and an earlier error is forgotten. */
  recordLinked(userId: string, platform: string, now: number): void {
    this.db
      .prepare(
        `INSERT INTO account_links (user_id, platform, linked_at, last_token_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, platform) DO UPDATE SET linked_at = excluded.linked_at,
           last_token_at = excluded.last_token_at, last_refresh_at = NULL, last_error = NULL, last_error_at = NULL`,
      )
      .run(userId, platform, now, now);
    this.linkChanged({ userId, platform, state: "linked", at: now });
  }

  recordRefresh(userId: string, platform: string, now: number): void {
    this.db
      .prepare("UPDATE account_links SET last_refresh_at = ?, last_token_at = ? WHERE user_id = ? AND platform = ?")
      .run(now, now, userId, platform);
  }

  recordRequest(userId: string, platform: string, now: number): void {
    this.db
      .prepare("UPDATE account_links SET last_request_at = ? WHERE user_id = ? AND platform = ?")
      .run(now, userId, platform);
  }

  /** An error of the link; `change` says when it also ended (`unlinked`) or stopped working (`broken`). */
  recordLinkError(userId: string, platform: string, error: string, now: number, change?: "unlinked" | "broken"): void {
    this.db
      .prepare("UPDATE account_links SET last_error = ?, last_error_at = ? WHERE user_id = ? AND platform = ?")
      .run(error, now, userId, platform);
    if (change) this.linkChanged({ userId, platform, state: change, at: now });
  }

  /** The platform works again (Google synced after a broken link): its old error is history. */
  clearLinkError(userId: string, platform: string, now: number): void {
    this.db
      .prepare("UPDATE account_links SET last_error = NULL, last_error_at = NULL WHERE user_id = ? AND platform = ?")
      .run(userId, platform);
    this.linkChanged({ userId, platform, state: "linked", at: now });
  }

  links(): LinkRecord[] {
    return this.db
      .prepare<[], LinkRow>(
        `SELECT l.*, u.name AS user_name, EXISTS (
            SELECT 1 FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
             WHERE g.user_id = l.user_id AND c.platform = l.platform AND g.revoked_at IS NULL) AS active
           FROM account_links l JOIN users u ON u.id = l.user_id
          ORDER BY u.name, l.platform`,
      )
      .all()
      .map((row) => ({
        userId: row.user_id,
        userName: row.user_name,
        platform: row.platform,
        linkedAt: row.linked_at,
        lastTokenAt: row.last_token_at,
        lastRefreshAt: row.last_refresh_at,
        lastRequestAt: row.last_request_at,
        lastError: row.last_error,
        lastErrorAt: row.last_error_at,
        active: row.active === 1,
      }));
  }
}
