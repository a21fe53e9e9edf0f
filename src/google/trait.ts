/**
 * The contract of one Google trait: which devices it applies to, its SYNC attributes, its share of the
 * device's state (QUERY, EXECUTE results and Report State all use the same), and how each of its commands
 * becomes a canonical command. One file per trait under `traits/`; SYNC, QUERY, EXECUTE and Report State
 * only see this shape.
 */
import type { PresentedDevice } from "../devices/presentation.ts";
import type { CanonicalCommand, ParamSpec, ParamValue } from "../model/index.ts";
import { GoogleError } from "./errors.ts";

export type GoogleDevice = PresentedDevice;

export type CommandHandler = (params: Record<string, unknown>, device: GoogleDevice) => CanonicalCommand;

export interface GoogleTrait {
  /** Google's full name, `action.devices.traits.OnOff`. */
  readonly name: string;
  appliesTo(device: GoogleDevice): boolean;
  attributes(device: GoogleDevice): Record<string, unknown>;
  /** The trait's states from the stored state; empty before the node first reported them. */
  states(device: GoogleDevice): Record<string, unknown>;
  /** Full command name (`action.devices.commands.OnOff`) → handler. */
  readonly commands: Readonly<Record<string, CommandHandler>>;
}

export function declared(device: GoogleDevice, paramId: string): ParamSpec | undefined {
  return device.definition.params.find((p) => p.id === paramId);
}

export function writable(device: GoogleDevice, paramId: string): ParamSpec | undefined {
  const spec = declared(device, paramId);
  return spec && spec.rw !== "r" ? spec : undefined;
}

/** A number a command's params must carry; anything else is a protocol error naming the field. */
export function paramNumber(params: Record<string, unknown>, key: string): number {
  const value = params[key];
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new GoogleError("protocolError", `${key} must be a number`);
  return value;
}

export function paramBoolean(params: Record<string, unknown>, key: string): boolean {
  const value = params[key];
  if (typeof value !== "boolean") throw new GoogleError("protocolError", `${key} must be true or false`);
  return value;
}

/** A writable param's value moved by `delta`, kept inside the device's declared range. */
export function adjusted(
  device: GoogleDevice,
  paramId: string,
  delta: number,
  canonical: { min: number; max: number },
) {
  const spec = writable(device, paramId);
  if (!spec) throw new GoogleError("notSupported", `${device.displayName} has no settable ${paramId}`);
  const current = device.state[paramId];
  const min = spec.min ?? canonical.min;
  const max = spec.max ?? canonical.max;
  return Math.min(max, Math.max(min, Math.round((typeof current === "number" ? current : min) + delta)));
}

/** Only the values that are present: a state Google is told must be one the node reported. */
export function present(values: Record<string, ParamValue | object | undefined>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
