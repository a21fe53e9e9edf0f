/** Alexa.BrightnessController: a light's brightness, set or adjusted ("dim the kitchen light"). */
import { type AlexaInterface, adjustedValue, payloadNumber, wholeNumberProperty, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";
import { withLightOn } from "./light-power.ts";

const NAMESPACE = "Alexa.BrightnessController";
const PERCENT = { min: 0, max: 100 };

export const brightnessController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "light" && writable(device, "brightness") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["brightness"])],
  properties: (device) => wholeNumberProperty(device, NAMESPACE, "brightness", "brightness"),
  directives: {
    SetBrightness: (directive, device) => ({
      params: withLightOn(device, { brightness: payloadNumber(directive, "brightness") }),
    }),
    AdjustBrightness: (directive, device) => {
      const delta = payloadNumber(directive, "brightnessDelta");
      return { params: withLightOn(device, { brightness: adjustedValue(device, "brightness", delta, PERCENT) }) };
    },
  },
};
