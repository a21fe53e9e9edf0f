import { newId } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

/**
 * The outbound webhook outbox: one row per delivery of one event to one subscription, from the moment the
 * event happens until it is delivered or dead. The row's id is the `webhook-id` of every attempt, so a
 * receiver recognises a retry. Every change commits with `synchronous=FULL`: a queued delivery, its
 * attempt count and its next attempt time survive a crash or a power cut, and an acknowledged delivery is
 * not sent again after one.
 */

/** `dead`: the last attempt failed, or the subscription was disabled; kept for a manual replay. */
export const DELIVERY_STATES = ["pending", "delivered", "dead"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface NewDelivery {
  subscriptionId: string;
  eventType: string;
  /** The JSON body, exactly as it is signed and sent. */
  payload: string;
}

export interface DeliveryRecord {
  id: string;
  subscriptionId: string;
  eventType: string;
  payload: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface DeliveryFilter {
  state?: DeliveryState | undefined;
  /** Newest first; at most this many (default 50). */
  limit?: number | undefined;
}

interface DeliveryRow {
  id: string;
  subscription_id: string;
  event_type: string;
  payload: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

function stateOf(value: string): DeliveryState {
  return (DELIVERY_STATES as readonly string[]).includes(value) ? (value as DeliveryState) : "dead";
}

function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    eventType: row.event_type,
    payload: row.payload,
    state: stateOf(row.state),
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

const DAY_MS = 86_400_000;

export class OutboxStore {
  private readonly getStmt;
  private readonly dueStmt;
  private readonly pendingStmt;
  private readonly pendingCountStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], DeliveryRow>("SELECT * FROM outbox WHERE id = ?");
    // Both walk the outbox_due index (state, next_attempt_at).
    this.dueStmt = db.prepare<[number, number], DeliveryRow>(
      "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?",
    );
    this.pendingStmt = db.prepare<[], { id: string; next_attempt_at: number }>(
      "SELECT id, next_attempt_at FROM outbox WHERE state = 'pending' ORDER BY next_attempt_at, created_at",
    );
    this.pendingCountStmt = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'");
  }

  /** Deliveries waiting for their first or next attempt (an index range of outbox_due). */
  pendingCount(): number {
    return this.pendingCountStmt.get()?.n ?? 0;
  }

  /**
   * Queues deliveries, due at once, in one transaction: either every receiver of an event gets its row or
   * none does. Returns the new ids (`msg_…`), in the order given.
   */
  enqueue(deliveries: readonly NewDelivery[], now: number): string[] {
    if (deliveries.length === 0) return [];
    const ids = deliveries.map(() => `msg_${newId()}`);
    durably(this.db, () => {
      const insert = this.db.prepare(
        `INSERT INTO outbox (id, subscription_id, event_type, payload, state, attempts, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
      );
      deliveries.forEach((delivery, i) => {
        insert.run(ids[i], delivery.subscriptionId, delivery.eventType, delivery.payload, now, now);
      });
    });
    return ids;
  }

  get(id: string): DeliveryRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Pending deliveries whose next attempt is due at `now`, the longest waiting first. */
  due(now: number, limit: number): DeliveryRecord[] {
    return this.dueStmt.all(now, limit).map(toRecord);
  }

  /** When the earliest pending delivery not in `skip` (those in flight) is due; undefined when none is pending. */
  nextAttemptAt(skip: ReadonlySet<string> = new Set()): number | undefined {
    for (const row of this.pendingStmt.iterate()) {
      if (!skip.has(row.id)) return row.next_attempt_at;
    }
    return undefined;
  }

  markDelivered(id: string, attempts: number, status: number, now: number): void {
    durably(this.db, () => {
      this.db
        .prepare(
          "UPDATE outbox SET state = 'delivered', attempts = ?, last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ?",
        )
        .run(attempts, status, now, id);
    });
  }

  /**
   * Records a failed attempt and when to try again. Only a pending row whose count is the one before
   * `attempts` changes: a delivery replayed or made dead while the attempt was in flight keeps its new state.
   */
  markRetry(id: string, attempts: number, nextAt: number, status: number | null, error: string): boolean {
    return durably(
      this.db,
      () =>
        this.db
          .prepare(
            `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?
              WHERE id = ? AND state = 'pending' AND attempts = ?`,
          )
          .run(attempts, nextAt, status, error, id, attempts - 1).changes > 0,
    );
  }

  /** The last attempt failed (or there is nobody to deliver to): no more attempts until a replay. */
  markDead(id: string, attempts: number, status: number | null, error: string): boolean {
    return durably(
      this.db,
      () =>
        this.db
          .prepare(
            `UPDATE outbox SET state = 'dead', attempts = ?, last_status = ?, last_error = ?
              WHERE id = ? AND state = 'pending' AND attempts = ?`,
          )
          .run(attempts, status, error, id, attempts - 1).changes > 0,
    );
  }

  /**
   * Makes a delivery pending and due at `now`, whatever its state, with the same id and payload. The
   * attempt count starts again at 0: a replay is a new run of the whole retry schedule (a receiver that
   * was down for days gets the full 3 days again), while `last_status` and `last_error` stay until the next
   * attempt replaces them. Undefined when there is no such delivery.
   */
  replay(id: string, now: number): DeliveryRecord | undefined {
    return durably(this.db, () => {
      const changed =
        this.db
          .prepare(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, delivered_at = NULL WHERE id = ?",
          )
          .run(now, id).changes > 0;
      return changed ? this.get(id) : undefined;
    });
  }

  /** A subscription's deliveries, newest first, optionally in one state. */
  list(subscriptionId: string, filter: DeliveryFilter = {}): DeliveryRecord[] {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const rows = filter.state
      ? this.db
          .prepare<[string, string, number], DeliveryRow>(
            "SELECT * FROM outbox WHERE subscription_id = ? AND state = ? ORDER BY created_at DESC, id LIMIT ?",
          )
          .all(subscriptionId, filter.state, limit)
      : this.db
          .prepare<[string, number], DeliveryRow>(
            "SELECT * FROM outbox WHERE subscription_id = ? ORDER BY created_at DESC, id LIMIT ?",
          )
          .all(subscriptionId, limit);
    return rows.map(toRecord);
  }

  /**
   * Deletes deliveries that were delivered more than `days` days before `now`; returns how many. Dead rows
   * stay until they are replayed or their subscription is removed: they are what a person looks into.
   */
  pruneDelivered(days: number, now: number): number {
    return this.db.prepare("DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?").run(now - days * DAY_MS)
      .changes;
  }
}
