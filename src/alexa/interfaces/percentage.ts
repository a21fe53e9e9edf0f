/** Alexa.PercentageController: a fan's speed ("set the fan to 60 percent"). */
import { type AlexaInterface, adjustedValue, payloadNumber, wholeNumberProperty, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.PercentageController";

export const percentageController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "fan" && writable(device, "speed_pct") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["percentage"])],
  properties: (device) => wholeNumberProperty(device, NAMESPACE, "percentage", "speed_pct"),
  directives: {
    SetPercentage: (directive) => ({ params: { speed_pct: payloadNumber(directive, "percentage") } }),
    AdjustPercentage: (directive, device) => {
      const delta = payloadNumber(directive, "percentageDelta");
      return { params: { speed_pct: adjustedValue(device, "speed_pct", delta, { min: 0, max: 100 }) } };
    },
  },
};
