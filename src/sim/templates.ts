/**
 * Device templates for simulated nodes: one per canonical device type, declaring every canonical param of
 * that type with the narrower ranges a real product would have, plus a plausible power-on state.
 */
import {
  DEVICE_TYPE_SPECS,
  type DeviceDeclaration,
  type DeviceType,
  type ParamSpec,
  type ParamValue,
} from "../model/index.ts";

export interface DeviceTemplate {
  declaration: DeviceDeclaration;
  /** A value for every declared param. */
  initialState: Record<string, ParamValue>;
}

/** Narrowed ranges where the canonical one is wider than any real device of the type. */
const NARROWED: Partial<Record<DeviceType, Record<string, Partial<ParamSpec>>>> = {
  light: { ct_k: { min: 2700, max: 6500 } },
  thermostat: { target_c: { min: 5, max: 30 }, current_c: { min: -20, max: 50 } },
  sensor: { temperature_c: { min: -40, max: 85 }, illuminance_lx: { max: 100000 } },
};

const INITIAL_STATES: Record<DeviceType, Record<string, ParamValue>> = {
  switch: { on: false },
  outlet: { on: true },
  light: { on: false, brightness: 80, ct_k: 3000, hue: 30, sat: 50 },
  lock: { locked: true, lock_state: "locked" },
  cover: { position: 0, moving: "stopped" },
  thermostat: { mode: "heat", target_c: 21, current_c: 20.5 },
  fan: { on: false, speed_pct: 50, direction: "forward", oscillate: false },
  sensor: {
    temperature_c: 21.5,
    humidity_pct: 45,
    contact: true,
    motion: false,
    battery_pct: 87,
    illuminance_lx: 120,
    water_leak: false,
    smoke: false,
    co2_ppm: 420,
  },
};

const DISPLAY_NAMES: Record<DeviceType, string> = {
  switch: "Sim switch",
  outlet: "Sim outlet",
  light: "Sim light",
  lock: "Sim lock",
  cover: "Sim cover",
  thermostat: "Sim thermostat",
  fan: "Sim fan",
  sensor: "Sim sensor",
};

/** The template for one device type; the device id is the type name (`light`, `sensor`…). */
export function deviceTemplate(type: DeviceType, devId: string = type): DeviceTemplate {
  const narrowed = NARROWED[type] ?? {};
  const params = DEVICE_TYPE_SPECS[type].params.map((canonical): ParamSpec => {
    const spec: ParamSpec = { ...canonical, ...narrowed[canonical.id] };
    return spec.values ? { ...spec, values: [...spec.values] } : spec;
  });
  return {
    declaration: { id: devId, type, name: DISPLAY_NAMES[type], params },
    initialState: { ...INITIAL_STATES[type] },
  };
}
