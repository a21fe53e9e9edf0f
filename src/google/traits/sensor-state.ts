/**
 * SensorState: the readings Google names (water leak, smoke, CO2). Query-only: no commands. Motion,
 * illuminance and battery have no name in Google's published schema and are not shown.
 */
import { trait } from "../messages.ts";
import { declared, type GoogleDevice, type GoogleTrait } from "../trait.ts";

interface SensorReading {
  param: string;
  capability: Record<string, unknown>;
  state: (value: boolean | number) => Record<string, unknown>;
}

/** Google's sensor names for the model's readings, with the states its schema allows. */
const READINGS: Record<string, SensorReading> = {
  WaterLeak: {
    param: "water_leak",
    capability: { descriptiveCapabilities: { availableStates: ["leak", "no leak"] } },
    state: (value) => ({ currentSensorState: value ? "leak" : "no leak" }),
  },
  SmokeLevel: {
    param: "smoke",
    capability: { descriptiveCapabilities: { availableStates: ["smoke detected", "no smoke detected"] } },
    state: (value) => ({ currentSensorState: value ? "smoke detected" : "no smoke detected" }),
  },
  CarbonDioxideLevel: {
    param: "co2_ppm",
    capability: { numericCapabilities: { rawValueUnit: "PARTS_PER_MILLION" } },
    state: (value) => ({ rawValue: value }),
  },
};

const readingsOf = (device: GoogleDevice) =>
  Object.entries(READINGS).filter(([, reading]) => device.type === "sensor" && declared(device, reading.param));

export const sensorState: GoogleTrait = {
  name: trait("SensorState"),
  appliesTo: (device) => readingsOf(device).length > 0,
  attributes: (device) => ({
    sensorStatesSupported: readingsOf(device).map(([name, reading]) => ({ name, ...reading.capability })),
  }),
  states: (device) => {
    const data = readingsOf(device).flatMap(([name, reading]) => {
      const value = device.state[reading.param];
      return typeof value === "boolean" || typeof value === "number" ? [{ name, ...reading.state(value) }] : [];
    });
    return data.length > 0 ? { currentSensorStateData: data } : {};
  },
  commands: {},
};
