/**
 * Builders for every message Hearth sends to Alexa, synchronous answers and gateway events alike. Each
 * shape follows Amazon's schema (root objects allow no extra keys); the tests validate them all.
 */
import type { DiscoveryEndpoint } from "./endpoints.ts";
import type { AlexaError } from "./errors.ts";
import { type AlexaEvent, type AlexaProperty, type DirectiveAddress, eventHeader, timeOfSample } from "./messages.ts";

/** How a proactive report says what caused a change. */
export type ChangeCause =
  | "APP_INTERACTION"
  | "PHYSICAL_INTERACTION"
  | "PERIODIC_POLL"
  | "RULE_TRIGGER"
  | "VOICE_INTERACTION";

const bearer = (token: string) => ({ type: "BearerToken" as const, token });

/** A directive's answer; sent later through the gateway it carries the gateway token in its scope. */
export function controlResponse(
  correlationToken: string | undefined,
  endpointId: string,
  properties: AlexaProperty[],
  gatewayToken?: string,
): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa", "Response", correlationToken),
      endpoint: { ...(gatewayToken ? { scope: bearer(gatewayToken) } : {}), endpointId },
      payload: {},
    },
    context: { properties },
  };
}

/** "The answer follows through the event gateway": no endpoint, as Amazon's schema requires. */
export function deferredResponse(correlationToken: string | undefined, estimatedSeconds: number): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa", "DeferredResponse", correlationToken),
      payload: { estimatedDeferralInSeconds: estimatedSeconds },
    },
  };
}

export function stateReport(
  correlationToken: string | undefined,
  endpointId: string,
  properties: AlexaProperty[],
): AlexaEvent {
  return {
    event: { header: eventHeader("Alexa", "StateReport", correlationToken), endpoint: { endpointId }, payload: {} },
    context: { properties },
  };
}

export function errorResponse(address: DirectiveAddress, error: AlexaError, gatewayToken?: string): AlexaEvent {
  const scope = gatewayToken ? { scope: bearer(gatewayToken) } : {};
  return {
    event: {
      header: eventHeader(error.namespace, "ErrorResponse", address.correlationToken),
      ...(address.endpointId ? { endpoint: { ...scope, endpointId: address.endpointId } } : {}),
      // Amazon's messages are for the user's ears and the developer console: short, no internals.
      payload: { type: error.type, message: error.message.slice(0, 512), ...error.extra },
    },
  };
}

export function discoverResponse(endpoints: DiscoveryEndpoint[]): AlexaEvent {
  return { event: { header: eventHeader("Alexa.Discovery", "Discover.Response"), payload: { endpoints } } };
}

export function acceptGrantResponse(): AlexaEvent {
  return { event: { header: eventHeader("Alexa.Authorization", "AcceptGrant.Response"), payload: {} } };
}

export function activationStarted(
  correlationToken: string | undefined,
  endpointId: string,
  cause: ChangeCause,
  at: number,
): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa.SceneController", "ActivationStarted", correlationToken),
      endpoint: { endpointId },
      payload: { cause: { type: cause }, timestamp: timeOfSample(at) },
    },
    context: { properties: [] },
  };
}

/** Changed properties in the payload, every other current value in the context, never one in both. */
export function changeReport(
  token: string,
  endpointId: string,
  cause: ChangeCause,
  changed: AlexaProperty[],
  unchanged: AlexaProperty[],
): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa", "ChangeReport"),
      endpoint: { scope: bearer(token), endpointId },
      payload: { change: { cause: { type: cause }, properties: changed } },
    },
    context: { properties: unchanged },
  };
}

export function addOrUpdateReport(token: string, endpoints: DiscoveryEndpoint[]): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa.Discovery", "AddOrUpdateReport"),
      payload: { endpoints, scope: bearer(token) },
    },
  };
}

/** Not in Amazon's schema (it predates it); the shape is the one in Amazon's documentation. */
export function deleteReport(token: string, endpointIds: string[]): AlexaEvent {
  return {
    event: {
      header: eventHeader("Alexa.Discovery", "DeleteReport"),
      payload: { endpoints: endpointIds.map((endpointId) => ({ endpointId })), scope: bearer(token) },
    },
  };
}
