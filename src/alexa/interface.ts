/**
 * The contract of one Alexa interface: which devices it applies to, what it lists in discovery, which
 * properties it reads from the stored state, and how each of its directives becomes a canonical command.
 * One file per interface under `interfaces/`; the directive router and discovery only see this shape.
 */

import type { PresentedDevice } from "../devices/presentation.ts";
import type { CanonicalCommand, ParamSpec, ParamValue } from "../model/index.ts";
import { AlexaError } from "./errors.ts";
import type { Capability, Directive } from "./messages.ts";

/** A device as Alexa is shown it: presented with the user's overrides, with a name Alexa can speak. */
export interface AlexaDevice extends PresentedDevice {
  friendlyName: string;
}

/** A property value read from the state, before it is stamped with a time. */
export interface PropertyValue {
  namespace: string;
  name: string;
  instance?: string;
  value: unknown;
  /** The canonical params the value is derived from: a change of any of them changes the property. */
  sources: readonly string[];
}

export type DirectiveHandler = (directive: Directive, device: AlexaDevice) => CanonicalCommand;

export interface AlexaInterface {
  readonly namespace: string;
  appliesTo(device: AlexaDevice): boolean;
  capabilities(device: AlexaDevice): Capability[];
  properties(device: AlexaDevice): PropertyValue[];
  readonly directives: Readonly<Record<string, DirectiveHandler>>;
}

/** The device's declaration of a param, when it declared it. */
export function declared(device: AlexaDevice, paramId: string): ParamSpec | undefined {
  return device.definition.params.find((p) => p.id === paramId);
}

export function writable(device: AlexaDevice, paramId: string): ParamSpec | undefined {
  const spec = declared(device, paramId);
  return spec && spec.rw !== "r" ? spec : undefined;
}

export function clamp(value: number, spec: ParamSpec | undefined, fallback: { min: number; max: number }): number {
  const min = spec?.min ?? fallback.min;
  const max = spec?.max ?? fallback.max;
  return Math.min(max, Math.max(min, value));
}

/** A number the directive's payload must carry; anything else is an INVALID_VALUE naming the field. */
export function payloadNumber(directive: Directive, key: string): number {
  const value = directive.payload[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new AlexaError("INVALID_VALUE", `payload.${key} must be a number`);
  }
  return value;
}

/** A param the device must declare as writable for the directive to make sense. */
export function requireWritable(device: AlexaDevice, paramId: string): ParamSpec {
  const spec = writable(device, paramId);
  if (!spec) throw new AlexaError("INVALID_DIRECTIVE", `${device.friendlyName} has no settable ${paramId}`);
  return spec;
}

/** A whole-number property read from one param, or none until the node first reports it. */
export function wholeNumberProperty(
  device: AlexaDevice,
  namespace: string,
  name: string,
  paramId: string,
  instance?: string,
): PropertyValue[] {
  const value = device.state[paramId];
  if (typeof value !== "number") return [];
  return [{ namespace, name, ...(instance ? { instance } : {}), value: Math.round(value), sources: [paramId] }];
}

/** A sensor's `detectionState` from a boolean param; `detectedWhen` is the param's value that means DETECTED. */
export function detectionProperty(
  device: AlexaDevice,
  namespace: string,
  paramId: string,
  detectedWhen: boolean,
): PropertyValue[] {
  const value = device.state[paramId];
  if (typeof value !== "boolean") return [];
  const detected = value === detectedWhen ? "DETECTED" : "NOT_DETECTED";
  return [{ namespace, name: "detectionState", value: detected, sources: [paramId] }];
}

/** A directive that sets one writable param to a fixed value (TurnOn, Lock…). */
export function setsParam(paramId: string, value: ParamValue): DirectiveHandler {
  return (_directive, device) => {
    requireWritable(device, paramId);
    return { params: { [paramId]: value } };
  };
}

/**
 * A writable param's current value moved by `delta` and kept inside the device's declared range: a
 * relative change lands at the edge rather than failing there ("brighter" at 95 % means 100 %).
 */
export function adjustedValue(
  device: AlexaDevice,
  paramId: string,
  delta: number,
  canonical: { min: number; max: number },
): number {
  const spec = requireWritable(device, paramId);
  const current = device.state[paramId];
  return clamp(Math.round((typeof current === "number" ? current : canonical.min) + delta), spec, canonical);
}
