/**
 * Alexa.ContactSensor: a door or window contact. Reported proactively, so that it can trigger an Alexa
 * routine ("when the front door opens…").
 */
import { type AlexaInterface, declared, detectionProperty } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const CONTACT = "Alexa.ContactSensor";

export const contactSensor: AlexaInterface = {
  namespace: CONTACT,
  appliesTo: (device) => device.type === "sensor" && declared(device, "contact") !== undefined,
  capabilities: () => [reportedCapability(CONTACT, ["detectionState"])],
  // The model's `contact: true` means the two parts touch: a closed door. Alexa's DETECTED means open.
  properties: (device) => detectionProperty(device, CONTACT, "contact", false),
  directives: {},
};
