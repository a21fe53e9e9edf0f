/**
 * Managing outbound subscriptions, the same for the CLI and the admin API: creating one (its events
 * checked, its URL through the SSRF guard, a new signing secret shown once), removing one, and replaying
 * a delivery. What a subscription and a delivery look like to a user is defined here too, so `--json` and
 * the API print the same objects, and a secret is never part of them after creation.
 */
import { z } from "zod";
import type { Config } from "../config/index.ts";
import type { DeliveryRecord, Store, SubscriptionRecord } from "../store/index.ts";
import { checkDestination, DestinationError, type Resolver } from "./destination.ts";
import { WEBHOOK_EVENT_TYPES } from "./events.ts";
import { generateWebhookSecret } from "./signature.ts";

export type SubscriptionErrorCode =
  | "invalid_subscription"
  | "forbidden_destination"
  | "unknown_subscription"
  | "unknown_delivery"
  | "subscription_disabled";

export const SUBSCRIPTION_ERROR_STATUS: Record<SubscriptionErrorCode, number> = {
  invalid_subscription: 400,
  forbidden_destination: 400,
  unknown_subscription: 404,
  unknown_delivery: 404,
  subscription_disabled: 409,
};

export class SubscriptionError extends Error {
  override readonly name = "SubscriptionError";
  constructor(
    readonly code: SubscriptionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The body of `POST /api/v1/subscriptions`. */
export const SubscriptionRequestSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES, { error: () => `an event is one of ${WEBHOOK_EVENT_TYPES.join(", ")}` }))
    .min(1, "name at least one event")
    .max(WEBHOOK_EVENT_TYPES.length),
});
export type SubscriptionRequest = z.infer<typeof SubscriptionRequestSchema>;

/** `device.state,command.result` as the CLI takes it. */
export function parseEventList(list: string): string[] {
  return list
    .split(",")
    .map((event) => event.trim())
    .filter((event) => event !== "");
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function subscriptionView(subscription: SubscriptionRecord) {
  return {
    id: subscription.id,
    url: subscription.url,
    events: subscription.events,
    state: subscription.state,
    created_at: iso(subscription.createdAt),
    disabled_at: iso(subscription.disabledAt),
    last_error: subscription.lastError,
  };
}
export type SubscriptionView = ReturnType<typeof subscriptionView>;

export function deliveryView(delivery: DeliveryRecord) {
  return {
    id: delivery.id,
    subscription: delivery.subscriptionId,
    event: delivery.eventType,
    state: delivery.state,
    attempts: delivery.attempts,
    next_attempt_at: delivery.state === "pending" ? iso(delivery.nextAttemptAt) : null,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    delivered_at: iso(delivery.deliveredAt),
    payload: JSON.parse(delivery.payload) as unknown,
  };
}
export type DeliveryView = ReturnType<typeof deliveryView>;

export interface CreatedSubscription {
  subscription: SubscriptionRecord;
  /** Shown once; receivers verify signatures with it. */
  secret: string;
}

/** Checks and stores a new subscription; rejects with a SubscriptionError. */
export async function addSubscription(
  store: Store,
  config: Config["webhooks"],
  request: unknown,
  options: { now?: number; resolve?: Resolver } = {},
): Promise<CreatedSubscription> {
  const parsed = SubscriptionRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new SubscriptionError("invalid_subscription", `${where}${issue?.message ?? "invalid subscription"}`);
  }
  let url: URL;
  try {
    url = await checkDestination(parsed.data.url, {
      allowPrivate: config.allowPrivateDestinations,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
  } catch (error) {
    if (error instanceof DestinationError) throw new SubscriptionError("forbidden_destination", error.message);
    throw error;
  }
  const secret = generateWebhookSecret();
  const events = [...new Set(parsed.data.events)];
  const subscription = store.subscriptions.add({ url: url.href, secret, events }, options.now ?? Date.now());
  return { subscription, secret };
}

export function removeSubscription(store: Store, id: string): void {
  if (!store.subscriptions.remove(id)) throw new SubscriptionError("unknown_subscription", `no subscription "${id}"`);
}

export function getSubscription(store: Store, id: string): SubscriptionRecord {
  const subscription = store.subscriptions.get(id);
  if (!subscription) throw new SubscriptionError("unknown_subscription", `no subscription "${id}"`);
  return subscription;
}

/**
 * Makes a delivery pending and due now, with its webhook-id and payload unchanged, so a receiver that
 * dedupes on the id sees the same delivery again. A disabled subscription's deliveries are refused: the
 * receiver said it is gone.
 */
export function replayDelivery(store: Store, deliveryId: string, now: number = Date.now()): DeliveryRecord {
  const delivery = store.outbox.get(deliveryId);
  if (!delivery) throw new SubscriptionError("unknown_delivery", `no delivery "${deliveryId}"`);
  const subscription = getSubscription(store, delivery.subscriptionId);
  if (subscription.state !== "active") {
    throw new SubscriptionError(
      "subscription_disabled",
      `subscription "${subscription.id}" is disabled (its receiver answered 410 Gone); add a new subscription for it`,
    );
  }
  return store.outbox.replay(deliveryId, now) as DeliveryRecord;
}
