import { generateSecret, hashSecret, newId } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

export interface IssuedClaimToken {
  id: string;
  /** Shown once; only its hash is stored. */
  token: string;
  nodeId: string | null;
  expiresAt: number;
}

export interface ClaimTokenInfo {
  id: string;
  nodeId: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

/** Why a token cannot be spent; each has its own answer, so a provisioning app can tell the user what to do. */
export type ClaimRefusal = "unknown" | "used" | "expired" | "wrong_node";

export type ClaimSpend = { ok: true; boundToNode: boolean } | { ok: false; reason: ClaimRefusal };

interface Row {
  id: string;
  node_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

/**
 * One-time claim tokens. A token is 192 random bits, so its SHA-256 is the lookup key (as for admin tokens):
 * nobody can choose inputs that hash close to a stored one, and nothing compares secret bytes.
 */
export class ClaimTokenStore {
  constructor(private readonly db: Db) {}

  /** Format `hct_<random>`: the prefix lets people and secret scanners recognise it. */
  issue(options: { nodeId?: string; ttlMs: number; now: number }): IssuedClaimToken {
    const id = newId();
    const token = `hct_${generateSecret(24)}`;
    const expiresAt = options.now + options.ttlMs;
    durably(this.db, () => {
      this.db
        .prepare("INSERT INTO claim_tokens (id, token_hash, node_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .run(id, hashSecret(token), options.nodeId ?? null, options.now, expiresAt);
      // Spent and expired tokens are only history; a day of it is enough to answer "who claimed what".
      this.db
        .prepare("DELETE FROM claim_tokens WHERE expires_at < ? AND (used_at IS NULL OR used_at < ?)")
        .run(options.now - 86_400_000, options.now - 86_400_000);
    });
    return { id, token, nodeId: options.nodeId ?? null, expiresAt };
  }

  /**
   * Spends a token for `nodeId`, or says why it cannot: the check and the spending are one durable
   * transaction, so two boards racing with the same token cannot both win. `then` runs inside that
   * transaction (creating the node's credentials), so a token is spent exactly when credentials were made.
   */
  spend<T>(token: string, nodeId: string, now: number, then: (boundToNode: boolean) => T): ClaimSpend & { value?: T } {
    return durably(this.db, () => {
      const row = this.db
        .prepare<[string], Row>(
          "SELECT id, node_id, created_at, expires_at, used_at, used_by FROM claim_tokens WHERE token_hash = ?",
        )
        .get(hashSecret(token));
      if (!row) return { ok: false as const, reason: "unknown" as const };
      if (row.used_at !== null) return { ok: false as const, reason: "used" as const };
      if (row.expires_at <= now) return { ok: false as const, reason: "expired" as const };
      if (row.node_id !== null && row.node_id !== nodeId) return { ok: false as const, reason: "wrong_node" as const };
      this.db.prepare("UPDATE claim_tokens SET used_at = ?, used_by = ? WHERE id = ?").run(now, nodeId, row.id);
      const boundToNode = row.node_id !== null;
      return { ok: true as const, boundToNode, value: then(boundToNode) };
    });
  }

  list(): ClaimTokenInfo[] {
    return this.db
      .prepare<[], Row>(
        "SELECT id, node_id, created_at, expires_at, used_at, used_by FROM claim_tokens ORDER BY created_at DESC",
      )
      .all()
      .map((r) => ({
        id: r.id,
        nodeId: r.node_id,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        usedAt: r.used_at,
        usedBy: r.used_by,
      }));
  }
}
