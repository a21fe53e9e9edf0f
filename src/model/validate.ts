import {
  canonicalParam,
  DEVICE_TYPE_SPECS,
  type DeviceClass,
  type DeviceOp,
  type DeviceType,
  isDeviceType,
  type ParamSpec,
  type ParamValue,
} from "./device-types.ts";
import { CommandError, DeclarationError } from "./errors.ts";

/** A device as the model accepts it: its declared params, narrowed to what the canonical type allows. */
export interface DeviceDefinition {
  /** The device's id on its node (`light`, `relay1`). */
  devId: string;
  type: DeviceType;
  name?: string;
  class?: DeviceClass;
  params: readonly ParamSpec[];
}

export interface DeviceDeclaration {
  id: string;
  type: string;
  name?: string;
  class?: DeviceClass;
  params: readonly ParamSpec[];
}

export const PARAM_ID_PATTERN = /^[a-z0-9_]{1,32}$/;
/** Names a param cannot take: a device's state message carries the node's sequence counter as `seq`. */
export const RESERVED_PARAM_IDS: ReadonlySet<string> = new Set(["seq"]);

/**
 * Checks what a node declared against the canonical vocabulary and returns the definition the bridge
 * will enforce. Canonical params keep the canonical value type and may only narrow its range; params
 * outside the vocabulary are accepted as custom params under the node's own declaration.
 */
export function resolveDeclaration(decl: DeviceDeclaration): DeviceDefinition {
  const fail = (message: string): never => {
    throw new DeclarationError(decl.id, `device "${decl.id}": ${message}`);
  };
  if (!isDeviceType(decl.type)) fail(`unknown device type "${decl.type}"`);
  const type = decl.type as DeviceType;
  const spec = DEVICE_TYPE_SPECS[type];
  const seen = new Set<string>();
  const params: ParamSpec[] = [];
  for (const declared of decl.params) {
    if (!PARAM_ID_PATTERN.test(declared.id)) fail(`param id "${declared.id}" must match ${PARAM_ID_PATTERN}`);
    if (RESERVED_PARAM_IDS.has(declared.id)) fail(`param id "${declared.id}" is reserved by the protocol`);
    if (seen.has(declared.id)) fail(`param "${declared.id}" is declared twice`);
    seen.add(declared.id);
    const canonical = canonicalParam(type, declared.id);
    params.push(canonical ? narrowCanonical(canonical, declared, fail) : checkCustom(declared, fail));
  }
  if (!spec.requiresOneOf.some((id) => seen.has(id))) {
    fail(`a ${type} must declare at least one of: ${spec.requiresOneOf.join(", ")}`);
  }
  return {
    devId: decl.id,
    type,
    ...(decl.name === undefined ? {} : { name: decl.name }),
    ...(decl.class === undefined ? {} : { class: decl.class }),
    params,
  };
}

function narrowCanonical(canonical: ParamSpec, declared: ParamSpec, fail: (m: string) => never): ParamSpec {
  const compatible = declared.type === canonical.type || (canonical.type === "float" && declared.type === "int");
  if (!compatible) fail(`param "${declared.id}" must be ${canonical.type}, not ${declared.type}`);
  if (canonical.rw === "r" && declared.rw !== "r") fail(`param "${declared.id}" is read-only by definition`);
  // Canonical units are the contract every platform mapping relies on: °C stays °C.
  if (canonical.unit && declared.unit && declared.unit !== canonical.unit) {
    fail(`param "${declared.id}" is in ${canonical.unit} by definition, not ${declared.unit}`);
  }
  const min = declared.min ?? canonical.min;
  const max = declared.max ?? canonical.max;
  if (canonical.min !== undefined && min !== undefined && min < canonical.min) {
    fail(`param "${declared.id}" min ${min} is below the canonical ${canonical.min}`);
  }
  if (canonical.max !== undefined && max !== undefined && max > canonical.max) {
    fail(`param "${declared.id}" max ${max} is above the canonical ${canonical.max}`);
  }
  if (min !== undefined && max !== undefined && min > max) fail(`param "${declared.id}" has min > max`);
  let values = canonical.values;
  if (canonical.type === "enum" && declared.values) {
    const unknown = declared.values.filter((v) => !canonical.values?.includes(v));
    if (unknown.length > 0) fail(`param "${declared.id}" declares unknown values: ${unknown.join(", ")}`);
    values = declared.values;
  }
  return {
    id: declared.id,
    type: declared.type,
    rw: declared.rw,
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
    ...((declared.step ?? canonical.step) === undefined ? {} : { step: (declared.step ?? canonical.step) as number }),
    ...((declared.unit ?? canonical.unit) === undefined ? {} : { unit: (declared.unit ?? canonical.unit) as string }),
    ...(values === undefined ? {} : { values }),
  };
}

function checkCustom(declared: ParamSpec, fail: (m: string) => never): ParamSpec {
  if (declared.type === "enum" && (!declared.values || declared.values.length === 0)) {
    fail(`enum param "${declared.id}" must list its values`);
  }
  if (declared.min !== undefined && declared.max !== undefined && declared.min > declared.max) {
    fail(`param "${declared.id}" has min > max`);
  }
  return declared;
}

function wrongType(param: ParamSpec, expected: string, value: unknown): never {
  throw new CommandError("invalid_type", `"${param.id}" must be ${expected}, got ${describe(value)}`, param.id);
}

/** Checks one value against its param; returns the value to send (numbers of `int` params stay integers). */
export function checkParamValue(param: ParamSpec, value: unknown): ParamValue {
  switch (param.type) {
    case "bool":
      if (typeof value !== "boolean") wrongType(param, "true or false", value);
      return value as boolean;
    case "int":
    case "float": {
      if (typeof value !== "number" || !Number.isFinite(value)) wrongType(param, "a number", value);
      const n = value as number;
      if (param.type === "int" && !Number.isInteger(n)) wrongType(param, "a whole number", value);
      if ((param.min !== undefined && n < param.min) || (param.max !== undefined && n > param.max)) {
        throw new CommandError(
          "out_of_range",
          `"${param.id}" must be between ${param.min ?? "-∞"} and ${param.max ?? "∞"}${param.unit ? ` ${param.unit}` : ""}, got ${n}`,
          param.id,
        );
      }
      return n;
    }
    case "enum":
      if (typeof value !== "string") wrongType(param, `one of ${param.values?.join(", ")}`, value);
      if (!param.values?.includes(value as string)) {
        throw new CommandError(
          "invalid_value",
          `"${param.id}" must be one of ${param.values?.join(", ")}, got ${describe(value)}`,
          param.id,
        );
      }
      return value as string;
    case "string":
      if (typeof value !== "string") wrongType(param, "a string", value);
      return value as string;
  }
}

export interface ValidatedCommand {
  op: DeviceOp;
  params: Record<string, ParamValue>;
}

/**
 * Validates a desired change against what the node declared. Throws a CommandError with the first
 * problem found, in the order a user fixes them: the op, unknown names, read-only params, then values.
 */
export function validateCommand(
  device: DeviceDefinition,
  op: DeviceOp,
  params: Record<string, unknown>,
): ValidatedCommand {
  const spec = DEVICE_TYPE_SPECS[device.type];
  if (op !== "set" && op !== "get" && !spec.extraOps.includes(op)) {
    throw new CommandError("unsupported_op", `a ${device.type} does not support "${op}"`);
  }
  const entries = Object.entries(params);
  if (op !== "set") {
    if (entries.length > 0) throw new CommandError("invalid_value", `"${op}" takes no params`);
    return { op, params: {} };
  }
  if (entries.length === 0) throw new CommandError("empty_command", "no params to set");
  const byId = new Map(device.params.map((p) => [p.id, p]));
  for (const [id] of entries) {
    if (!byId.has(id)) {
      const writable = device.params.filter((p) => p.rw !== "r").map((p) => p.id);
      throw new CommandError(
        "unknown_param",
        `"${id}" is not a param of this ${device.type} (writable: ${writable.join(", ") || "none"})`,
        id,
      );
    }
  }
  for (const [id] of entries) {
    if (byId.get(id)?.rw === "r") throw new CommandError("read_only", `"${id}" is read-only`, id);
  }
  const checked: Record<string, ParamValue> = {};
  for (const [id, value] of entries) checked[id] = checkParamValue(byId.get(id) as ParamSpec, value);
  return { op, params: checked };
}

/**
 * Whether a device has arrived at what a command asked of it: every commanded value is reported, and a
 * lock or cover that reports its motion has stopped moving. A lock may flip `locked` the moment it takes
 * the command; only `lock_state` says the bolt is there.
 */
export function hasArrived(
  device: DeviceDefinition,
  params: Record<string, ParamValue>,
  state: Record<string, ParamValue>,
): boolean {
  if (!Object.entries(params).every(([id, value]) => state[id] === value)) return false;
  const declares = (id: string) => device.params.some((p) => p.id === id);
  if (typeof params.locked === "boolean" && declares("lock_state")) {
    return state.lock_state === (params.locked ? "locked" : "unlocked");
  }
  if (params.position !== undefined && declares("moving")) return state.moving === "stopped";
  return true;
}

/**
 * Keeps only the values of a reported state that match the declaration; a node that reports garbage for
 * one param must not corrupt the others. Returns the accepted values and the names of those rejected.
 */
export function filterReportedState(
  device: DeviceDefinition,
  state: Record<string, unknown>,
): { accepted: Record<string, ParamValue>; rejected: string[] } {
  const accepted: Record<string, ParamValue> = {};
  const rejected: string[] = [];
  const byId = new Map(device.params.map((p) => [p.id, p]));
  for (const [id, value] of Object.entries(state)) {
    const param = byId.get(id);
    if (!param) {
      rejected.push(id);
      continue;
    }
    try {
      accepted[id] = checkParamValue(param, value);
    } catch {
      rejected.push(id);
    }
  }
  return { accepted, rejected };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}
