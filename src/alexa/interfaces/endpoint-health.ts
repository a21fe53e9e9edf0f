/**
 * Alexa.EndpointHealth: whether the node is reachable, from its MQTT status and last will. Every device
 * lists it, so that an unplugged node shows "Device is unresponsive" in the Alexa app.
 */
import type { AlexaInterface } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.EndpointHealth";
/** Not a canonical param: connectivity comes from the node's availability, not its state. */
export const CONNECTIVITY_SOURCE = "@online";

export const endpointHealth: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: () => true,
  capabilities: () => [reportedCapability(NAMESPACE, ["connectivity"])],
  properties: (device) => [
    {
      namespace: NAMESPACE,
      name: "connectivity",
      value: { value: device.online ? "OK" : "UNREACHABLE" },
      sources: [CONNECTIVITY_SOURCE],
    },
  ],
  directives: {},
};
