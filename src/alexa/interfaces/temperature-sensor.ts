/**
 * Alexa.TemperatureSensor: a sensor's temperature, or a thermostat's room temperature, in °C. No
 * directives: Alexa reads it with ReportState and is told of changes.
 */
import { type AlexaDevice, type AlexaInterface, declared } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const TEMPERATURE = "Alexa.TemperatureSensor";

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
