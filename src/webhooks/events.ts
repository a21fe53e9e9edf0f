/**
 * What outbound webhooks carry: the bus events a subscription can ask for, and the body of each delivery
 * in Standard Webhooks' recommended shape, `{type, timestamp, data}`. Bodies are thin (ids, the new state,
 * what changed) and stay far below the 20 kB the spec recommends: a node's state message is at most
 * 1 kB and a node declares at most 32 devices. Field names are snake_case, as in the admin API.
 */
import { z } from "zod";
import type { EventMap } from "../bus.ts";

export const WEBHOOK_EVENT_TYPES = [
  "device.state",
  "device.availability",
  "device.registry",
  "command.result",
  "link.changed",
] as const satisfies ReadonlyArray<keyof EventMap>;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Standard Webhooks: "payloads should be kept small, ideally under 20 kB". */
export const MAX_PAYLOAD_BYTES = 20_000;

const Value = z.union([z.boolean(), z.number(), z.string()]);
const Timestamp = z.iso.datetime({ offset: true });

export const DeviceStateDataSchema = z.object({
  device: z.string(),
  node: z.string(),
  /** The full reported state after the change. */
  state: z.record(z.string(), Value),
  changed: z.array(z.string()),
  cause: z.enum(["report", "command"]),
  actor: z.string().optional(),
});

export const DeviceAvailabilityDataSchema = z.object({
  node: z.string(),
  devices: z.array(z.string()),
  online: z.boolean(),
  offline_since: Timestamp.optional(),
});

export const DeviceRegistryDataSchema = z.object({
  node: z.string(),
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
});

export const CommandResultDataSchema = z.object({
  command_id: z.string(),
  device: z.string(),
  actor: z.string(),
  status: z.enum(["ok", "accepted", "error"]),
  error_code: z.string().optional(),
  latency_ms: z.number(),
});

export const LinkChangedDataSchema = z.object({
  user: z.string(),
  platform: z.string(),
  state: z.enum(["linked", "unlinked", "broken"]),
});

const envelope = <T extends WebhookEventType, D extends z.ZodType>(type: T, data: D) =>
  z.object({ type: z.literal(type), timestamp: Timestamp, data });

/** The body of every delivery. */
export const WebhookPayloadSchema = z.discriminatedUnion("type", [
  envelope("device.state", DeviceStateDataSchema),
  envelope("device.availability", DeviceAvailabilityDataSchema),
  envelope("device.registry", DeviceRegistryDataSchema),
  envelope("command.result", CommandResultDataSchema),
  envelope("link.changed", LinkChangedDataSchema),
]);
export type WebhookPayload = z.infer<typeof WebhookPayloadSchema>;

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The `data` of one bus event, as receivers get it. */
function dataOf<E extends WebhookEventType>(type: E, event: EventMap[E]): WebhookPayload["data"] {
  switch (type) {
    case "device.state": {
      const e = event as EventMap["device.state"];
      return {
        device: e.deviceId,
        node: e.nodeId,
        state: e.state,
        changed: e.changed,
        cause: e.cause,
        ...(e.actor ? { actor: e.actor } : {}),
      };
    }
    case "device.availability": {
      const e = event as EventMap["device.availability"];
      return {
        node: e.nodeId,
        devices: e.deviceIds,
        online: e.online,
        ...(e.offlineSince === undefined ? {} : { offline_since: iso(e.offlineSince) }),
      };
    }
    case "device.registry": {
      const e = event as EventMap["device.registry"];
      return { node: e.nodeId, added: e.added, removed: e.removed, changed: e.changed };
    }
    case "command.result": {
      const e = event as EventMap["command.result"];
      return {
        command_id: e.commandId,
        device: e.deviceId,
        actor: e.actor,
        status: e.status,
        ...(e.errorCode ? { error_code: e.errorCode } : {}),
        latency_ms: e.latencyMs,
      };
    }
    case "link.changed": {
      const e = event as EventMap["link.changed"];
      return { user: e.userId, platform: e.platform, state: e.state };
    }
  }
  throw new Error(`no webhook payload for ${type satisfies never}`);
}

/** The JSON body of a bus event's deliveries, byte for byte what is signed and sent. */
export function webhookBody<E extends WebhookEventType>(type: E, event: EventMap[E]): string {
  return JSON.stringify({ type, timestamp: iso(event.at), data: dataOf(type, event) });
}
