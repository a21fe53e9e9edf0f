/**
 * The admin routes of outbound subscriptions, under /api/v1/subscriptions: the same operations as
 * `hearth subscription`. A replay wakes the dispatcher, so the delivery is attempted at once.
 */
import { type Request, Router } from "express";
import { z } from "zod";
import type { Config } from "../config/index.ts";
import { HttpError } from "../http/errors.ts";
import { DELIVERY_STATES, type Store } from "../store/index.ts";
import type { WebhookDispatcher } from "./outbox.ts";
import {
  addSubscription,
  deliveryView,
  getSubscription,
  removeSubscription,
  replayDelivery,
  SUBSCRIPTION_ERROR_STATUS,
  SubscriptionError,
  subscriptionView,
} from "./subscriptions.ts";

export interface SubscriptionAdminDeps {
  store: Store;
  config: Config;
  now: () => number;
  webhooks?: Pick<WebhookDispatcher, "wake"> | undefined;
}

const DeliveriesQuery = z.object({
  state: z.enum(DELIVERY_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const EmptyBody = z.strictObject({});

/** The service's errors in the API's error shape. */
function toHttp(error: unknown): unknown {
  return error instanceof SubscriptionError
    ? new HttpError(SUBSCRIPTION_ERROR_STATUS[error.code], error.code, error.message)
    : error;
}

function asHttp<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw toHttp(error);
  }
}

function idOf(req: Request, name: string): string {
  return req.params[name] as string;
}

export function subscriptionAdminRouter(deps: SubscriptionAdminDeps): Router {
  const { store, config, now } = deps;
  const router = Router();

  router.get("/", (_req, res) => {
    res.json(store.subscriptions.list().map(subscriptionView));
  });

  router.post("/", async (req, res) => {
    const created = await addSubscription(store, config.webhooks, req.body ?? {}, { now: now() }).catch(
      (error: unknown) => {
        throw toHttp(error);
      },
    );
    // The secret is in this answer only.
    res.status(201).json({ ...subscriptionView(created.subscription), secret: created.secret });
  });

  router.get("/:id", (req, res) => {
    res.json(subscriptionView(asHttp(() => getSubscription(store, idOf(req, "id")))));
  });

  router.delete("/:id", (req, res) => {
    asHttp(() => removeSubscription(store, idOf(req, "id")));
    res.status(204).end();
  });

  router.get("/:id/deliveries", (req, res) => {
    const query = DeliveriesQuery.safeParse(req.query);
    if (!query.success) {
      throw new HttpError(400, "invalid_request", `state: one of ${DELIVERY_STATES.join(", ")}; limit: 1 to 1000`);
    }
    const subscription = asHttp(() => getSubscription(store, idOf(req, "id")));
    res.json(store.outbox.list(subscription.id, query.data).map(deliveryView));
  });

  router.post("/:id/deliveries/:deliveryId/replay", (req, res) => {
    if (!EmptyBody.safeParse(req.body ?? {}).success) throw new HttpError(400, "invalid_request", "send no body");
    const delivery = asHttp(() => {
      const found = store.outbox.get(idOf(req, "deliveryId"));
      if (!found || found.subscriptionId !== idOf(req, "id")) {
        throw new SubscriptionError(
          "unknown_delivery",
          `no delivery "${idOf(req, "deliveryId")}" of this subscription`,
        );
      }
      return replayDelivery(store, found.id, now());
    });
    deps.webhooks?.wake();
    res.json(deliveryView(delivery));
  });

  return router;
}
