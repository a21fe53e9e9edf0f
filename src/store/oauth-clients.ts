import { verifySecret } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/** Who a client is: its redirect URIs follow from the platform (src/oauth/platforms.ts). */
export const OAUTH_PLATFORMS = ["alexa", "google", "custom"] as const;
export type OAuthPlatform = (typeof OAUTH_PLATFORMS)[number];

export interface OAuthClientRecord {
  /** The client_id. */
  id: string;
  platform: OAuthPlatform;
  label: string;
  /** Compared by exact string match at the authorization and token endpoints. */
  redirectUris: string[];
  /** `required`: an authorization request without a PKCE S256 challenge is refused. */
  pkce: PkcePolicy;
  createdAt: number;
}

export type PkcePolicy = "required" | "optional";

export interface NewOAuthClient {
  id: string;
  platform: OAuthPlatform;
  label: string;
  /** `hashSecret(client_secret)`: the secret itself is shown once and never stored. */
  secretHash: string;
  redirectUris: string[];
  pkce?: PkcePolicy;
}

interface ClientRow {
  id: string;
  platform: string;
  label: string;
  secret_hash: string;
  redirect_uris: string;
  pkce: string;
  created_at: number;
}

function toRecord(row: ClientRow): OAuthClientRecord {
  return {
    id: row.id,
    platform: row.platform as OAuthPlatform,
    label: row.label,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    pkce: row.pkce === "required" ? "required" : "optional",
    createdAt: row.created_at,
  };
}

/**
 * The OAuth clients (an Alexa skill, a Google project) allowed to link accounts. Their secrets are 256
 * random bits, stored as SHA-256 hashes like node passwords (src/security/secrets.ts).
 */
export class OAuthClientStore {
  private readonly removedListeners: Array<(clientId: string) => void> = [];
  private readonly getStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], ClientRow>("SELECT * FROM oauth_clients WHERE id = ?");
  }

  /** Adds a client; false when the id is taken. */
  add(client: NewOAuthClient, now: number): boolean {
    return durably(this.db, () => {
      if (this.getStmt.get(client.id)) return false;
      this.db
        .prepare(
          "INSERT INTO oauth_clients (id, platform, label, secret_hash, redirect_uris, pkce, created_at) " +
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          client.id,
          client.platform,
          client.label,
          client.secretHash,
          JSON.stringify(client.redirectUris),
          client.pkce ?? "optional",
          now,
        );
      return true;
    });
  }

  get(id: string): OAuthClientRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** True when `secret` is this client's secret; the comparison is constant-time. */
  verifySecret(id: string, secret: string): boolean {
    const row = this.getStmt.get(id);
    return row !== undefined && verifySecret(secret, row.secret_hash);
  }

  list(): OAuthClientRecord[] {
    return this.db.prepare<[], ClientRow>("SELECT * FROM oauth_clients ORDER BY created_at, id").all().map(toRecord);
  }

  /**
   * Called when a client is removed, inside the removing transaction: the grants and tokens issued to it
   * are revoked there. A listener that throws undoes the removal.
   */
  onRemoved(listener: (clientId: string) => void): void {
    this.removedListeners.push(listener);
  }

  remove(id: string): boolean {
    return durably(this.db, () => {
      if (this.db.prepare("DELETE FROM oauth_clients WHERE id = ?").run(id).changes === 0) return false;
      for (const listener of this.removedListeners) listener(id);
      return true;
    });
  }
}
