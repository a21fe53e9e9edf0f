/**
 * The read-only sensor interfaces: temperature (sensors and a thermostat's room temperature), contact
 * and motion. They have no directives; Alexa reads them with ReportState and, because they are reported
 * proactively, can use contact and motion sensors as routine triggers.
 */
import { type AlexaDevice, type AlexaInterface, declared, detectionProperty } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const TEMPERATURE = "Alexa.TemperatureSensor";
const CONTACT = "Alexa.ContactSensor";
const MOTION = "Alexa.MotionSensor";

function temperatureParam(device: AlexaDevice): string | undefined {
  if (device.type === "sensor" && declared(device, "temperature_c")) return "temperature_c";
  if (device.type === "thermostat" && declared(device, "current_c")) return "current_c";
  return undefined;
}

export const temperatureSensor: AlexaInterface = {
  namespace: TEMPERATURE,
  appliesTo: (device) => temperatureParam(device) !== undefined,
  capabilities: () => [reportedCapability(TEMPERATURE, ["temperature"])],
  properties: (device) => {
    const param = temperatureParam(device);
    const value = param ? device.state[param] : undefined;
    if (!param || typeof value !== "number") return [];
    return [{ namespace: TEMPERATURE, name: "temperature", value: { value, scale: "CELSIUS" }, sources: [param] }];
  },
  directives: {},
};

export const contactSensor: AlexaInterface = {
  namespace: CONTACT,
  appliesTo: (device) => device.type === "sensor" && declared(device, "contact") !== undefined,
  capabilities: () => [reportedCapability(CONTACT, ["detectionState"])],
  // The model's `contact: true` means the two parts touch: a closed door. Alexa's DETECTED means open.
  properties: (device) => detectionProperty(device, CONTACT, "contact", false),
  directives: {},
};

export const motionSensor: AlexaInterface = {
  namespace: MOTION,
  appliesTo: (device) => device.type === "sensor" && declared(device, "motion") !== undefined,
  capabilities: () => [reportedCapability(MOTION, ["detectionState"])],
  properties: (device) => detectionProperty(device, MOTION, "motion", true),
  directives: {},
};
