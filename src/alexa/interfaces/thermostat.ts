/**
 * Alexa.ThermostatController: a single setpoint in °C and the thermostat's mode. Alexa may speak
 * Fahrenheit or Kelvin; the model stores Celsius, so values are converted on the way in and always
 * reported in Celsius. Dual and triple setpoints are refused with Amazon's own error types, and a
 * setpoint outside the device's range gets TEMPERATURE_VALUE_OUT_OF_RANGE naming the range.
 */
import type { ParamSpec } from "../../model/index.ts";
import { AlexaError, thermostatError } from "../errors.ts";
import { type AlexaDevice, type AlexaInterface, requireWritable, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.ThermostatController";
const CANONICAL_RANGE = { min: -50, max: 100 };
/** Alexa's modes and the model's are the same words in different case. */
const ALEXA_MODES = ["AUTO", "COOL", "HEAT", "ECO", "OFF"] as const;

type Scale = "CELSIUS" | "FAHRENHEIT" | "KELVIN";

function temperature(value: unknown, what: string): { value: number; scale: Scale } {
  const t = value as { value?: unknown; scale?: unknown } | undefined;
  if (typeof t?.value !== "number" || !Number.isFinite(t.value)) {
    throw new AlexaError("INVALID_VALUE", `${what} must carry a numeric value`);
  }
  const scale = t.scale ?? "CELSIUS";
  if (scale !== "CELSIUS" && scale !== "FAHRENHEIT" && scale !== "KELVIN") {
    throw new AlexaError("INVALID_VALUE", `${what} has an unknown scale`);
  }
  return { value: t.value, scale };
}

function toCelsius({ value, scale }: { value: number; scale: Scale }): number {
  if (scale === "FAHRENHEIT") return ((value - 32) * 5) / 9;
  if (scale === "KELVIN") return value - 273.15;
  return value;
}

function deltaToCelsius({ value, scale }: { value: number; scale: Scale }): number {
  return scale === "FAHRENHEIT" ? (value * 5) / 9 : value;
}

/** Rounds to the device's step (0.5 °C by default, whole degrees for an integer setpoint) and checks its range. */
function setpoint(spec: ParamSpec, celsius: number): number {
  const step = Math.max(spec.step ?? 0.5, spec.type === "int" ? 1 : 0);
  const rounded = Math.round(Math.round(celsius / step) * step * 100) / 100;
  const min = spec.min ?? CANONICAL_RANGE.min;
  const max = spec.max ?? CANONICAL_RANGE.max;
  if (rounded < min || rounded > max) {
    throw new AlexaError("TEMPERATURE_VALUE_OUT_OF_RANGE", `the setpoint must be between ${min} and ${max} °C`, {
      validRange: { minimumValue: { value: min, scale: "CELSIUS" }, maximumValue: { value: max, scale: "CELSIUS" } },
    });
  }
  return rounded;
}

function supportedModes(device: AlexaDevice): string[] {
  const values = writable(device, "mode")?.values ?? [];
  return ALEXA_MODES.filter((mode) => values.includes(mode.toLowerCase()));
}

export const thermostatController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "thermostat" && (!!writable(device, "target_c") || !!writable(device, "mode")),
  capabilities: (device) => {
    const properties = [
      ...(writable(device, "target_c") ? ["targetSetpoint"] : []),
      ...(writable(device, "mode") ? ["thermostatMode"] : []),
    ];
    const modes = supportedModes(device);
    return [
      reportedCapability(NAMESPACE, properties, {
        configuration: { ...(modes.length > 0 ? { supportedModes: modes } : {}), supportsScheduling: false },
      }),
    ];
  },
  properties: (device) => {
    const out = [];
    if (writable(device, "target_c") && typeof device.state.target_c === "number") {
      out.push({
        namespace: NAMESPACE,
        name: "targetSetpoint",
        value: { value: device.state.target_c, scale: "CELSIUS" },
        sources: ["target_c"],
      });
    }
    if (writable(device, "mode") && typeof device.state.mode === "string") {
      out.push({
        namespace: NAMESPACE,
        name: "thermostatMode",
        value: device.state.mode.toUpperCase(),
        sources: ["mode"],
      });
    }
    return out;
  },
  directives: {
    SetTargetTemperature: (directive, device) => {
      const { targetSetpoint, lowerSetpoint, upperSetpoint } = directive.payload;
      if (lowerSetpoint !== undefined || upperSetpoint !== undefined) {
        throw thermostatError(
          targetSetpoint !== undefined ? "TRIPLE_SETPOINTS_UNSUPPORTED" : "DUAL_SETPOINTS_UNSUPPORTED",
          "this thermostat has a single setpoint",
        );
      }
      const spec = requireWritable(device, "target_c");
      return { params: { target_c: setpoint(spec, toCelsius(temperature(targetSetpoint, "targetSetpoint"))) } };
    },
    AdjustTargetTemperature: (directive, device) => {
      const spec = requireWritable(device, "target_c");
      if (device.state.mode === "off") throw thermostatError("THERMOSTAT_IS_OFF", "the thermostat is off");
      const current = device.state.target_c;
      if (typeof current !== "number") {
        throw new AlexaError("NOT_SUPPORTED_IN_CURRENT_MODE", "the thermostat has not reported its setpoint yet", {
          currentDeviceMode: "NOT_PROVISIONED",
        });
      }
      const delta = deltaToCelsius(temperature(directive.payload.targetSetpointDelta, "targetSetpointDelta"));
      return { params: { target_c: setpoint(spec, current + delta) } };
    },
    SetThermostatMode: (directive, device) => {
      requireWritable(device, "mode");
      const requested = (directive.payload.thermostatMode as { value?: unknown } | undefined)?.value;
      if (typeof requested !== "string") throw new AlexaError("INVALID_VALUE", "thermostatMode.value must be a string");
      if (!supportedModes(device).includes(requested)) {
        throw thermostatError(
          "UNSUPPORTED_THERMOSTAT_MODE",
          `this thermostat does not support ${requested.slice(0, 16)}`,
        );
      }
      return { params: { mode: requested.toLowerCase() } };
    },
  },
};
