/** Alexa.BrightnessController: a light's brightness, set or adjusted ("dim the kitchen light"). */
import {
  type AlexaInterface,
  clamp,
  currentNumber,
  payloadNumber,
  requireWritable,
  wholeNumberProperty,
  writable,
} from "../interface.ts";
import { reportedCapability } from "../messages.ts";
import { withLightOn } from "./light-power.ts";

const NAMESPACE = "Alexa.BrightnessController";

export const brightnessController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "light" && writable(device, "brightness") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["brightness"])],
  properties: (device) => wholeNumberProperty(device, NAMESPACE, "brightness", "brightness"),
  directives: {
    SetBrightness: (directive, device) => ({
      params: withLightOn(device, { brightness: payloadNumber(directive, "brightness") }),
    }),
    // A relative change lands inside the device's range rather than failing at its edge: "brighter" at
    // 95 % means 100 %.
    AdjustBrightness: (directive, device) => {
      const spec = requireWritable(device, "brightness");
      const delta = payloadNumber(directive, "brightnessDelta");
      const target = clamp(Math.round(currentNumber(device, "brightness", 0) + delta), spec, { min: 0, max: 100 });
      return { params: withLightOn(device, { brightness: target }) };
    },
  },
};
