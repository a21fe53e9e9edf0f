/** FanSpeed: a fan's speed as a percentage; named speeds are not offered. */
import { GoogleError } from "../errors.ts";
import { command, trait } from "../messages.ts";
import { adjusted, type GoogleTrait, paramNumber, writable } from "../trait.ts";

const PERCENT = { min: 0, max: 100 };
const PERCENT_PER_WEIGHT = 10;

export const fanSpeed: GoogleTrait = {
  name: trait("FanSpeed"),
  appliesTo: (device) => device.type === "fan" && writable(device, "speed_pct") !== undefined,
  attributes: () => ({ supportsFanSpeedPercent: true }),
  states: (device) =>
    typeof device.state.speed_pct === "number" ? { currentFanSpeedPercent: Math.round(device.state.speed_pct) } : {},
  commands: {
    [command("SetFanSpeed")]: (params) => {
      if (typeof params.fanSpeedPercent !== "number") {
        throw new GoogleError("notSupported", "this fan takes a speed in percent, not a named speed");
      }
      return { params: { speed_pct: paramNumber(params, "fanSpeedPercent") } };
    },
    [command("SetFanSpeedRelative")]: (params, device) => {
      const delta =
        typeof params.fanSpeedRelativePercent === "number"
          ? params.fanSpeedRelativePercent
          : paramNumber(params, "fanSpeedRelativeWeight") * PERCENT_PER_WEIGHT;
      return { params: { speed_pct: adjusted(device, "speed_pct", delta, PERCENT) } };
    },
  },
};
