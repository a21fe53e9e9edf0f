import { newId } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/**
 * Outbound webhook subscriptions: where events go, which events, and the secret that signs them. The
 * secret is kept as it is (an HMAC needs it), like Alexa's tokens; views never show it after creation.
 * Creation, removal and disabling commit with `synchronous=FULL`: a receiver set up, or one that said
 * `410 Gone`, must not come back after a power cut.
 */

/** `disabled`: the receiver answered `410 Gone`; nothing more is sent to it. */
export const SUBSCRIPTION_STATES = ["active", "disabled"] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

export interface NewSubscription {
  url: string;
  secret: string;
  events: readonly string[];
}

export interface SubscriptionRecord {
  id: string;
  url: string;
  secret: string;
  events: string[];
  state: SubscriptionState;
  createdAt: number;
  disabledAt: number | null;
  lastError: string | null;
}

interface SubscriptionRow {
  id: string;
  url: string;
  secret: string;
  events: string;
  state: string;
  created_at: number;
  disabled_at: number | null;
  last_error: string | null;
}

function toRecord(row: SubscriptionRow): SubscriptionRecord {
  return {
    id: row.id,
    url: row.url,
    secret: row.secret,
    events: JSON.parse(row.events) as string[],
    state: row.state === "active" ? "active" : "disabled",
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
    lastError: row.last_error,
  };
}

export class SubscriptionStore {
  private readonly getStmt;
  private readonly activeStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], SubscriptionRow>("SELECT * FROM subscriptions WHERE id = ?");
    // Read on every bus event that could be delivered: kept prepared.
    this.activeStmt = db.prepare<[], SubscriptionRow>(
      "SELECT * FROM subscriptions WHERE state = 'active' ORDER BY created_at, id",
    );
  }

  /** Stores a new subscription under a fresh `sub_` id. */
  add(subscription: NewSubscription, now: number): SubscriptionRecord {
    const id = `sub_${newId()}`;
    durably(this.db, () => {
      this.db
        .prepare(
          "INSERT INTO subscriptions (id, url, secret, events, state, created_at) VALUES (?, ?, ?, ?, 'active', ?)",
        )
        .run(id, subscription.url, subscription.secret, JSON.stringify(subscription.events), now);
    });
    return this.get(id) as SubscriptionRecord;
  }

  get(id: string): SubscriptionRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord(row) : undefined;
  }

  list(): SubscriptionRecord[] {
    return this.db
      .prepare<[], SubscriptionRow>("SELECT * FROM subscriptions ORDER BY created_at, id")
      .all()
      .map(toRecord);
  }

  /** The subscriptions events are delivered to. */
  active(): SubscriptionRecord[] {
    return this.activeStmt.all().map(toRecord);
  }

  /** Removes the subscription and, through the foreign key, every delivery of it; false when unknown. */
  remove(id: string): boolean {
    return durably(this.db, () => this.db.prepare("DELETE FROM subscriptions WHERE id = ?").run(id).changes > 0);
  }

  /**
   * Stops deliveries to the subscription for good: its state becomes `disabled`, and its pending deliveries
   * become dead with `reason` in the same transaction, so that no attempt is left to a receiver that is gone.
   * False when it was unknown or disabled already.
   */
  disable(id: string, reason: string, now: number): boolean {
    return durably(this.db, () => {
      const changed =
        this.db
          .prepare(
            "UPDATE subscriptions SET state = 'disabled', disabled_at = ?, last_error = ? WHERE id = ? AND state = 'active'",
          )
          .run(now, reason, id).changes > 0;
      if (changed) {
        this.db
          .prepare("UPDATE outbox SET state = 'dead', last_error = ? WHERE subscription_id = ? AND state = 'pending'")
          .run(reason, id);
      }
      return changed;
    });
  }

  /** The last delivery failure, shown in listings. Not durable: it is only shown. */
  recordError(id: string, error: string | null): void {
    this.db.prepare("UPDATE subscriptions SET last_error = ? WHERE id = ?").run(error, id);
  }
}
