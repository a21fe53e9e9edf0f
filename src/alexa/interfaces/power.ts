/** Alexa.PowerController: on and off, for everything with an `on` param (switches, plugs, lights, fans). */
import { type AlexaInterface, setsParam, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.PowerController";

export const powerController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => writable(device, "on") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["powerState"])],
  properties: (device) =>
    typeof device.state.on === "boolean"
      ? [{ namespace: NAMESPACE, name: "powerState", value: device.state.on ? "ON" : "OFF", sources: ["on"] }]
      : [],
  directives: {
    TurnOn: setsParam("on", true),
    TurnOff: setsParam("on", false),
  },
};
