/**
 * Alexa.ColorTemperatureController: white tones in Kelvin ("make the light warmer"). Increase and
 * Decrease carry no amount; Hearth steps by 500 K within the light's declared range.
 */
import { AlexaError } from "../errors.ts";
import {
  type AlexaInterface,
  clamp,
  payloadNumber,
  requireWritable,
  wholeNumberProperty,
  writable,
} from "../interface.ts";
import { reportedCapability } from "../messages.ts";
import { withLightOn } from "./light-power.ts";

const NAMESPACE = "Alexa.ColorTemperatureController";
export const COLOR_TEMPERATURE_STEP_K = 500;
const CANONICAL_RANGE = { min: 1000, max: 10000 };

function step(direction: 1 | -1) {
  return (_directive: unknown, device: Parameters<AlexaInterface["appliesTo"]>[0]) => {
    const spec = requireWritable(device, "ct_k");
    const current = device.state.ct_k;
    // Without a current white tone (a light showing a colour) there is nothing to make warmer.
    if (typeof current !== "number") {
      throw new AlexaError("NOT_SUPPORTED_IN_CURRENT_MODE", "the light reports no colour temperature right now", {
        currentDeviceMode: "COLOR",
      });
    }
    const target = clamp(Math.round(current + direction * COLOR_TEMPERATURE_STEP_K), spec, CANONICAL_RANGE);
    return { params: withLightOn(device, { ct_k: target }) };
  };
}

export const colorTemperatureController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "light" && writable(device, "ct_k") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["colorTemperatureInKelvin"])],
  properties: (device) => wholeNumberProperty(device, NAMESPACE, "colorTemperatureInKelvin", "ct_k"),
  directives: {
    SetColorTemperature: (directive, device) => ({
      params: withLightOn(device, { ct_k: payloadNumber(directive, "colorTemperatureInKelvin") }),
    }),
    IncreaseColorTemperature: step(1),
    DecreaseColorTemperature: step(-1),
  },
};
