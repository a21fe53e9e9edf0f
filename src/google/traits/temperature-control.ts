/** TemperatureControl, query-only: a sensor's temperature in °C. */
import { trait } from "../messages.ts";
import { declared, type GoogleTrait, present } from "../trait.ts";

export const temperatureControl: GoogleTrait = {
  name: trait("TemperatureControl"),
  appliesTo: (device) => device.type === "sensor" && declared(device, "temperature_c") !== undefined,
  attributes: (device) => {
    const spec = declared(device, "temperature_c");
    return {
      temperatureRange: { minThresholdCelsius: spec?.min ?? -100, maxThresholdCelsius: spec?.max ?? 200 },
      temperatureUnitForUX: "C",
      queryOnlyTemperatureControl: true,
    };
  },
  states: (device) =>
    present({
      temperatureAmbientCelsius:
        typeof device.state.temperature_c === "number" ? device.state.temperature_c : undefined,
    }),
  commands: {},
};
