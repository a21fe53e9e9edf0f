/**
 * TemperatureSetting: a thermostat with one setpoint and a mode, in °C. Google's `heatcool` range is not
 * offered (the model has one setpoint), so a range command is refused as not supported.
 */
import { GoogleError } from "../errors.ts";
import { command, trait } from "../messages.ts";
import { type GoogleDevice, type GoogleTrait, paramNumber, present, writable } from "../trait.ts";

const CANONICAL = { min: -50, max: 100 };
/** Google's modes that the model has, by the model's name; they are the same words. */
const MODES = ["off", "heat", "cool", "auto", "eco"] as const;

function modes(device: GoogleDevice): string[] {
  const values = writable(device, "mode")?.values ?? [];
  return MODES.filter((mode) => values.includes(mode));
}

/** Rounds to the device's step (whole degrees for an integer setpoint) and checks its range. */
function setpoint(device: GoogleDevice, celsius: number): number {
  const spec = writable(device, "target_c");
  if (!spec) throw new GoogleError("notSupported", "this thermostat has no settable setpoint");
  const step = Math.max(spec.step ?? 0.5, spec.type === "int" ? 1 : 0);
  const rounded = Math.round(Math.round(celsius / step) * step * 100) / 100;
  const [min, max] = [spec.min ?? CANONICAL.min, spec.max ?? CANONICAL.max];
  if (rounded < min || rounded > max) {
    throw new GoogleError("valueOutOfRange", `the setpoint must be between ${min} and ${max} °C`);
  }
  return rounded;
}

export const temperatureSetting: GoogleTrait = {
  name: trait("TemperatureSetting"),
  appliesTo: (device) => device.type === "thermostat" && (!!writable(device, "target_c") || !!writable(device, "mode")),
  attributes: (device) => {
    const spec = writable(device, "target_c");
    return {
      availableThermostatModes: modes(device).length > 0 ? modes(device) : ["heat"],
      thermostatTemperatureUnit: "C",
      ...(spec
        ? {
            thermostatTemperatureRange: {
              minThresholdCelsius: spec.min ?? CANONICAL.min,
              maxThresholdCelsius: spec.max ?? CANONICAL.max,
            },
          }
        : {}),
    };
  },
  states: (device) => {
    const { mode, target_c, current_c } = device.state;
    return present({
      thermostatMode: typeof mode === "string" ? mode : undefined,
      thermostatTemperatureSetpoint: typeof target_c === "number" ? target_c : undefined,
      thermostatTemperatureAmbient: typeof current_c === "number" ? current_c : undefined,
    });
  },
  commands: {
    [command("ThermostatTemperatureSetpoint")]: (params, device) => ({
      params: { target_c: setpoint(device, paramNumber(params, "thermostatTemperatureSetpoint")) },
    }),
    [command("TemperatureRelative")]: (params, device) => {
      const current = device.state.target_c;
      if (typeof current !== "number") throw new GoogleError("notSupported", "the setpoint is not known yet");
      const delta =
        typeof params.thermostatTemperatureRelativeDegree === "number"
          ? params.thermostatTemperatureRelativeDegree
          : paramNumber(params, "thermostatTemperatureRelativeWeight") * 0.5;
      return { params: { target_c: setpoint(device, current + delta) } };
    },
    [command("ThermostatSetMode")]: (params, device) => {
      const mode = params.thermostatMode;
      if (typeof mode !== "string" || !modes(device).includes(mode)) {
        throw new GoogleError("notSupported", `this thermostat has no mode ${String(mode).slice(0, 16)}`);
      }
      return { params: { mode } };
    },
    [command("ThermostatTemperatureSetRange")]: () => {
      throw new GoogleError("notSupported", "this thermostat has a single setpoint");
    },
  },
};
