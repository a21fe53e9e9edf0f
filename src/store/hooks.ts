import { generateSecret, hashSecret, newId } from "../security/secrets.ts";
import { generateWebhookSecret, TIMESTAMP_TOLERANCE_S } from "../webhooks/signature.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/** Hook names appear in URLs of the admin API and in the actor of every command a hook sends. */
export const HOOK_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * Accepted delivery ids are kept this long: past the timestamp tolerance on both sides, a replayed
 * Standard Webhooks request is refused for its timestamp anyway.
 */
export const DELIVERY_ID_RETENTION_MS = 2 * TIMESTAMP_TOLERANCE_S * 1000;

/**
 * `signed`: requests carry an HMAC signature made with the hook's secret. `token`: the URL carries a random
 * token instead, for senders that cannot sign (weaker: whoever sees the URL can call the hook).
 */
export type HookMode = "signed" | "token";

export interface HookRecord {
  /** Random, part of the hook's URL. */
  id: string;
  name: string;
  mode: HookMode;
  /** The devices and scenes a call may act on; anything else is refused. */
  devices: string[];
  scenes: string[];
  /** Answer at once with a tracking id and run the actions afterwards. */
  async: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface NewHook {
  name: string;
  devices: readonly string[];
  scenes: readonly string[];
  async: boolean;
  /** A URL token instead of a signing secret. */
  unsigned: boolean;
}

/** What proves a request comes from the hook's sender. Never leaves the webhook code. */
export interface HookKeys {
  /** The current secret first, then the previous one while it is still accepted. Empty for a token hook. */
  secrets: string[];
  /** `sha256:<hex>` of the URL token of a token hook. */
  tokenHash: string | null;
}

/** A hook with the credential its sender needs, shown once: the signing secret, or the URL token. */
export interface IssuedHook {
  hook: HookRecord;
  credential: string;
}

interface HookRow {
  id: string;
  name: string;
  secret: string | null;
  previous_secret: string | null;
  token_hash: string | null;
  devices: string;
  scenes: string;
  async: number;
  created_at: number;
  last_used_at: number | null;
}

function toRecord(row: HookRow): HookRecord {
  return {
    id: row.id,
    name: row.name,
    mode: row.secret === null ? "token" : "signed",
    devices: JSON.parse(row.devices) as string[],
    scenes: JSON.parse(row.scenes) as string[],
    async: row.async === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

/** 32 random bytes: a URL token is the only credential of a token hook, so it is as strong as a secret. */
function newToken(): string {
  return generateSecret(32);
}

/**
 * Inbound webhooks ("hooks") and the delivery ids they accepted. Signing secrets are stored as they are,
 * since an HMAC needs the secret itself; URL tokens only as SHA-256 hashes. Hooks commit with
 * `synchronous=FULL` like every other credential; delivery ids with the default, since one lost to a power
 * cut only reopens a replay window of minutes.
 */
export class HookStore {
  private readonly byId;
  private readonly byName;
  private readonly insertDelivery;
  private readonly pruneDeliveries;
  private readonly touchStmt;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], HookRow>("SELECT * FROM hooks WHERE id = ?");
    this.byName = db.prepare<[string], HookRow>("SELECT * FROM hooks WHERE name = ?");
    this.insertDelivery = db.prepare<[string, string, number]>(
      "INSERT OR IGNORE INTO hook_deliveries (hook_id, delivery_id, received_at) VALUES (?, ?, ?)",
    );
    this.pruneDeliveries = db.prepare<[string, number]>(
      "DELETE FROM hook_deliveries WHERE hook_id = ? AND received_at < ?",
    );
    this.touchStmt = db.prepare<[number, string]>("UPDATE hooks SET last_used_at = ? WHERE id = ?");
  }

  /** Adds a hook with a new secret (or token); undefined when the name is taken. */
  add(hook: NewHook, now: number): IssuedHook | undefined {
    const id = newId();
    const credential = hook.unsigned ? newToken() : generateWebhookSecret();
    return durably(this.db, () => {
      if (this.byName.get(hook.name)) return undefined;
      this.db
        .prepare(
          "INSERT INTO hooks (id, name, secret, token_hash, devices, scenes, async, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          id,
          hook.name,
          hook.unsigned ? null : credential,
          hook.unsigned ? hashSecret(credential) : null,
          JSON.stringify([...hook.devices]),
          JSON.stringify([...hook.scenes]),
          hook.async ? 1 : 0,
          now,
        );
      return { hook: toRecord(this.byId.get(id) as HookRow), credential };
    });
  }

  get(id: string): HookRecord | undefined {
    const row = this.byId.get(id);
    return row ? toRecord(row) : undefined;
  }

  getByName(name: string): HookRecord | undefined {
    const row = this.byName.get(name);
    return row ? toRecord(row) : undefined;
  }

  list(): HookRecord[] {
    return this.db.prepare<[], HookRow>("SELECT * FROM hooks ORDER BY name").all().map(toRecord);
  }

  keys(id: string): HookKeys | undefined {
    const row = this.byId.get(id);
    if (!row) return undefined;
    return {
      secrets: [row.secret, row.previous_secret].filter((s): s is string => s !== null),
      tokenHash: row.token_hash,
    };
  }

  /** Removes a hook and its delivery ids; false for an unknown name. */
  remove(name: string): boolean {
    return durably(this.db, () => this.db.prepare("DELETE FROM hooks WHERE name = ?").run(name).changes > 0);
  }

  /**
   * A new credential. A signed hook's current secret becomes its previous one, still accepted until the
   * next rotation, so the sender can switch over without a refused call. A token hook's old token stops
   * working at once: there is nowhere to keep it, and a token is rotated because it leaked.
   */
  rotate(name: string): IssuedHook | undefined {
    return durably(this.db, () => {
      const row = this.byName.get(name);
      if (!row) return undefined;
      if (row.secret === null) {
        const token = newToken();
        this.db.prepare("UPDATE hooks SET token_hash = ? WHERE id = ?").run(hashSecret(token), row.id);
        return { hook: toRecord(row), credential: token };
      }
      const secret = generateWebhookSecret();
      this.db.prepare("UPDATE hooks SET secret = ?, previous_secret = ? WHERE id = ?").run(secret, row.secret, row.id);
      return { hook: toRecord(row), credential: secret };
    });
  }

  /**
   * Remembers a delivery id the hook accepted; false when it was seen before (a replay). Ids older than
   * DELIVERY_ID_RETENTION_MS are forgotten first.
   */
  recordDelivery(hookId: string, deliveryId: string, now: number): boolean {
    return this.db.transaction(() => {
      this.pruneDeliveries.run(hookId, now - DELIVERY_ID_RETENTION_MS);
      return this.insertDelivery.run(hookId, deliveryId, now).changes > 0;
    })();
  }

  /** Forgets a delivery id again, so that the sender's retry of a delivery that achieved nothing can run. */
  forgetDelivery(hookId: string, deliveryId: string): void {
    this.db.prepare("DELETE FROM hook_deliveries WHERE hook_id = ? AND delivery_id = ?").run(hookId, deliveryId);
  }

  /** Notes that a genuine call arrived. */
  touch(hookId: string, now: number): void {
    this.touchStmt.run(now, hookId);
  }
}
