/**
 * Outbound webhooks: every bus event a subscription asked for is written to the outbox, durably, before
 * anything is sent; a scheduler then POSTs due deliveries, signed per Standard Webhooks, and records each
 * outcome. The outbox is the only state: after a crash or a restart the scheduler simply finds the
 * pending rows, with their attempt counts and next attempt times, and goes on.
 *
 * - Success is a 2xx answer within `webhooks.deliveryTimeoutMs`; redirects are not followed.
 * - `410 Gone` disables the subscription and ends its pending deliveries.
 * - Anything else is retried on the Standard Webhooks schedule (retry-schedule.ts), with `Retry-After`
 *   honoured, until the last attempt fails and the delivery is dead, kept for a manual replay.
 * - At most `concurrency` requests are in flight, and two per subscription: a slow receiver cannot pile up
 *   sockets, nor hold up the other subscriptions.
 * - Deliveries are at least once and not ordered: a receiver dedupes on `webhook-id` and orders by the
 *   payload's `timestamp`.
 */
import type { EventBus, EventMap } from "../bus.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { type DeliveryRecord, durably, type Store, type SubscriptionRecord } from "../store/index.ts";
import { VERSION } from "../version.ts";
import { DestinationError, hostOf, parseDestination, type Resolver, systemResolver } from "./destination.ts";
import { MAX_PAYLOAD_BYTES, WEBHOOK_EVENT_TYPES, type WebhookEventType, webhookBody } from "./events.ts";
import { type PostOutcome, postWebhook } from "./http-post.ts";
import { MAX_ATTEMPTS, nextAttemptAt, parseRetryAfter } from "./retry-schedule.ts";
import { signStandard } from "./signature.ts";

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Told how every delivery attempt ended (metrics). */
export interface WebhookMetrics {
  /** `retry`: failed, tried again later; `dead`: failed for the last time; `disabled`: the receiver said 410 Gone. */
  webhookDelivery(state: "delivered" | "retry" | "dead" | "disabled"): void;
}

export interface WebhookDispatcherOptions {
  store: Store;
  bus: EventBus;
  config: Config["webhooks"];
  log: Logger;
  metrics?: WebhookMetrics | undefined;
  now?: () => number;
  /** [0, 1), for the jitter of the retry schedule. */
  random?: () => number;
  /** Wakes the scheduler when the next delivery is due; tests pass timers that never fire and call drain(). */
  timers?: Timers;
  /** How host names are resolved (and checked) at every delivery. */
  resolve?: Resolver;
  /** Requests in flight at most. */
  concurrency?: number;
}

const OWNER = "webhook-dispatcher";
export const DEFAULT_CONCURRENCY = 4;
/** Requests in flight to one subscription at once; the rest of the global limit stays free for the others. */
const PER_SUBSCRIPTION_CONCURRENCY = 2;
/** How many due rows past the free slots the pump looks at to find ones whose subscription has room. */
const DUE_LOOKAHEAD = 64;
const BLOCKED_RECHECK_MS = 1000;
/** The scheduler looks at the outbox at least this often, whatever the next due time: a clock that jumped is caught up. */
const MAX_SLEEP_MS = 60_000;
/** Delivered rows are kept this long for `hearth subscription deliveries`, then pruned. */
export const DELIVERED_RETENTION_DAYS = 7;
const PRUNE_INTERVAL_MS = 86_400_000;

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class WebhookDispatcher {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly resolve: Resolver;
  private readonly concurrency: number;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Requests in flight per subscription: one slow receiver must not hold up the others. */
  private readonly inFlightBySubscription = new Map<string, number>();
  /** A due delivery waits only because its subscription is at its limit: look again soon, not at once. */
  private blocked = false;
  private readonly stopping = new AbortController();
  private timer: unknown;
  private pruneTimer: unknown;
  private started = false;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.store = options.store;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? realTimers;
    this.resolve = options.resolve ?? systemResolver;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** Listens to the bus and delivers what is due, including what a previous run left pending. */
  start(): void {
    if (this.started || this.stopping.signal.aborted) return;
    this.started = true;
    for (const type of WEBHOOK_EVENT_TYPES) {
      this.options.bus.on(OWNER, type, (event) => this.enqueue(type, event));
    }
    this.prune();
    const pending = this.store.outbox.nextAttemptAt() !== undefined;
    if (pending) this.log.info("delivering the webhooks left pending by the previous run");
    this.wake();
  }

  /**
   * Stops listening and aborts the requests in flight. An aborted attempt is not counted: the delivery
   * stays pending as it was and is sent again, with the same webhook-id, at the next start.
   */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.options.bus.removeListeners(OWNER);
    this.timers.clearTimeout(this.timer);
    this.timers.clearTimeout(this.pruneTimer);
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Looks for due deliveries now: after a replay, or when a test moved its clock. */
  wake(): void {
    if (!this.started || this.stopping.signal.aborted) return;
    this.pump();
  }

  /** Delivers everything due now, and what becomes due meanwhile, and resolves once nothing is in flight. */
  async drain(): Promise<void> {
    this.wake();
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight.values()]);
    }
  }

  /** Queues one event for every active subscription that asked for it, durably, then looks for due work. */
  private enqueue<E extends WebhookEventType>(type: E, event: EventMap[E]): void {
    const subscribers = this.store.subscriptions.active().filter((s) => s.events.includes(type));
    if (subscribers.length === 0) return;
    const payload = webhookBody(type, event);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      this.log.warn(
        { event: type, bytes: Buffer.byteLength(payload) },
        "a webhook payload is too large and is not sent",
      );
      return;
    }
    this.store.outbox.enqueue(
      subscribers.map((s) => ({ subscriptionId: s.id, eventType: type, payload })),
      this.now(),
    );
    this.wake();
  }

  private pump(): void {
    let free = this.concurrency - this.inFlight.size;
    this.blocked = false;
    if (free > 0) {
      // Looking further than the free slots: the oldest due rows may all belong to a subscription at its limit.
      const due = this.store.outbox.due(this.now(), this.inFlight.size + free + DUE_LOOKAHEAD);
      for (const delivery of due) {
        if (free === 0) break;
        if (this.inFlight.has(delivery.id)) continue;
        if ((this.inFlightBySubscription.get(delivery.subscriptionId) ?? 0) >= PER_SUBSCRIPTION_CONCURRENCY) {
          this.blocked = true;
          continue;
        }
        this.launch(delivery);
        free--;
      }
    }
    this.schedule();
  }

  private launch(delivery: DeliveryRecord): void {
    const run = this.attempt(delivery)
      .catch((error: unknown) => {
        // A database failure: the row stays as it was and is tried again at its time.
        this.log.error({ delivery: delivery.id, err: (error as Error).message }, "could not record a webhook delivery");
      })
      .finally(() => {
        this.inFlight.delete(delivery.id);
        const left = (this.inFlightBySubscription.get(delivery.subscriptionId) ?? 1) - 1;
        if (left > 0) this.inFlightBySubscription.set(delivery.subscriptionId, left);
        else this.inFlightBySubscription.delete(delivery.subscriptionId);
        if (!this.stopping.signal.aborted) this.pump();
      });
    this.inFlight.set(delivery.id, run);
    this.inFlightBySubscription.set(
      delivery.subscriptionId,
      (this.inFlightBySubscription.get(delivery.subscriptionId) ?? 0) + 1,
    );
  }

  /** Sleeps until the next pending delivery not in flight is due; a completion wakes it earlier. */
  private schedule(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight.size >= this.concurrency) return;
    const next = this.store.outbox.nextAttemptAt(new Set(this.inFlight.keys()));
    let wait = next === undefined ? MAX_SLEEP_MS : Math.min(Math.max(next - this.now(), 0), MAX_SLEEP_MS);
    // What is due now is held back by its subscription's limit: a completion wakes the pump anyway.
    if (this.blocked) wait = Math.max(wait, BLOCKED_RECHECK_MS);
    this.timer = this.timers.setTimeout(() => this.wake(), wait);
  }

  private prune(): void {
    try {
      const pruned = this.store.outbox.pruneDelivered(DELIVERED_RETENTION_DAYS, this.now());
      if (pruned > 0) this.log.debug({ pruned }, "pruned delivered webhooks");
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "could not prune delivered webhooks");
    }
    this.pruneTimer = this.timers.setTimeout(() => this.prune(), PRUNE_INTERVAL_MS);
  }

  private async attempt(delivery: DeliveryRecord): Promise<void> {
    const subscription = this.store.subscriptions.get(delivery.subscriptionId);
    // Removed meanwhile: its deliveries went with it.
    if (!subscription) return;
    const attempts = delivery.attempts + 1;
    if (subscription.state !== "active") {
      // Disabling ends a subscription's pending deliveries in the same transaction; one found pending anyway
      // (a database edited by hand) is ended here, rather than picked again and again.
      this.store.outbox.markDead(delivery.id, attempts, null, "the subscription is disabled");
      return;
    }
    const outcome = await this.post(subscription, delivery);
    if ("aborted" in outcome) return;
    const now = this.now();
    const context = { subscription: subscription.id, delivery: delivery.id, attempt: attempts };
    if ("status" in outcome && outcome.status >= 200 && outcome.status < 300) {
      this.store.outbox.markDelivered(delivery.id, attempts, outcome.status, now);
      this.options.metrics?.webhookDelivery("delivered");
      if (subscription.lastError !== null) this.store.subscriptions.recordError(subscription.id, null);
      this.log.debug({ ...context, status: outcome.status }, "webhook delivered");
      return;
    }
    if ("status" in outcome && outcome.status === 410) {
      const reason = "the receiver answered 410 Gone: the subscription is disabled";
      durably(this.store.db, () => {
        this.store.outbox.markDead(delivery.id, attempts, 410, reason);
        this.store.subscriptions.disable(subscription.id, reason, now);
      });
      this.options.metrics?.webhookDelivery("disabled");
      this.log.warn({ ...context, host: hostOfUrl(subscription.url) }, reason);
      return;
    }
    const status = "status" in outcome ? outcome.status : null;
    const error = "status" in outcome ? describeStatus(outcome.status) : outcome.error;
    const retryAfter = "status" in outcome ? parseRetryAfter(outcome.retryAfter, now) : undefined;
    const nextAt = nextAttemptAt(attempts, now, this.random, retryAfter);
    this.store.subscriptions.recordError(subscription.id, error);
    if (nextAt === undefined) {
      this.store.outbox.markDead(delivery.id, attempts, status, error);
      this.options.metrics?.webhookDelivery("dead");
      this.log.warn(
        { ...context, host: hostOfUrl(subscription.url), err: error },
        `a webhook failed ${MAX_ATTEMPTS} times and is dead; replay it with \`hearth subscription replay\``,
      );
      return;
    }
    this.store.outbox.markRetry(delivery.id, attempts, nextAt, status, error);
    this.options.metrics?.webhookDelivery("retry");
    this.log.debug({ ...context, err: error, retryInMs: nextAt - now }, "webhook failed; retrying later");
  }

  /** Signs and sends one attempt: a fresh timestamp every time, the same id. */
  private async post(subscription: SubscriptionRecord, delivery: DeliveryRecord): Promise<PostOutcome> {
    const allowPrivate = this.options.config.allowPrivateDestinations;
    let url: URL;
    try {
      // The rules may have changed since the subscription was made (allowPrivateDestinations turned off).
      url = parseDestination(subscription.url, allowPrivate);
    } catch (error) {
      if (error instanceof DestinationError) return { error: `refused: ${error.message}`, refused: true };
      throw error;
    }
    const timestamp = Math.floor(this.now() / 1000);
    return postWebhook({
      url,
      headers: {
        "content-type": "application/json",
        "user-agent": `Hearth-Webhooks/${VERSION}`,
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signStandard(subscription.secret, delivery.id, timestamp, delivery.payload),
      },
      body: delivery.payload,
      timeoutMs: this.options.config.deliveryTimeoutMs,
      signal: this.stopping.signal,
      resolve: this.resolve,
      allowPrivate,
    });
  }
}

function describeStatus(status: number): string {
  if (status >= 300 && status < 400) return `HTTP ${status}: redirects are not followed`;
  return `HTTP ${status}`;
}

/** Logs name the host only: a URL's path or query may hold the receiver's own token. */
function hostOfUrl(raw: string): string {
  try {
    return hostOf(new URL(raw));
  } catch {
    return "(invalid URL)";
  }
}
