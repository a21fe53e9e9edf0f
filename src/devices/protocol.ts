/**
 * Node protocol v1: the MQTT topics and payloads between the bridge and its nodes. This file is the
 * single source in code; `docs/protocol.md` is the normative description for firmware authors, and the
 * two must agree. MQTT 3.1.1 is the contract: nothing here relies on MQTT 5.
 */
import { z } from "zod";
import { ACCESS_MODES, DEVICE_CLASSES, DEVICE_OPS, VALUE_TYPES } from "../model/index.ts";

export const PROTOCOL_VERSION = 1;
export const DEFAULT_TOPIC_PREFIX = "hearth/v1";

/** Node ids are MQTT client id = username = node id; `bridge` is the bridge's own subtree. */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,31}$/;
export const RESERVED_NODE_IDS: ReadonlySet<string> = new Set(["bridge"]);
export const DEV_ID_PATTERN = /^[a-z0-9_]{1,32}$/;

export function isValidNodeId(id: string): boolean {
  return NODE_ID_PATTERN.test(id) && !RESERVED_NODE_IDS.has(id);
}

/**
 * Size limits; larger messages are dropped and logged. A node's MQTT buffer must hold its config (up to
 * 4 KB); every other message fits in 1 KB, so a node with a small buffer only needs a compact config.
 */
export const LIMITS = {
  topicBytes: 128,
  configBytes: 4096,
  /** state, cmd, cmd/res, event, telemetry, ota/status */
  messageBytes: 1024,
  devicesPerNode: 32,
  paramsPerDevice: 16,
  commandIdChars: 32,
  /** How many recent command ids a node must remember for dedupe. */
  dedupeWindow: 8,
} as const;

export const STATUS_ONLINE = "online";
export const STATUS_OFFLINE = "offline";
export const StatusPayload = z.enum([STATUS_ONLINE, STATUS_OFFLINE]);
export type StatusPayload = z.infer<typeof StatusPayload>;

const shortText = (max: number) => z.string().max(max);

export const ParamSpecSchema = z.object({
  id: z.string().regex(DEV_ID_PATTERN, "param ids are 1–32 characters of a-z, 0-9 and _"),
  type: z.enum(VALUE_TYPES),
  rw: z.enum(ACCESS_MODES).default("rw"),
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  step: z.number().positive().finite().optional(),
  unit: shortText(16).optional(),
  values: z.array(shortText(32)).min(1).max(32).optional(),
});

export const DeviceDeclarationSchema = z.object({
  id: z.string().regex(DEV_ID_PATTERN, "device ids are 1–32 characters of a-z, 0-9 and _"),
  type: shortText(32),
  name: shortText(64).optional(),
  /** What the device is within its type (a cover that is a garage door); an unknown class is ignored. */
  class: z.enum(DEVICE_CLASSES).optional().catch(undefined),
  params: z.array(ParamSpecSchema).max(LIMITS.paramsPerDevice),
});
export type DeviceDeclarationPayload = z.infer<typeof DeviceDeclarationSchema>;

/** `hearth/v1/<node>/config`: retained, re-published on every connect. Unknown fields are ignored. */
export const NodeConfigSchema = z.object({
  node_id: z.string().optional(),
  proto: z.literal(PROTOCOL_VERSION),
  cfg_hash: shortText(64).optional(),
  name: shortText(64).optional(),
  fw: z.object({ version: shortText(32).optional(), build: shortText(40).optional() }).optional(),
  hw: z
    .object({ model: shortText(64).optional(), chip: shortText(32).optional(), mac: shortText(32).optional() })
    .optional(),
  devices: z
    .array(DeviceDeclarationSchema)
    .max(LIMITS.devicesPerNode)
    .refine((devices) => new Set(devices.map((d) => d.id)).size === devices.length, "device ids must be unique"),
  services: z.record(z.string(), z.boolean()).optional(),
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

export const ParamValueSchema = z.union([z.boolean(), z.number().finite(), shortText(64)]);
const StateValues = z.record(z.string(), ParamValueSchema);

/**
 * `hearth/v1/<node>/d/<dev>/state`: the device's full state, retained. `seq` is the node's own counter,
 * kept with the state so that an older retained message cannot overwrite a newer one after a restart.
 */
export const StatePayloadSchema = z
  .record(z.string(), z.union([ParamValueSchema, z.null()]))
  .transform((record, ctx) => {
    const { seq, ...values } = record;
    if (seq !== undefined && (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0)) {
      ctx.addIssue({ code: "custom", message: "seq must be a non-negative integer" });
      return z.NEVER;
    }
    for (const [key, value] of Object.entries(values)) {
      if (value === null) {
        ctx.addIssue({ code: "custom", message: `${key} must not be null` });
        return z.NEVER;
      }
    }
    return { seq: seq as number | undefined, values: values as Record<string, boolean | number | string> };
  });
export type StatePayload = z.infer<typeof StatePayloadSchema>;

/** The fields of an `ota` command (§14.1), and only of it. */
const OTA_COMMAND_FIELDS = ["url", "sha256", "size", "version"] as const;

/** A firmware version as a node announces it (`fw.version`) and an `ota` command carries it. */
export const FIRMWARE_VERSION_PATTERN = /^[\x21-\x7e]{1,32}$/;

/** `hearth/v1/<node>/cmd`: bridge → node, QoS 1, never retained. */
export const CommandPayloadSchema = z
  .object({
    id: z.string().min(1).max(LIMITS.commandIdChars).nullable().optional(),
    op: z.enum([...DEVICE_OPS, "reboot", "ota"]),
    dev: z.string().regex(DEV_ID_PATTERN).optional(),
    params: z.record(z.string(), ParamValueSchema).optional(),
    /** Absolute expiry in Unix seconds; a node with an unsynced clock ignores it. */
    exp: z.number().int().positive().optional(),
    /** `ota` only: where the node downloads the image; the URL carries its own one-time token. */
    url: z
      .url({ protocol: /^https?$/ })
      .max(256)
      .optional(),
    /** `ota` only: the SHA-256 of the whole image, lower-case hex. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits")
      .optional(),
    /** `ota` only: the image's size in bytes. */
    size: z.number().int().positive().optional(),
    /** `ota` only: the version the image contains. */
    version: z.string().regex(FIRMWARE_VERSION_PATTERN, "1–32 printable characters without spaces").optional(),
  })
  .superRefine((command, ctx) => {
    // One flat object rather than a union, so that every op keeps the same shape for readers of `dev`
    // and `params`; the op decides which fields must or must not be there.
    if (command.op === "ota") {
      for (const field of OTA_COMMAND_FIELDS) {
        if (command[field] === undefined) ctx.addIssue({ code: "custom", path: [field], message: "required for ota" });
      }
      for (const field of ["dev", "params"] as const) {
        if (command[field] !== undefined)
          ctx.addIssue({ code: "custom", path: [field], message: "not allowed for ota" });
      }
      return;
    }
    for (const field of OTA_COMMAND_FIELDS) {
      if (command[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: "only for ota" });
    }
  });
export type CommandPayload = z.infer<typeof CommandPayloadSchema>;

export const COMMAND_STATUSES = [
  "ok",
  "accepted",
  "duplicate",
  "bad_request",
  "unknown_device",
  "unknown_param",
  "read_only",
  "out_of_range",
  "busy",
  "expired",
  "error",
] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** `hearth/v1/<node>/cmd/res`: node → bridge, QoS 1 (0 allowed), never retained. */
export const CommandResponseSchema = z.object({
  id: z.string().max(LIMITS.commandIdChars).nullable(),
  status: z.enum(COMMAND_STATUSES),
  dev: z.string().optional(),
  state: StateValues.optional(),
  seq: z.number().int().nonnegative().optional(),
  // A long message must not cost the answer: it is cut, not refused.
  msg: z
    .string()
    .transform((text) => text.slice(0, 200))
    .optional(),
});
export type CommandResponse = z.infer<typeof CommandResponseSchema>;

/** `hearth/v1/<node>/event`: momentary things (button presses, alerts); never stored as state. */
export const EventPayloadSchema = z.looseObject({
  type: shortText(32),
  dev: z.string().regex(DEV_ID_PATTERN).optional(),
});
export type EventPayload = z.infer<typeof EventPayloadSchema>;

/** `hearth/v1/<node>/telemetry`: health figures, QoS 0, every minute or so. */
export const TelemetryPayloadSchema = z.looseObject({
  rssi: z.number().optional(),
  heap: z.number().optional(),
  uptime_s: z.number().optional(),
  ip: shortText(64).optional(),
});
export type TelemetryPayload = z.infer<typeof TelemetryPayloadSchema>;

export const OTA_STATES = ["downloading", "verifying", "rebooting", "success", "failed", "rejected"] as const;
export type OtaState = (typeof OTA_STATES)[number];

/**
 * `hearth/v1/<node>/ota/status`: node → bridge, QoS 1, never retained; the progress and outcome of the
 * update started by the `ota` command whose id it carries (§14.1).
 */
export const OtaStatusSchema = z.object({
  id: z.string().min(1).max(LIMITS.commandIdChars),
  state: z.enum(OTA_STATES),
  progress: z.number().int().min(0).max(100).optional(),
  version: shortText(32).optional(),
  error: shortText(32).optional(),
  // As in a command response: a long message must not cost the report, so it is cut, not refused.
  msg: z
    .string()
    .transform((text) => text.slice(0, 200))
    .optional(),
});
export type OtaStatus = z.infer<typeof OtaStatusSchema>;

export type TopicKind = "status" | "config" | "state" | "cmd" | "cmd_res" | "event" | "telemetry" | "ota_status";
export interface ParsedTopic {
  nodeId: string;
  kind: TopicKind;
  /** Only for `state`. */
  devId?: string;
}

/** Builds and parses the topic names under one prefix (`hearth/v1` unless configured otherwise). */
export class Topics {
  constructor(readonly prefix: string = DEFAULT_TOPIC_PREFIX) {}

  status(nodeId: string): string {
    return `${this.prefix}/${nodeId}/status`;
  }
  config(nodeId: string): string {
    return `${this.prefix}/${nodeId}/config`;
  }
  state(nodeId: string, devId: string): string {
    return `${this.prefix}/${nodeId}/d/${devId}/state`;
  }
  command(nodeId: string): string {
    return `${this.prefix}/${nodeId}/cmd`;
  }
  commandResponse(nodeId: string): string {
    return `${this.prefix}/${nodeId}/cmd/res`;
  }
  event(nodeId: string): string {
    return `${this.prefix}/${nodeId}/event`;
  }
  telemetry(nodeId: string): string {
    return `${this.prefix}/${nodeId}/telemetry`;
  }
  otaStatus(nodeId: string): string {
    return `${this.prefix}/${nodeId}/ota/status`;
  }
  get bridgeStatus(): string {
    return `${this.prefix}/bridge/status`;
  }
  /** Everything one node may publish or subscribe to (its ACL subtree). */
  nodeSubtree(nodeId: string): string {
    return `${this.prefix}/${nodeId}/#`;
  }
  /** The subscriptions the bridge needs to follow every node. */
  get bridgeSubscriptions(): string[] {
    // Retained messages are delivered per subscription in this order: a node's config, then its states,
    // then its status, so the `online` that triggers a resync finds the node's devices already stored.
    return ["config", "d/+/state", "status", "cmd/res", "event", "telemetry", "ota/status"].map(
      (suffix) => `${this.prefix}/+/${suffix}`,
    );
  }

  parse(topic: string): ParsedTopic | null {
    if (!topic.startsWith(`${this.prefix}/`)) return null;
    const parts = topic.slice(this.prefix.length + 1).split("/");
    const nodeId = parts[0];
    if (nodeId === undefined || !isValidNodeId(nodeId)) return null;
    const rest = parts.slice(1).join("/");
    switch (rest) {
      case "status":
        return { nodeId, kind: "status" };
      case "config":
        return { nodeId, kind: "config" };
      case "cmd":
        return { nodeId, kind: "cmd" };
      case "cmd/res":
        return { nodeId, kind: "cmd_res" };
      case "event":
        return { nodeId, kind: "event" };
      case "telemetry":
        return { nodeId, kind: "telemetry" };
      case "ota/status":
        return { nodeId, kind: "ota_status" };
    }
    if (parts.length === 4 && parts[1] === "d" && parts[3] === "state" && DEV_ID_PATTERN.test(parts[2] ?? "")) {
      return { nodeId, kind: "state", devId: parts[2] as string };
    }
    return null;
  }
}

export function maxPayloadBytes(kind: TopicKind): number {
  return kind === "config" ? LIMITS.configBytes : LIMITS.messageBytes;
}
