/**
 * The Alexa Smart Home API v3 wire contract, as far as Hearth speaks it: the directive envelope Alexa
 * sends (parsed leniently — Amazon adds fields over time) and the events Hearth answers with. The shapes
 * of outgoing messages follow Amazon's published schema; the tests validate every one against it.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";

export const PAYLOAD_VERSION = "3";

const Scope = z.object({ type: z.string(), token: z.string().max(4096) }).partial();

export const DirectiveSchema = z.object({
  directive: z.object({
    header: z.object({
      namespace: z.string().min(1).max(128),
      name: z.string().min(1).max(128),
      payloadVersion: z.string().max(8),
      messageId: z.string().max(256).optional(),
      correlationToken: z.string().max(8192).optional(),
      instance: z.string().max(128).optional(),
    }),
    endpoint: z
      .object({
        scope: Scope.optional(),
        endpointId: z.string().max(256),
        cookie: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
    payload: z.record(z.string(), z.unknown()).default({}),
  }),
});
export type Directive = z.infer<typeof DirectiveSchema>["directive"];

const parsedBodies = new WeakMap<object, ReturnType<typeof DirectiveSchema.safeParse>>();

/**
 * Parses a request body as a directive, once: the route reads the token from it before the router
 * handles it, and a directive is checked against the schema a single time per request.
 */
export function parseDirective(body: unknown): ReturnType<typeof DirectiveSchema.safeParse> {
  if (typeof body !== "object" || body === null) return DirectiveSchema.safeParse(body);
  let parsed = parsedBodies.get(body);
  if (!parsed) {
    parsed = DirectiveSchema.safeParse(body);
    parsedBodies.set(body, parsed);
  }
  return parsed;
}

/** What can be read from a body that is not a valid directive, to address the error answer. */
export interface DirectiveAddress {
  correlationToken?: string;
  endpointId?: string;
}

/** Best-effort: the correlation token and endpoint of whatever arrived, for an ErrorResponse. */
export function addressOf(body: unknown): DirectiveAddress {
  const directive = (body as { directive?: { header?: unknown; endpoint?: unknown } } | null)?.directive;
  const token = (directive?.header as { correlationToken?: unknown } | undefined)?.correlationToken;
  const endpointId = (directive?.endpoint as { endpointId?: unknown } | undefined)?.endpointId;
  return {
    ...(typeof token === "string" && token.length > 0 && token.length <= 8192 ? { correlationToken: token } : {}),
    ...(typeof endpointId === "string" && ENDPOINT_ID_PATTERN.test(endpointId) ? { endpointId } : {}),
  };
}

/** Amazon's schema: 1–256 of these characters (no dot, which is why device ids are translated). */
export const ENDPOINT_ID_PATTERN = /^[a-zA-Z0-9_\-=#;:?@&]{1,256}$/;

/**
 * Where a directive carries the user's token: the endpoint scope for control and ReportState, the
 * payload scope for Discover, the grantee for AcceptGrant.
 */
export function directiveToken(directive: Directive): string | undefined {
  const payload = directive.payload as { scope?: { token?: unknown }; grantee?: { token?: unknown } };
  const candidates = [directive.endpoint?.scope?.token, payload.scope?.token, payload.grantee?.token];
  return candidates.find((token): token is string => typeof token === "string" && token.length > 0);
}

/** A property as Alexa reads it in `context.properties` and `change.properties`. */
export interface AlexaProperty {
  namespace: string;
  name: string;
  instance?: string;
  value: unknown;
  timeOfSample: string;
  uncertaintyInMilliseconds: number;
}

export interface EventHeader {
  namespace: string;
  name: string;
  payloadVersion: typeof PAYLOAD_VERSION;
  messageId: string;
  correlationToken?: string;
}

export interface AlexaEvent {
  event: {
    header: EventHeader;
    endpoint?: { scope?: { type: "BearerToken"; token: string }; endpointId: string; cookie?: Record<string, string> };
    payload: Record<string, unknown>;
  };
  context?: { properties: AlexaProperty[] };
}

export function eventHeader(namespace: string, name: string, correlationToken?: string): EventHeader {
  return {
    namespace,
    name,
    payloadVersion: PAYLOAD_VERSION,
    messageId: randomUUID(),
    ...(correlationToken ? { correlationToken } : {}),
  };
}

/** Amazon's time format: UTC with at most three fractional digits, which is what toISOString gives. */
export function timeOfSample(ms: number): string {
  return new Date(ms).toISOString();
}

/** A capability object of a discovered endpoint. */
export interface Capability {
  type: "AlexaInterface";
  interface: string;
  version: "3";
  instance?: string;
  properties?: {
    supported: Array<{ name: string }>;
    proactivelyReported: boolean;
    retrievable: boolean;
    nonControllable?: boolean;
  };
  configuration?: Record<string, unknown>;
  capabilityResources?: Record<string, unknown>;
  semantics?: Record<string, unknown>;
  supportsDeactivation?: boolean;
}

/** The capability every endpoint lists first. */
export const ALEXA_BASE_CAPABILITY: Capability = { type: "AlexaInterface", interface: "Alexa", version: "3" };

/**
 * A capability whose properties Hearth both answers ReportState for and reports proactively: every
 * state change reaches the bus, so every property can be both.
 */
export function reportedCapability(
  interfaceName: string,
  propertyNames: readonly string[],
  extra: Partial<Capability> & { nonControllable?: boolean } = {},
): Capability {
  const { nonControllable, ...rest } = extra;
  return {
    type: "AlexaInterface",
    interface: interfaceName,
    version: "3",
    ...rest,
    properties: {
      supported: propertyNames.map((name) => ({ name })),
      proactivelyReported: true,
      retrievable: true,
      ...(nonControllable ? { nonControllable: true } : {}),
    },
  };
}
