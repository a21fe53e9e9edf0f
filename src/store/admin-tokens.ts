import { generateSecret, hashSecret, newId } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

export interface AdminTokenInfo {
  id: string;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** Admin API bearer tokens, stored as hashes; the plain token is shown once, at creation. */
export class AdminTokenStore {
  private readonly lookup;
  private readonly touchStmt;

  constructor(private readonly db: Db) {
    this.lookup = db.prepare<
      [string],
      { id: string; label: string; expires_at: number | null; last_used_at: number | null }
    >("SELECT id, label, expires_at, last_used_at FROM admin_tokens WHERE token_hash = ?");
    this.touchStmt = db.prepare<[number, string]>("UPDATE admin_tokens SET last_used_at = ? WHERE id = ?");
  }

  /** Token format `hth_<random>`: the prefix lets secret scanners and people recognise it. */
  create(label: string, now: number, ttlMs?: number): { id: string; token: string } {
    const id = newId();
    const token = `hth_${generateSecret(32)}`;
    durably(this.db, () => {
      this.db
        .prepare("INSERT INTO admin_tokens (id, token_hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .run(id, hashSecret(token), label, now, ttlMs === undefined ? null : now + ttlMs);
    });
    return { id, token };
  }

  /**
   * Looks the token up by its hash. The hash of a random 256-bit token is the lookup key; an attacker
   * learns nothing from timing because they cannot choose inputs that hash to a prefix of a stored one.
   */
  verify(token: string, now: number): boolean {
    return this.identify(token, now) !== undefined;
  }

  /** The token's id and label when it is valid: the label says who acted (`cli`, `admin`, …). */
  identify(token: string, now: number): { id: string; label: string } | undefined {
    const row = this.lookup.get(hashSecret(token));
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= now) return undefined;
    // Writing on every request would turn reads into writes; a minute of precision is enough.
    if (row.last_used_at === null || now - row.last_used_at > 60_000) this.touchStmt.run(now, row.id);
    return { id: row.id, label: row.label };
  }

  list(): AdminTokenInfo[] {
    return this.db
      .prepare<
        [],
        { id: string; label: string; created_at: number; expires_at: number | null; last_used_at: number | null }
      >("SELECT id, label, created_at, expires_at, last_used_at FROM admin_tokens ORDER BY created_at")
      .all()
      .map((r) => ({
        id: r.id,
        label: r.label,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        lastUsedAt: r.last_used_at,
      }));
  }

  revoke(id: string): boolean {
    return durably(this.db, () => this.db.prepare("DELETE FROM admin_tokens WHERE id = ?").run(id).changes > 0);
  }

  removeExpired(now: number): number {
    return this.db.prepare("DELETE FROM admin_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?").run(now)
      .changes;
  }
}
