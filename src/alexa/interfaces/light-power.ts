/**
 * Setting a light's brightness, colour or colour temperature also switches it on, as it does on every
 * light switch: "set the kitchen light to 40 %" means a lit kitchen. Only for lights with an `on` param.
 */
import type { ParamValue } from "../../model/index.ts";
import { type AlexaDevice, writable } from "../interface.ts";

export function withLightOn(device: AlexaDevice, params: Record<string, ParamValue>): Record<string, ParamValue> {
  const brightnessZero = params.brightness === 0;
  if (device.type !== "light" || brightnessZero || !writable(device, "on") || device.state.on === true) return params;
  return { on: true, ...params };
}
