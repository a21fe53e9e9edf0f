/**
 * The Google smart-home fulfillment wire contract as Hearth speaks it: the request envelope Google posts
 * (parsed leniently: Google's `requestId` is a decimal string, not the UUID its schema claims) and the
 * intent payloads. Responses are built in the intent files; the tests validate them against Google's
 * published schemas.
 */
import { z } from "zod";

export const INTENTS = {
  sync: "action.devices.SYNC",
  query: "action.devices.QUERY",
  execute: "action.devices.EXECUTE",
  disconnect: "action.devices.DISCONNECT",
} as const;

const DeviceRef = z.object({
  id: z.string().min(1).max(256),
  customData: z.record(z.string(), z.unknown()).optional(),
});

export const FulfillmentRequestSchema = z.object({
  requestId: z.string().min(1).max(256),
  inputs: z
    .array(z.object({ intent: z.string().min(1).max(128), payload: z.record(z.string(), z.unknown()).optional() }))
    .min(1)
    .max(16),
});
export type FulfillmentRequest = z.infer<typeof FulfillmentRequestSchema>;

export const QueryPayloadSchema = z.object({ devices: z.array(DeviceRef).max(1000) });

export const ChallengeSchema = z.object({ pin: z.string().max(64).optional(), ack: z.boolean().optional() });
export type Challenge = z.infer<typeof ChallengeSchema>;

export const ExecutionSchema = z.object({
  command: z.string().min(1).max(128),
  params: z.record(z.string(), z.unknown()).default({}),
  challenge: ChallengeSchema.optional(),
});
export type Execution = z.infer<typeof ExecutionSchema>;

export const ExecutePayloadSchema = z.object({
  commands: z
    .array(
      z.object({ devices: z.array(DeviceRef).min(1).max(1000), execution: z.array(ExecutionSchema).min(1).max(16) }),
    )
    .min(1)
    .max(100),
});

/** Google truncates names at 60 characters without saying so; Hearth truncates them itself, visibly. */
export const NAME_LIMIT = 60;

/** Trait and type names are Google's, in full: `action.devices.traits.OnOff`, `action.devices.types.LIGHT`. */
export const trait = (name: string) => `action.devices.traits.${name}`;
export const deviceType = (name: string) => `action.devices.types.${name}`;
export const command = (name: string) => `action.devices.commands.${name}`;
