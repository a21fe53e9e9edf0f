/**
 * Brightness: a light's level. A relative change ("brighter") moves by the percent Google sends, or by
 * 10 % per step of its weight, within the light's range; setting a level above 0 also switches the light
 * on, as a dimmer does.
 */
import type { ParamValue } from "../../model/index.ts";
import { command, trait } from "../messages.ts";
import { adjusted, type GoogleDevice, type GoogleTrait, paramNumber, writable } from "../trait.ts";

const PERCENT = { min: 0, max: 100 };
const PERCENT_PER_WEIGHT = 10;

/** Setting a light's brightness, colour or white switches it on, unless it is being dimmed to 0. */
export function withLightOn(device: GoogleDevice, params: Record<string, ParamValue>): Record<string, ParamValue> {
  if (device.type !== "light" || params.brightness === 0 || !writable(device, "on") || device.state.on === true) {
    return params;
  }
  return { on: true, ...params };
}

export const brightness: GoogleTrait = {
  name: trait("Brightness"),
  appliesTo: (device) => device.type === "light" && writable(device, "brightness") !== undefined,
  attributes: () => ({}),
  states: (device) =>
    typeof device.state.brightness === "number" ? { brightness: Math.round(device.state.brightness) } : {},
  commands: {
    [command("BrightnessAbsolute")]: (params, device) => ({
      params: withLightOn(device, { brightness: paramNumber(params, "brightness") }),
    }),
    [command("BrightnessRelative")]: (params, device) => {
      const delta =
        typeof params.brightnessRelativePercent === "number"
          ? params.brightnessRelativePercent
          : paramNumber(params, "brightnessRelativeWeight") * PERCENT_PER_WEIGHT;
      return { params: withLightOn(device, { brightness: adjusted(device, "brightness", delta, PERCENT) }) };
    },
  },
};
