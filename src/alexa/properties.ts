/**
 * A device's Alexa properties from the stored state, stamped with when they were sampled. The time is
 * when the node last reported, not "now": Alexa shows stale values as stale. While the node is offline
 * the uncertainty grows with the time since that report, since the device may have changed unheard.
 */

import { interfacesOf } from "./endpoints.ts";
import type { AlexaDevice, PropertyValue } from "./interface.ts";
import { CONNECTIVITY_SOURCE } from "./interfaces/endpoint-health.ts";
import { type AlexaProperty, timeOfSample } from "./messages.ts";

export function propertyValues(device: AlexaDevice): PropertyValue[] {
  return interfacesOf(device).flatMap((i) => i.properties(device));
}

export function stamp(device: AlexaDevice, value: PropertyValue, now: number): AlexaProperty {
  const isConnectivity = value.sources.includes(CONNECTIVITY_SOURCE);
  const sampledAt = isConnectivity ? now : Math.min(device.reportedAt ?? now, now);
  const uncertainty = isConnectivity || device.online ? 0 : now - sampledAt;
  return {
    namespace: value.namespace,
    name: value.name,
    ...(value.instance ? { instance: value.instance } : {}),
    value: value.value,
    timeOfSample: timeOfSample(sampledAt),
    uncertaintyInMilliseconds: uncertainty,
  };
}

export function deviceProperties(device: AlexaDevice, now: number): AlexaProperty[] {
  return propertyValues(device).map((value) => stamp(device, value, now));
}
