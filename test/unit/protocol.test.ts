import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  COMMAND_STATUSES,
  CommandPayloadSchema,
  CommandResponseSchema,
  DEFAULT_TOPIC_PREFIX,
  EventPayloadSchema,
  isValidNodeId,
  LIMITS,
  maxPayloadBytes,
  NodeConfigSchema,
  OtaStatusSchema,
  type ParsedTopic,
  StatePayloadSchema,
  Topics,
} from "../../src/devices/protocol.ts";

const NODE = "esp-3c61054a1b2c";

/** The example node config of the protocol description (devices.md §5), with the default prefix. */
function exampleConfig(): Record<string, unknown> {
  return {
    node_id: NODE,
    proto: 1,
    cfg_hash: "9f2c1a",
    fw: { version: "1.4.2", build: "2026-11-20T10:00:00Z" },
    hw: { model: "hab-relay-2ch", chip: "esp32c3", mac: "3c:61:05:4a:1b:2c" },
    name: "Kitchen relay board",
    devices: [
      {
        id: "light",
        type: "light",
        name: "Ceiling",
        primary: "on",
        params: [
          { id: "on", type: "bool", rw: "rw" },
          { id: "brightness", type: "int", rw: "rw", min: 1, max: 100, unit: "%" },
          { id: "ct_k", type: "int", rw: "rw", min: 2700, max: 6500, unit: "K" },
        ],
      },
      {
        id: "temp",
        type: "sensor",
        params: [
          { id: "temperature_c", type: "float", rw: "r", unit: "°C" },
          { id: "humidity_pct", type: "float", rw: "r", unit: "%" },
        ],
      },
    ],
    services: { ota: true, identify: true, reboot: true },
  };
}

function device(id: string): Record<string, unknown> {
  return { id, type: "switch", params: [{ id: "on", type: "bool" }] };
}

describe("Topics", () => {
  const topics = new Topics();

  test("builds the topic names of the protocol under the default prefix", () => {
    assert.equal(DEFAULT_TOPIC_PREFIX, "hearth/v1");
    assert.equal(topics.status(NODE), `hearth/v1/${NODE}/status`);
    assert.equal(topics.config(NODE), `hearth/v1/${NODE}/config`);
    assert.equal(topics.state(NODE, "light"), `hearth/v1/${NODE}/d/light/state`);
    assert.equal(topics.command(NODE), `hearth/v1/${NODE}/cmd`);
    assert.equal(topics.commandResponse(NODE), `hearth/v1/${NODE}/cmd/res`);
    assert.equal(topics.event(NODE), `hearth/v1/${NODE}/event`);
    assert.equal(topics.telemetry(NODE), `hearth/v1/${NODE}/telemetry`);
    assert.equal(topics.otaStatus(NODE), `hearth/v1/${NODE}/ota/status`);
    assert.equal(topics.bridgeStatus, "hearth/v1/bridge/status");
    assert.equal(topics.nodeSubtree(NODE), `hearth/v1/${NODE}/#`);
  });

  for (const prefix of [DEFAULT_TOPIC_PREFIX, "home/hearth/v1", "hab"]) {
    test(`every topic kind parses back to what built it (prefix ${prefix})`, () => {
      const t = new Topics(prefix);
      const cases: Array<[string, ParsedTopic]> = [
        [t.status(NODE), { nodeId: NODE, kind: "status" }],
        [t.config(NODE), { nodeId: NODE, kind: "config" }],
        [t.state(NODE, "relay_1"), { nodeId: NODE, kind: "state", devId: "relay_1" }],
        [t.command(NODE), { nodeId: NODE, kind: "cmd" }],
        [t.commandResponse(NODE), { nodeId: NODE, kind: "cmd_res" }],
        [t.event(NODE), { nodeId: NODE, kind: "event" }],
        [t.telemetry(NODE), { nodeId: NODE, kind: "telemetry" }],
        [t.otaStatus(NODE), { nodeId: NODE, kind: "ota_status" }],
      ];
      for (const [topic, expected] of cases) {
        assert.ok(topic.startsWith(`${prefix}/`), topic);
        assert.deepEqual(t.parse(topic), expected, topic);
      }
    });
  }

  test("the bridge subscriptions cover every topic a node publishes, and nothing the bridge publishes", () => {
    const subscriptions = topics.bridgeSubscriptions;
    const matches = (filter: string, topic: string): boolean => {
      const f = filter.split("/");
      const t = topic.split("/");
      return f.length === t.length && f.every((level, i) => level === "+" || level === t[i]);
    };
    const fromNode = [
      topics.status(NODE),
      topics.config(NODE),
      topics.state(NODE, "light"),
      topics.commandResponse(NODE),
      topics.event(NODE),
      topics.telemetry(NODE),
      topics.otaStatus(NODE),
    ];
    for (const topic of fromNode) {
      assert.ok(
        subscriptions.some((s) => matches(s, topic)),
        `${topic} is not covered`,
      );
    }
    assert.equal(
      subscriptions.some((s) => matches(s, topics.command(NODE))),
      false,
      "the bridge must not receive its own commands",
    );
  });

  test("parse rejects a foreign or partial prefix", () => {
    for (const topic of [
      `other/v1/${NODE}/status`,
      `hearth/v2/${NODE}/status`,
      `hearth/v10/${NODE}/status`,
      `hearth/${NODE}/status`,
      `/hearth/v1/${NODE}/status`,
      "hearth/v1",
      "hearth/v1/",
    ]) {
      assert.equal(topics.parse(topic), null, topic);
    }
    assert.equal(new Topics("home/hearth").parse(`hearth/v1/${NODE}/status`), null);
  });

  test("parse rejects invalid node ids", () => {
    for (const nodeId of ["ab", "ESP-1234", "-esp1", "esp_1234", "esp.1234", "a".repeat(33), ""]) {
      assert.equal(topics.parse(`hearth/v1/${nodeId}/status`), null, nodeId);
    }
  });

  test("parse does not treat the bridge's own subtree as a node", () => {
    assert.equal(topics.parse(topics.bridgeStatus), null);
    assert.equal(topics.parse("hearth/v1/bridge/config"), null);
    assert.equal(topics.parse("hearth/v1/bridge/d/light/state"), null);
  });

  test("parse rejects extra, missing or empty levels", () => {
    for (const topic of [
      `hearth/v1/${NODE}`,
      `hearth/v1/${NODE}/`,
      `hearth/v1/${NODE}/status/extra`,
      `hearth/v1/${NODE}/status/`,
      `hearth/v1/${NODE}//status`,
      `hearth/v1/${NODE}/cmd/res/more`,
      `hearth/v1/${NODE}/ota`,
      `hearth/v1/${NODE}/d/light`,
      `hearth/v1/${NODE}/d/light/state/extra`,
      `hearth/v1/${NODE}/d/light/extra/state`,
      `hearth/v1/${NODE}/d//state`,
      `hearth/v1/${NODE}/unknown`,
    ]) {
      assert.equal(topics.parse(topic), null, topic);
    }
  });

  test("parse rejects wildcards in any position", () => {
    for (const topic of [
      "hearth/v1/+/status",
      "hearth/v1/#",
      `hearth/v1/${NODE}/#`,
      `hearth/v1/${NODE}/+`,
      `hearth/v1/${NODE}/d/+/state`,
      `hearth/v1/${NODE}/d/#`,
    ]) {
      assert.equal(topics.parse(topic), null, topic);
    }
  });

  test("parse rejects a device id outside [a-z0-9_]", () => {
    for (const devId of ["Light", "relay-1", "a".repeat(33)]) {
      assert.equal(topics.parse(`hearth/v1/${NODE}/d/${devId}/state`), null, devId);
    }
  });
});

describe("names and limits", () => {
  test("isValidNodeId accepts 3–32 characters of a-z, 0-9 and -, not starting with -", () => {
    for (const id of [NODE, "abc", "a".repeat(32), "0-node", "kitchen-relay"])
      assert.equal(isValidNodeId(id), true, id);
    for (const id of ["ab", "a".repeat(33), "-abc", "Abc", "ab_c", "ab c", "ab/c", "ab+c", "ab#c", ""]) {
      assert.equal(isValidNodeId(id), false, id);
    }
  });

  test("bridge is reserved and never a node id", () => {
    assert.equal(isValidNodeId("bridge"), false);
    assert.equal(isValidNodeId("bridge-1"), true);
  });

  test("config may be larger than every other message", () => {
    assert.equal(maxPayloadBytes("config"), LIMITS.configBytes);
    for (const kind of ["status", "state", "cmd", "cmd_res", "event", "telemetry", "ota_status"] as const) {
      assert.equal(maxPayloadBytes(kind), LIMITS.messageBytes, kind);
    }
    assert.ok(LIMITS.configBytes > LIMITS.messageBytes);
  });
});

describe("NodeConfigSchema", () => {
  test("accepts the example config and drops fields it does not know", () => {
    const result = NodeConfigSchema.safeParse(exampleConfig());
    assert.ok(result.success, JSON.stringify(result.error?.issues));
    assert.equal(result.data.proto, 1);
    assert.deepEqual(
      result.data.devices.map((d) => d.id),
      ["light", "temp"],
    );
    assert.equal("primary" in (result.data.devices[0] as object), false);
  });

  test("a param without rw is read-write", () => {
    const result = NodeConfigSchema.parse({ proto: 1, devices: [device("relay1")] });
    assert.equal(result.devices[0]?.params[0]?.rw, "rw");
  });

  test("rejects a config without proto", () => {
    const config = exampleConfig();
    delete config.proto;
    assert.equal(NodeConfigSchema.safeParse(config).success, false);
  });

  test("rejects another protocol version", () => {
    assert.equal(NodeConfigSchema.safeParse({ ...exampleConfig(), proto: 2 }).success, false);
    assert.equal(NodeConfigSchema.safeParse({ ...exampleConfig(), proto: "1" }).success, false);
  });

  test("rejects a config without a device list", () => {
    const config = exampleConfig();
    delete config.devices;
    assert.equal(NodeConfigSchema.safeParse(config).success, false);
  });

  test("accepts as many devices as the limit and no more", () => {
    const devices = Array.from({ length: LIMITS.devicesPerNode }, (_, i) => device(`relay${i}`));
    assert.equal(NodeConfigSchema.safeParse({ proto: 1, devices }).success, true);
    devices.push(device("one_too_many"));
    assert.equal(NodeConfigSchema.safeParse({ proto: 1, devices }).success, false);
  });

  test("accepts as many params per device as the limit and no more", () => {
    const params = Array.from({ length: LIMITS.paramsPerDevice }, (_, i) => ({ id: `p${i}`, type: "int" }));
    assert.equal(NodeConfigSchema.safeParse({ proto: 1, devices: [{ id: "d", type: "x", params }] }).success, true);
    params.push({ id: "extra", type: "int" });
    assert.equal(NodeConfigSchema.safeParse({ proto: 1, devices: [{ id: "d", type: "x", params }] }).success, false);
  });

  test("rejects duplicate device ids with a message that says so", () => {
    const result = NodeConfigSchema.safeParse({ proto: 1, devices: [device("relay1"), device("relay1")] });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /device ids must be unique/);
  });

  test("rejects bad device and param ids", () => {
    for (const id of ["Relay1", "relay-1", "", "a".repeat(33), "relay 1"]) {
      const result = NodeConfigSchema.safeParse({ proto: 1, devices: [device(id)] });
      assert.equal(result.success, false, `device id ${JSON.stringify(id)}`);
    }
    const badParam = { id: "relay1", type: "switch", params: [{ id: "On", type: "bool" }] };
    const result = NodeConfigSchema.safeParse({ proto: 1, devices: [badParam] });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /param ids are 1–32 characters/);
  });

  test("rejects an unknown value type or access mode", () => {
    const withParam = (param: Record<string, unknown>) => ({
      proto: 1,
      devices: [{ id: "relay1", type: "switch", params: [param] }],
    });
    assert.equal(NodeConfigSchema.safeParse(withParam({ id: "on", type: "boolean" })).success, false);
    assert.equal(NodeConfigSchema.safeParse(withParam({ id: "on", type: "bool", rw: "wr" })).success, false);
    assert.equal(NodeConfigSchema.safeParse(withParam({ id: "mode", type: "enum", values: [] })).success, false);
  });
});

describe("StatePayloadSchema", () => {
  test("extracts seq from the values", () => {
    const result = StatePayloadSchema.parse({ on: true, brightness: 60, seq: 118 });
    assert.deepEqual(result, { seq: 118, values: { on: true, brightness: 60 } });
  });

  test("seq is optional", () => {
    const result = StatePayloadSchema.parse({ on: false, mode: "heat" });
    assert.equal(result.seq, undefined);
    assert.deepEqual(result.values, { on: false, mode: "heat" });
  });

  test("seq zero is kept", () => {
    assert.equal(StatePayloadSchema.parse({ on: true, seq: 0 }).seq, 0);
  });

  test("rejects a negative, fractional or non-numeric seq", () => {
    for (const seq of [-1, 1.5, "7", true, null]) {
      const result = StatePayloadSchema.safeParse({ on: true, seq });
      assert.equal(result.success, false, `seq ${JSON.stringify(seq)}`);
      assert.match(JSON.stringify(result.error?.issues), /seq must be a non-negative integer/);
    }
  });

  test("rejects null values and names the param", () => {
    const result = StatePayloadSchema.safeParse({ on: true, brightness: null, seq: 3 });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /brightness must not be null/);
  });

  test("rejects nested objects, arrays and overlong strings", () => {
    assert.equal(StatePayloadSchema.safeParse({ color: { r: 1 } }).success, false);
    assert.equal(StatePayloadSchema.safeParse({ list: [1, 2] }).success, false);
    assert.equal(StatePayloadSchema.safeParse({ label: "x".repeat(65) }).success, false);
    assert.equal(StatePayloadSchema.safeParse({ label: "x".repeat(64) }).success, true);
  });

  test("rejects a payload that is not an object", () => {
    for (const payload of [null, [true], "on", 1]) {
      assert.equal(StatePayloadSchema.safeParse(payload).success, false, JSON.stringify(payload));
    }
  });
});

describe("CommandPayloadSchema", () => {
  test("accepts the example command envelope", () => {
    const command = {
      id: "01JDZ7Q8M3V4R5T6",
      op: "set",
      dev: "light",
      params: { on: true, brightness: 60 },
      exp: 1732270105,
    };
    assert.deepEqual(CommandPayloadSchema.parse(command), command);
  });

  test("accepts a command without id or with id null (third-party controllers)", () => {
    assert.equal(CommandPayloadSchema.safeParse({ op: "get", dev: "light" }).success, true);
    assert.equal(CommandPayloadSchema.safeParse({ id: null, op: "get", dev: "light" }).success, true);
  });

  test("accepts reboot, stop and identify, and rejects an unknown op", () => {
    for (const op of ["reboot", "stop", "identify"])
      assert.equal(CommandPayloadSchema.safeParse({ op }).success, true, op);
    assert.equal(CommandPayloadSchema.safeParse({ op: "explode" }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ dev: "light" }).success, false);
  });

  test("rejects an id longer than the limit, an empty id and a fractional or negative expiry", () => {
    assert.equal(CommandPayloadSchema.safeParse({ id: "x".repeat(LIMITS.commandIdChars), op: "get" }).success, true);
    assert.equal(
      CommandPayloadSchema.safeParse({ id: "x".repeat(LIMITS.commandIdChars + 1), op: "get" }).success,
      false,
    );
    assert.equal(CommandPayloadSchema.safeParse({ id: "", op: "get" }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ op: "get", exp: 1.5 }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ op: "get", exp: -1 }).success, false);
  });
});

describe("the ota command", () => {
  const ota = {
    id: "Ot4Xq8Lm2Nb6Vc0Z",
    op: "ota",
    url: "http://192.168.1.10:8080/ota/Ot4Xq8Lm2Nb6Vc0Z/k2V9xQ7mP4sT1wZ8aB3cD6eF",
    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    size: 912384,
    version: "1.4.3",
  };

  test("accepts the command of §14.1 as it is", () => {
    assert.deepEqual(CommandPayloadSchema.parse(ota), ota);
  });

  test("needs url, sha256, size and version, and names the one missing", () => {
    for (const field of ["url", "sha256", "size", "version"] as const) {
      const { [field]: _, ...rest } = ota;
      const result = CommandPayloadSchema.safeParse(rest);
      assert.equal(result.success, false, field);
      assert.deepEqual(result.error?.issues[0]?.path, [field]);
    }
  });

  test("refuses a dev or params on ota, and ota fields on any other op", () => {
    assert.equal(CommandPayloadSchema.safeParse({ ...ota, dev: "light" }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ ...ota, params: { on: true } }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ op: "reboot", version: "1.4.3" }).success, false);
    assert.equal(CommandPayloadSchema.safeParse({ op: "get", dev: "light", url: ota.url }).success, false);
  });

  test("refuses a bad url, an upper-case or short sha256, a size of 0 and a version with spaces or over 32", () => {
    for (const bad of [
      { url: "ftp://192.168.1.10/image.bin" },
      { url: `http://h/${"a".repeat(256)}` },
      { sha256: ota.sha256.toUpperCase() },
      { sha256: ota.sha256.slice(1) },
      { size: 0 },
      { size: 1.5 },
      { version: "" },
      { version: "1.4 beta" },
      { version: "v".repeat(33) },
    ]) {
      assert.equal(CommandPayloadSchema.safeParse({ ...ota, ...bad }).success, false, JSON.stringify(bad));
    }
  });
});

describe("OtaStatusSchema", () => {
  test("accepts every state of §14.1 with its optional fields", () => {
    for (const state of ["downloading", "verifying", "rebooting", "success", "failed", "rejected"]) {
      assert.equal(OtaStatusSchema.safeParse({ id: "j1", state }).success, true, state);
    }
    const failed = { id: "j1", state: "failed", version: "1.4.3", error: "sha256_mismatch", msg: "no match" };
    assert.deepEqual(OtaStatusSchema.parse(failed), failed);
  });

  test("refuses an unknown state, a missing id and progress outside 0–100 or fractional", () => {
    assert.equal(OtaStatusSchema.safeParse({ id: "j1", state: "done" }).success, false);
    assert.equal(OtaStatusSchema.safeParse({ state: "success" }).success, false);
    for (const progress of [-1, 101, 40.5]) {
      assert.equal(OtaStatusSchema.safeParse({ id: "j1", state: "downloading", progress }).success, false);
    }
  });

  test("refuses an error or version over 32 characters, and cuts a message over 200", () => {
    assert.equal(OtaStatusSchema.safeParse({ id: "j1", state: "failed", error: "e".repeat(33) }).success, false);
    assert.equal(OtaStatusSchema.safeParse({ id: "j1", state: "success", version: "v".repeat(33) }).success, false);
    const long = OtaStatusSchema.parse({ id: "j1", state: "failed", error: "write_failed", msg: "m".repeat(300) });
    assert.equal(long.msg?.length, 200);
  });
});

describe("CommandResponseSchema", () => {
  test("accepts the example response", () => {
    const response = {
      id: "01JDZ7Q8M3V4R5T6",
      status: "ok",
      dev: "light",
      state: { on: true, brightness: 60 },
      seq: 119,
    };
    assert.deepEqual(CommandResponseSchema.parse(response), response);
  });

  test("accepts every status of the protocol", () => {
    assert.deepEqual(
      [...COMMAND_STATUSES],
      [
        "ok",
        "accepted",
        "duplicate",
        "bad_request",
        "unknown_device",
        "unknown_param",
        "read_only",
        "out_of_range",
        "busy",
        "expired",
        "error",
      ],
    );
    for (const status of COMMAND_STATUSES) {
      assert.equal(CommandResponseSchema.safeParse({ id: "c1", status }).success, true, status);
    }
  });

  test("rejects an unknown or missing status", () => {
    for (const status of ["OK", "success", "failed", "", undefined]) {
      assert.equal(CommandResponseSchema.safeParse({ id: "c1", status }).success, false, String(status));
    }
  });

  test("id null answers a command sent without id; a missing id is refused", () => {
    assert.equal(CommandResponseSchema.safeParse({ id: null, status: "ok" }).success, true);
    assert.equal(CommandResponseSchema.safeParse({ status: "ok" }).success, false);
  });

  test("rejects a state with null or nested values and a negative seq", () => {
    assert.equal(CommandResponseSchema.safeParse({ id: "c1", status: "ok", state: { on: null } }).success, false);
    assert.equal(CommandResponseSchema.safeParse({ id: "c1", status: "ok", state: { on: { v: 1 } } }).success, false);
    assert.equal(CommandResponseSchema.safeParse({ id: "c1", status: "ok", seq: -1 }).success, false);
  });

  test("an error message longer than 200 characters is cut, so the answer itself is not lost", () => {
    const long = CommandResponseSchema.safeParse({ id: "c1", status: "error", msg: "x".repeat(500) });
    assert.equal(long.success, true);
    assert.equal(long.data?.msg?.length, 200);
    assert.equal(long.data?.status, "error");
  });
});

describe("EventPayloadSchema", () => {
  test("accepts the example events and keeps their extra fields", () => {
    assert.deepEqual(EventPayloadSchema.parse({ dev: "btn1", type: "press", kind: "double" }), {
      dev: "btn1",
      type: "press",
      kind: "double",
    });
    assert.deepEqual(EventPayloadSchema.parse({ type: "alert", code: "overtemp", msg: "too hot" }), {
      type: "alert",
      code: "overtemp",
      msg: "too hot",
    });
  });

  test("rejects an event without type, with an overlong type or a bad device id", () => {
    assert.equal(EventPayloadSchema.safeParse({ dev: "btn1" }).success, false);
    assert.equal(EventPayloadSchema.safeParse({ type: "x".repeat(33) }).success, false);
    assert.equal(EventPayloadSchema.safeParse({ type: "press", dev: "Button-1" }).success, false);
  });
});
