import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CommandError,
  type CommandErrorCode,
  DeclarationError,
  type DeviceDeclaration,
  type DeviceDefinition,
  filterReportedState,
  type ParamSpec,
  resolveDeclaration,
  validateCommand,
} from "../../src/model/index.ts";

/** The light of the example node config in the protocol description (devices.md §5). */
const exampleLight: DeviceDeclaration = {
  id: "light",
  type: "light",
  name: "Ceiling",
  params: [
    { id: "on", type: "bool", rw: "rw" },
    { id: "brightness", type: "int", rw: "rw", min: 1, max: 100, unit: "%" },
    { id: "ct_k", type: "int", rw: "rw", min: 2700, max: 6500, unit: "K" },
  ],
};

const light = resolveDeclaration(exampleLight);

const thermostat = resolveDeclaration({
  id: "hvac",
  type: "thermostat",
  params: [
    { id: "mode", type: "enum", rw: "rw", values: ["off", "heat", "eco"] },
    { id: "target_c", type: "float", rw: "rw" },
    { id: "current_c", type: "float", rw: "r" },
  ],
});

const cover = resolveDeclaration({
  id: "blind",
  type: "cover",
  params: [
    { id: "position", type: "int", rw: "rw" },
    { id: "moving", type: "enum", rw: "r" },
  ],
});

/** Runs `fn`, expects a CommandError with `code`, and returns it for further checks. */
function commandError(fn: () => unknown, code: CommandErrorCode): CommandError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CommandError, `expected a CommandError, got ${String(error)}`);
    assert.equal(error.code, code, `unexpected code for: ${error.message}`);
    return error;
  }
  assert.fail(`expected a CommandError with code ${code}, but nothing was thrown`);
}

function declarationError(decl: DeviceDeclaration, pattern: RegExp): DeclarationError {
  try {
    resolveDeclaration(decl);
  } catch (error) {
    assert.ok(error instanceof DeclarationError, `expected a DeclarationError, got ${String(error)}`);
    assert.equal(error.deviceId, decl.id);
    assert.match(error.message, new RegExp(`device "${decl.id}"`));
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected device "${decl.id}" to be rejected`);
}

function withParams(type: string, params: ParamSpec[]): DeviceDeclaration {
  return { id: "dev1", type, params };
}

describe("validateCommand error codes", () => {
  test("empty_command when set names no params", () => {
    const error = commandError(() => validateCommand(light, "set", {}), "empty_command");
    assert.match(error.message, /no params/);
  });

  test("unknown_param names the param and lists what can be set", () => {
    const error = commandError(() => validateCommand(light, "set", { colour: "red" }), "unknown_param");
    assert.equal(error.param, "colour");
    assert.match(error.message, /"colour" is not a param of this light/);
    assert.match(error.message, /writable: on, brightness, ct_k/);
  });

  test("a canonical param the node did not declare is unknown for that device", () => {
    const error = commandError(() => validateCommand(light, "set", { hue: 120 }), "unknown_param");
    assert.equal(error.param, "hue");
    assert.match(error.message, /"hue"/);
  });

  test("unknown_param is reported before a bad value of another param", () => {
    const error = commandError(() => validateCommand(light, "set", { brightness: 500, dimmer: 3 }), "unknown_param");
    assert.equal(error.param, "dimmer");
  });

  test("read_only names the param", () => {
    const error = commandError(() => validateCommand(thermostat, "set", { current_c: 21 }), "read_only");
    assert.equal(error.param, "current_c");
    assert.match(error.message, /"current_c" is read-only/);
  });

  test("the writable list leaves out read-only params", () => {
    const error = commandError(() => validateCommand(thermostat, "set", { fan: true }), "unknown_param");
    assert.match(error.message, /writable: mode, target_c\)/);
  });

  test("out_of_range names the param, the range with its unit and the value", () => {
    const error = commandError(() => validateCommand(light, "set", { brightness: 101 }), "out_of_range");
    assert.equal(error.param, "brightness");
    assert.match(error.message, /"brightness" must be between 1 and 100 %, got 101/);
  });

  test("out_of_range below the minimum", () => {
    const error = commandError(() => validateCommand(thermostat, "set", { target_c: -60 }), "out_of_range");
    assert.equal(error.param, "target_c");
    assert.match(error.message, /"target_c" must be between -50 and 100 °C, got -60/);
  });

  test("invalid_type for a string sent to a bool", () => {
    const error = commandError(() => validateCommand(light, "set", { on: "true" }), "invalid_type");
    assert.equal(error.param, "on");
    assert.match(error.message, /"on" must be true or false, got "true"/);
  });

  test("invalid_type for a numeric string, null, NaN, an object and an array sent to a number", () => {
    for (const value of ["50", null, Number.NaN, Number.POSITIVE_INFINITY, { v: 50 }, [50]]) {
      const error = commandError(() => validateCommand(light, "set", { brightness: value }), "invalid_type");
      assert.equal(error.param, "brightness");
      assert.match(error.message, /"brightness" must be a number/);
    }
  });

  test("invalid_value names the enum param and lists its declared values", () => {
    const error = commandError(() => validateCommand(thermostat, "set", { mode: "cool" }), "invalid_value");
    assert.equal(error.param, "mode");
    assert.match(error.message, /"mode" must be one of off, heat, eco, got "cool"/);
  });

  test("invalid_type for a non-string sent to an enum", () => {
    const error = commandError(() => validateCommand(thermostat, "set", { mode: 1 }), "invalid_type");
    assert.equal(error.param, "mode");
    assert.match(error.message, /"mode" must be one of off, heat, eco, got 1/);
  });

  test("unsupported_op names the device type and the op", () => {
    const error = commandError(() => validateCommand(light, "stop", {}), "unsupported_op");
    assert.match(error.message, /a light does not support "stop"/);
  });

  test("an op other than set refuses params", () => {
    const error = commandError(() => validateCommand(light, "get", { on: true }), "invalid_value");
    assert.match(error.message, /"get" takes no params/);
  });

  test("a valid set returns exactly the values to send", () => {
    assert.deepEqual(validateCommand(light, "set", { on: true, brightness: 60, ct_k: 2700 }), {
      op: "set",
      params: { on: true, brightness: 60, ct_k: 2700 },
    });
  });
});

describe("validateCommand value types", () => {
  test("an int param accepts whole numbers and refuses fractions", () => {
    assert.deepEqual(validateCommand(light, "set", { brightness: 40 }).params, { brightness: 40 });
    const error = commandError(() => validateCommand(light, "set", { brightness: 40.5 }), "invalid_type");
    assert.match(error.message, /"brightness" must be a whole number, got 40.5/);
  });

  test("an int param accepts a whole number written as a float (JSON has one number type)", () => {
    assert.deepEqual(validateCommand(light, "set", { brightness: 40.0 }).params, { brightness: 40 });
  });

  test("a float param accepts fractions and whole numbers", () => {
    assert.deepEqual(validateCommand(thermostat, "set", { target_c: 21.5 }).params, { target_c: 21.5 });
    assert.deepEqual(validateCommand(thermostat, "set", { target_c: 21 }).params, { target_c: 21 });
  });

  test("the range bounds themselves are accepted", () => {
    assert.deepEqual(validateCommand(light, "set", { brightness: 1 }).params, { brightness: 1 });
    assert.deepEqual(validateCommand(light, "set", { brightness: 100 }).params, { brightness: 100 });
  });

  test("an enum accepts each declared value", () => {
    for (const mode of ["off", "heat", "eco"]) {
      assert.deepEqual(validateCommand(thermostat, "set", { mode }).params, { mode });
    }
  });

  test("an enum accepts only the values the node declared, not the whole canonical list", () => {
    commandError(() => validateCommand(thermostat, "set", { mode: "auto" }), "invalid_value");
  });

  test("an enum is case-sensitive", () => {
    commandError(() => validateCommand(thermostat, "set", { mode: "Heat" }), "invalid_value");
  });
});

describe("validateCommand ops", () => {
  test("stop is allowed for a cover", () => {
    assert.deepEqual(validateCommand(cover, "stop", {}), { op: "stop", params: {} });
  });

  test("stop is refused for a light", () => {
    commandError(() => validateCommand(light, "stop", {}), "unsupported_op");
  });

  test("identify is allowed for a light and refused for a cover", () => {
    assert.deepEqual(validateCommand(light, "identify", {}), { op: "identify", params: {} });
    commandError(() => validateCommand(cover, "identify", {}), "unsupported_op");
  });

  test("get is allowed for every device and takes no params", () => {
    assert.deepEqual(validateCommand(light, "get", {}), { op: "get", params: {} });
    assert.deepEqual(validateCommand(cover, "get", {}), { op: "get", params: {} });
  });

  test("the op is checked before the params", () => {
    commandError(() => validateCommand(light, "stop", { nonsense: 1 }), "unsupported_op");
  });
});

describe("resolveDeclaration", () => {
  test("a canonical param keeps its canonical unit: a thermostat in °F is refused", () => {
    assert.throws(
      () =>
        resolveDeclaration({
          id: "hvac",
          type: "thermostat",
          params: [{ id: "target_c", type: "float", rw: "rw", unit: "°F" }],
        }),
      /"target_c" is in °C by definition, not °F/,
    );
    const same = resolveDeclaration({
      id: "hvac",
      type: "thermostat",
      params: [{ id: "target_c", type: "float", rw: "rw", unit: "°C" }],
    });
    assert.equal(same.params[0]?.unit, "°C");
  });

  test("accepts the example light of the protocol description and keeps its narrowed ranges", () => {
    const resolved = resolveDeclaration(exampleLight);
    assert.equal(resolved.devId, "light");
    assert.equal(resolved.type, "light");
    assert.equal(resolved.name, "Ceiling");
    assert.deepEqual(
      resolved.params.map((p) => p.id),
      ["on", "brightness", "ct_k"],
    );
    const brightness = resolved.params.find((p) => p.id === "brightness");
    assert.deepEqual(brightness, { id: "brightness", type: "int", rw: "rw", min: 1, max: 100, unit: "%" });
  });

  test("accepts the example sensor and fills in the canonical ranges it left out", () => {
    const sensor = resolveDeclaration({
      id: "temp",
      type: "sensor",
      params: [
        { id: "temperature_c", type: "float", rw: "r", unit: "°C" },
        { id: "humidity_pct", type: "float", rw: "r", unit: "%" },
      ],
    });
    const humidity = sensor.params.find((p) => p.id === "humidity_pct");
    assert.equal(humidity?.min, 0);
    assert.equal(humidity?.max, 100);
  });

  test("a device without a name resolves without one", () => {
    const resolved = resolveDeclaration(withParams("switch", [{ id: "on", type: "bool", rw: "rw" }]));
    assert.equal("name" in resolved, false);
  });

  test("rejects an unknown device type", () => {
    declarationError(withParams("toaster", [{ id: "on", type: "bool", rw: "rw" }]), /unknown device type "toaster"/);
  });

  test("rejects a canonical param declared with the wrong value type", () => {
    declarationError(
      withParams("light", [{ id: "on", type: "string", rw: "rw" }]),
      /param "on" must be bool, not string/,
    );
    declarationError(
      withParams("light", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "brightness", type: "float", rw: "rw" },
      ]),
      /param "brightness" must be int, not float/,
    );
  });

  test("accepts an int for a canonical float (a coarser sensor)", () => {
    const sensor = resolveDeclaration(withParams("sensor", [{ id: "temperature_c", type: "int", rw: "r" }]));
    assert.equal(sensor.params[0]?.type, "int");
  });

  test("rejects a range wider than the canonical one", () => {
    declarationError(
      withParams("light", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "brightness", type: "int", rw: "rw", min: 0, max: 255 },
      ]),
      /param "brightness" max 255 is above the canonical 100/,
    );
    declarationError(
      withParams("thermostat", [{ id: "target_c", type: "float", rw: "rw", min: -80 }]),
      /param "target_c" min -80 is below the canonical -50/,
    );
  });

  test("rejects a declared min above the canonical max", () => {
    declarationError(
      withParams("cover", [{ id: "position", type: "int", rw: "rw", min: 150 }]),
      /param "position" has min > max/,
    );
  });

  test("rejects a writable sensor reading", () => {
    declarationError(
      withParams("sensor", [{ id: "temperature_c", type: "float", rw: "rw" }]),
      /param "temperature_c" is read-only by definition/,
    );
    declarationError(
      withParams("lock", [
        { id: "locked", type: "bool", rw: "rw" },
        { id: "lock_state", type: "enum", rw: "w" },
      ]),
      /param "lock_state" is read-only by definition/,
    );
  });

  test("rejects duplicate param ids", () => {
    declarationError(
      withParams("switch", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "on", type: "bool", rw: "r" },
      ]),
      /param "on" is declared twice/,
    );
  });

  test("rejects a type missing its required param and says which one it needs", () => {
    declarationError(
      withParams("light", [{ id: "brightness", type: "int", rw: "rw" }]),
      /a light must declare at least one of: on/,
    );
    declarationError(
      withParams("thermostat", [{ id: "current_c", type: "float", rw: "r" }]),
      /a thermostat must declare at least one of: mode, target_c/,
    );
  });

  test("rejects a device with no params at all", () => {
    declarationError(withParams("switch", []), /a switch must declare at least one of: on/);
  });

  test("rejects enum values outside the canonical list", () => {
    declarationError(
      withParams("thermostat", [{ id: "mode", type: "enum", rw: "rw", values: ["heat", "turbo"] }]),
      /param "mode" declares unknown values: turbo/,
    );
  });

  test("rejects a param id that is not lower-case letters, digits and underscores", () => {
    declarationError(
      withParams("switch", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "Relay-2", type: "bool", rw: "rw" },
      ]),
      /param id "Relay-2" must match/,
    );
  });

  test("rejects a custom param named seq, which the state message uses for its counter", () => {
    declarationError(
      withParams("switch", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "seq", type: "int", rw: "r" },
      ]),
      /param id "seq" is reserved/,
    );
  });

  test("accepts a custom param outside the vocabulary and enforces it as declared", () => {
    const fan = resolveDeclaration(
      withParams("fan", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "boost", type: "enum", rw: "rw", values: ["low", "high"] },
      ]),
    );
    assert.deepEqual(validateCommand(fan, "set", { boost: "high" }).params, { boost: "high" });
    commandError(() => validateCommand(fan, "set", { boost: "max" }), "invalid_value");
  });

  test("rejects a custom enum without values", () => {
    declarationError(
      withParams("fan", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "boost", type: "enum", rw: "rw" },
      ]),
      /enum param "boost" must list its values/,
    );
  });

  test("a declared narrower range is enforced by validateCommand afterwards", () => {
    const dimmer = resolveDeclaration(
      withParams("light", [
        { id: "on", type: "bool", rw: "rw" },
        { id: "brightness", type: "int", rw: "rw", min: 10, max: 80 },
      ]),
    );
    assert.deepEqual(validateCommand(dimmer, "set", { brightness: 10 }).params, { brightness: 10 });
    assert.deepEqual(validateCommand(dimmer, "set", { brightness: 80 }).params, { brightness: 80 });
    // Inside the canonical 0–100 but outside what this node declared.
    const high = commandError(() => validateCommand(dimmer, "set", { brightness: 90 }), "out_of_range");
    assert.match(high.message, /"brightness" must be between 10 and 80 %, got 90/);
    commandError(() => validateCommand(dimmer, "set", { brightness: 5 }), "out_of_range");
  });

  test("a param declared read-only by the node cannot be set even if the canonical one is writable", () => {
    const meter = resolveDeclaration(withParams("light", [{ id: "on", type: "bool", rw: "r" }]));
    commandError(() => validateCommand(meter, "set", { on: true }), "read_only");
  });
});

describe("filterReportedState", () => {
  const lamp: DeviceDefinition = light;

  test("keeps every value that matches the declaration", () => {
    assert.deepEqual(filterReportedState(lamp, { on: true, brightness: 60, ct_k: 4000 }), {
      accepted: { on: true, brightness: 60, ct_k: 4000 },
      rejected: [],
    });
  });

  test("rejects bad values without losing the good ones", () => {
    const { accepted, rejected } = filterReportedState(lamp, {
      on: "yes",
      brightness: 60,
      ct_k: 9000,
      hue: 120,
      flicker: true,
    });
    assert.deepEqual(accepted, { brightness: 60 });
    assert.deepEqual(rejected.sort(), ["ct_k", "flicker", "hue", "on"]);
  });

  test("accepts read-only readings, which a command could not set", () => {
    const { accepted, rejected } = filterReportedState(thermostat, { current_c: 19.5, mode: "heat" });
    assert.deepEqual(accepted, { current_c: 19.5, mode: "heat" });
    assert.deepEqual(rejected, []);
  });

  test("rejects a fraction for an int param and an undeclared enum value", () => {
    assert.deepEqual(filterReportedState(lamp, { brightness: 33.3 }), { accepted: {}, rejected: ["brightness"] });
    assert.deepEqual(filterReportedState(thermostat, { mode: "cool", target_c: 20 }), {
      accepted: { target_c: 20 },
      rejected: ["mode"],
    });
  });

  test("an empty state yields nothing", () => {
    assert.deepEqual(filterReportedState(lamp, {}), { accepted: {}, rejected: [] });
  });
});
