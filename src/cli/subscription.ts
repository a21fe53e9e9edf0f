import { Command, Option } from "commander";
import type { DELIVERY_STATES, DeliveryState } from "../store/index.ts";
import type { WEBHOOK_EVENT_TYPES } from "../webhooks/events.ts";
import {
  apiErrorMessage,
  CliError,
  type CommonOptions,
  callDaemon,
  listCommand,
  printJson,
  printTable,
  withCommonOptions,
  withStore,
} from "./context.ts";

/**
 * Copies of WEBHOOK_EVENT_TYPES and the store's DELIVERY_STATES, in their order, for `--help`: the modules
 * that define them load zod and SQLite, which a command loads only when it runs. The compiler keeps them equal.
 */
const EVENT_TYPES = [
  "device.state",
  "device.availability",
  "device.registry",
  "command.result",
  "link.changed",
] as const satisfies typeof WEBHOOK_EVENT_TYPES;
const STATES = ["pending", "delivered", "dead"] as const satisfies typeof DELIVERY_STATES;

/** The subscription service, imported when a command runs. */
const service = () => import("../webhooks/subscriptions.ts");

/** The service's errors as the CLI reports them: one line, exit status 1. */
async function cli<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const { SubscriptionError } = await service();
    if (error instanceof SubscriptionError) throw new CliError(error.message);
    throw error;
  }
}

export function subscriptionCommand(): Command {
  const subscription = new Command("subscription").description(
    "send events to your own HTTPS endpoints (outbound webhooks, signed per Standard Webhooks)",
  );

  withCommonOptions(subscription.command("add <url>"))
    .description("subscribe a URL to events; prints the subscription's id and signing secret (shown once)")
    .requiredOption("--events <list>", `comma-separated events: ${EVENT_TYPES.join(", ")}`)
    .option("--json", "print one JSON object")
    .action((url: string, options: CommonOptions & { events: string; json?: boolean }) =>
      withStore(options, (store, config) =>
        cli(async () => {
          const { addSubscription, parseEventList, subscriptionView } = await service();
          const { subscription: created, secret } = await addSubscription(store, config.webhooks, {
            url,
            events: parseEventList(options.events),
          });
          if (options.json) return printJson({ ...subscriptionView(created), secret });
          process.stdout.write(
            [
              `Subscribed ${created.url} to ${created.events.join(", ")}.`,
              "",
              `  Subscription id  ${created.id}`,
              `  Signing secret   ${secret}`,
              "",
              "The secret is shown only now. The receiver verifies the webhook-signature header with it",
              "(Standard Webhooks: HMAC-SHA256 of `webhook-id.webhook-timestamp.body`).",
              "",
            ].join("\n"),
          );
        }),
      ),
    );

  listCommand(subscription.command("list").description("list subscriptions (secrets are never shown)"), {
    rows: async (store) => {
      const { subscriptionView } = await service();
      return store.subscriptions.list().map(subscriptionView);
    },
    empty: "No subscriptions yet: add one with `hearth subscription add <url> --events device.state`.",
    columns: [
      ["ID", (s) => s.id],
      ["URL", (s) => s.url],
      ["EVENTS", (s) => s.events.join(",")],
      ["STATE", (s) => s.state],
      ["LAST ERROR", (s) => s.last_error],
    ],
  });

  withCommonOptions(subscription.command("remove <id>"))
    .description("remove a subscription and its deliveries, pending ones included")
    .action((id: string, options: CommonOptions) =>
      withStore(options, (store) =>
        cli(async () => {
          const { removeSubscription } = await service();
          removeSubscription(store, id);
          process.stdout.write(`Removed subscription ${id}.\n`);
        }),
      ),
    );

  withCommonOptions(subscription.command("deliveries <id>"))
    .description("list a subscription's deliveries, newest first: state, attempts, last answer")
    .addOption(new Option("--state <state>", "only deliveries in this state").choices(STATES))
    .option("--json", "print JSON, payloads included")
    .action((id: string, options: CommonOptions & { state?: DeliveryState; json?: boolean }) =>
      withStore(options, (store) =>
        cli(async () => {
          const { deliveryView, getSubscription } = await service();
          const found = getSubscription(store, id);
          const rows = store.outbox.list(found.id, { state: options.state }).map(deliveryView);
          if (options.json) return printJson(rows);
          if (rows.length === 0) return void process.stdout.write("No deliveries.\n");
          printTable(
            ["DELIVERY", "EVENT", "STATE", "ATTEMPTS", "LAST STATUS", "NEXT ATTEMPT", "CREATED", "LAST ERROR"],
            rows.map((d) => [
              d.id,
              d.event,
              d.state,
              d.attempts,
              d.last_status,
              d.next_attempt_at,
              d.created_at,
              d.last_error,
            ]),
          );
        }),
      ),
    );

  withCommonOptions(subscription.command("replay <delivery-id>"))
    .description("send a delivery again now, with the same webhook-id, and a fresh retry schedule")
    .action((deliveryId: string, options: CommonOptions) =>
      withStore(options, (store, config) =>
        cli(async () => {
          const { replayDelivery, SubscriptionError } = await service();
          const delivery = store.outbox.get(deliveryId);
          if (!delivery) throw new SubscriptionError("unknown_delivery", `no delivery "${deliveryId}"`);
          // Through the daemon when it runs, so the delivery is attempted at once rather than at its next look.
          const path = `/api/v1/subscriptions/${encodeURIComponent(delivery.subscriptionId)}/deliveries/${encodeURIComponent(deliveryId)}/replay`;
          try {
            const response = await callDaemon(config, store, "POST", path);
            if (response.status !== 200) throw new CliError(apiErrorMessage(response));
            process.stdout.write(`Replaying ${deliveryId}: Hearth is sending it now.\n`);
          } catch (error) {
            if (!(error instanceof CliError) || !error.message.startsWith("Hearth is not running")) throw error;
            replayDelivery(store, deliveryId);
            process.stdout.write(`Replaying ${deliveryId}: Hearth is not running; it sends it when it next starts.\n`);
          }
        }),
      ),
    );

  return subscription;
}
