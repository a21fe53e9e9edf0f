/**
 * The canonical device model: the vocabulary every adapter (Alexa, Google, webhooks, the CLI) translates
 * to and from. It knows no platform and does no I/O. Adding a device type is a change here plus one
 * mapping per platform.
 *
 * Units follow what voice platforms use: percentages 0–100, Kelvin for colour temperature, degrees
 * Celsius, hue in degrees.
 */

export const DEVICE_TYPES = ["switch", "outlet", "light", "lock", "cover", "thermostat", "fan", "sensor"] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export const VALUE_TYPES = ["bool", "int", "float", "string", "enum"] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** `r` = reported only (a sensor reading), `rw` = can be commanded, `w` = write-only trigger. */
export const ACCESS_MODES = ["r", "rw", "w"] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

export type ParamValue = boolean | number | string;

/**
 * What a device is within its type, where that changes how assistants present and name it: a cover may be
 * a garage door (opened and closed, never "set to 40 %") or a blind. Optional; declared by the node as
 * `class` or set in the config.
 */
export const DEVICE_CLASSES = ["garage", "door", "gate", "window", "blind", "curtain", "shutter", "awning"] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

/** A parameter as a node declares it in its `config` (or as the canonical vocabulary defines it). */
export interface ParamSpec {
  id: string;
  type: ValueType;
  rw: AccessMode;
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  /** Allowed values of an `enum` param. */
  values?: readonly string[];
}

/** What an assistant's command asks of a device, in the model's terms: params to set, or another op. */
export interface CanonicalCommand {
  op?: DeviceOp;
  params?: Record<string, ParamValue>;
}

/** Extra operations besides `set` that a device type accepts. */
export const DEVICE_OPS = ["set", "get", "stop", "identify"] as const;
export type DeviceOp = (typeof DEVICE_OPS)[number];

export interface DeviceTypeSpec {
  /** Canonical params this type may declare; a node declares the subset its hardware has. */
  params: readonly ParamSpec[];
  /** Params of which a node must declare at least one for the device to be usable. */
  requiresOneOf: readonly string[];
  /** Ops other than `set`/`get` this type understands. */
  extraOps: readonly DeviceOp[];
  /**
   * Whether a desired value left over from an earlier command may be re-sent when the node comes back.
   * Never for locks and covers: a stale "unlock" or "open" replayed minutes later is worse than a failure.
   */
  replayDesiredOnReconnect: boolean;
}

const on: ParamSpec = { id: "on", type: "bool", rw: "rw" };
const percent = (id: string, rw: AccessMode = "rw"): ParamSpec => ({
  id,
  type: "int",
  rw,
  min: 0,
  max: 100,
  unit: "%",
});

export const DEVICE_TYPE_SPECS: Readonly<Record<DeviceType, DeviceTypeSpec>> = {
  switch: { params: [on], requiresOneOf: ["on"], extraOps: [], replayDesiredOnReconnect: true },
  outlet: { params: [on], requiresOneOf: ["on"], extraOps: [], replayDesiredOnReconnect: true },
  light: {
    params: [
      on,
      percent("brightness"),
      { id: "ct_k", type: "int", rw: "rw", min: 1000, max: 10000, unit: "K" },
      { id: "hue", type: "float", rw: "rw", min: 0, max: 360, unit: "°" },
      percent("sat"),
    ],
    requiresOneOf: ["on"],
    extraOps: ["identify"],
    replayDesiredOnReconnect: true,
  },
  lock: {
    params: [
      { id: "locked", type: "bool", rw: "rw" },
      { id: "lock_state", type: "enum", rw: "r", values: ["locked", "unlocked", "jammed", "locking", "unlocking"] },
    ],
    requiresOneOf: ["locked"],
    extraOps: [],
    replayDesiredOnReconnect: false,
  },
  cover: {
    params: [
      { ...percent("position"), unit: "%" },
      { id: "moving", type: "enum", rw: "r", values: ["opening", "closing", "stopped"] },
    ],
    requiresOneOf: ["position"],
    extraOps: ["stop"],
    replayDesiredOnReconnect: false,
  },
  thermostat: {
    params: [
      { id: "mode", type: "enum", rw: "rw", values: ["off", "heat", "cool", "auto", "eco"] },
      { id: "target_c", type: "float", rw: "rw", min: -50, max: 100, step: 0.5, unit: "°C" },
      { id: "current_c", type: "float", rw: "r", min: -50, max: 100, unit: "°C" },
    ],
    requiresOneOf: ["mode", "target_c"],
    extraOps: [],
    replayDesiredOnReconnect: true,
  },
  fan: {
    params: [
      on,
      percent("speed_pct"),
      { id: "direction", type: "enum", rw: "rw", values: ["forward", "reverse"] },
      { id: "oscillate", type: "bool", rw: "rw" },
    ],
    requiresOneOf: ["on", "speed_pct"],
    extraOps: [],
    replayDesiredOnReconnect: true,
  },
  sensor: {
    params: [
      { id: "temperature_c", type: "float", rw: "r", min: -100, max: 200, unit: "°C" },
      { id: "humidity_pct", type: "float", rw: "r", min: 0, max: 100, unit: "%" },
      { id: "contact", type: "bool", rw: "r" },
      { id: "motion", type: "bool", rw: "r" },
      percent("battery_pct", "r"),
      { id: "illuminance_lx", type: "float", rw: "r", min: 0, unit: "lx" },
      /** `true` = water detected. */
      { id: "water_leak", type: "bool", rw: "r" },
      /** `true` = smoke detected. */
      { id: "smoke", type: "bool", rw: "r" },
      { id: "co2_ppm", type: "float", rw: "r", min: 0, max: 100000, unit: "ppm" },
    ],
    requiresOneOf: [
      "temperature_c",
      "humidity_pct",
      "contact",
      "motion",
      "battery_pct",
      "illuminance_lx",
      "water_leak",
      "smoke",
      "co2_ppm",
    ],
    extraOps: [],
    replayDesiredOnReconnect: false,
  },
};

export function isDeviceType(value: string): value is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(value);
}

export function canonicalParam(type: DeviceType, paramId: string): ParamSpec | undefined {
  return DEVICE_TYPE_SPECS[type].params.find((p) => p.id === paramId);
}
