/**
 * A node with broken firmware: malformed JSON, wrong types, oversize payloads, an unknown device, a wrong
 * protocol version and garbage on every topic it may publish to. The daemon keeps running, logs a warning per
 * message, keeps the stored state as it was, and still carries out a correct command afterwards; one bad value
 * in a state report does not cost the good ones. Secrets never reach the log.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { LIMITS } from "../../src/devices/protocol.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  Cleanup,
  type DeviceView,
  getDevice,
  getNode,
  listDevices,
  logsSince,
  PREFIX,
  refusal,
  WARN,
  waitForDevice,
} from "../helpers/integration.ts";

const NODE = "bad-house-1";
const LIGHT = `${NODE}.light`;
const SENSOR = `${NODE}.sensor`;
const DROPPED = "dropped a bad message from a node";

interface BadMessage {
  /** Topic below `hearth/v1/<node>/`. */
  suffix: string;
  payload: string | Buffer;
  /** What the logged reason must say. */
  reason: RegExp;
}

const oversize = (bytes: number) => JSON.stringify({ on: true, pad: "x".repeat(bytes) });

for (const kind of BROKER_KINDS) {
  describe(`bad input from a node (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let sim: SimNode;
    let nodePassword: string;
    let battery = 50;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind), (b) => b.stop());
      const started = await addAndConnectNode(bridge, NODE, { devices: ["light", "sensor"] });
      sim = cleanup.add(started.sim, (s) => s.close());
      nodePassword = started.credentials.password;
    });

    after(() => cleanup.run());

    /**
     * Waits until the bridge has handled everything the node sent so far: a real sensor reading, sent after
     * them on the same connection, is stored only after every earlier message was ingested.
     */
    async function barrier(): Promise<void> {
      battery = battery >= 99 ? 1 : battery + 1;
      const expected = battery;
      await sim.press("sensor", { battery_pct: expected });
      await waitForDevice(bridge, SENSOR, (d) => d.state.battery_pct === expected, "the barrier reading");
    }

    /** What must not change: the light (the sensor carries the barrier readings), the registry and the node. */
    async function snapshot(): Promise<unknown> {
      const devices = await listDevices(bridge, NODE);
      const node = await getNode(bridge, NODE);
      return {
        light: await getDevice(bridge, LIGHT),
        sensor: {
          ...(devices.find((d) => d.id === SENSOR) as DeviceView),
          state: null,
          state_seq: null,
          state_changed_at: null,
        },
        registry: devices.map((d) => [d.id, d.type, d.online, d.params]),
        node: { name: node?.name, fw: node?.fw_version, hw: node?.hw_model, online: node?.online },
      };
    }

    /** Publishes each message, then checks one warning per message, in order, and that nothing changed. */
    async function expectDropped(messages: BadMessage[]): Promise<void> {
      const before = await snapshot();
      const from = bridge.logs.lines.length;
      for (const message of messages) {
        await sim.publishRaw(`${PREFIX}/${NODE}/${message.suffix}`, message.payload, { qos: 1 });
      }
      await barrier();

      const warnings = logsSince(bridge, from, (line) => line.level === WARN && line.msg === DROPPED);
      assert.equal(warnings.length, messages.length, JSON.stringify(warnings, null, 1));
      messages.forEach((message, index) => {
        const warning = warnings[index] as Record<string, unknown>;
        assert.equal(warning.topic, `${PREFIX}/${NODE}/${message.suffix}`);
        assert.equal(warning.node, NODE);
        assert.match(String(warning.reason), message.reason, `message ${index} on ${message.suffix}`);
      });
      assert.deepEqual(await snapshot(), before);
      assert.equal(sim.connected, true, "the node is not thrown off the broker for a bad payload");
    }

    test("bad config messages are dropped", async () => {
      const good = sim.config;
      await expectDropped([
        { suffix: "config", payload: "{not json", reason: /not valid JSON/ },
        { suffix: "config", payload: Buffer.from([0xff, 0xfe, 0x00, 0x7b]), reason: /not valid JSON/ },
        { suffix: "config", payload: JSON.stringify({ ...good, proto: 2 }), reason: /proto/ },
        { suffix: "config", payload: JSON.stringify({ ...good, proto: undefined }), reason: /proto/ },
        { suffix: "config", payload: JSON.stringify({ ...good, devices: "light" }), reason: /devices/ },
        { suffix: "config", payload: JSON.stringify([good]), reason: /does not match/ },
        { suffix: "config", payload: JSON.stringify({ ...good, node_id: "bad-house-2" }), reason: /names node/ },
        {
          suffix: "config",
          payload: JSON.stringify({ ...good, devices: [...good.devices, ...good.devices] }),
          reason: /unique/,
        },
        // An oversize config would remove every device if it were read.
        {
          suffix: "config",
          payload: JSON.stringify({ ...good, devices: [], pad: "x".repeat(LIMITS.configBytes) }),
          reason: new RegExp(`exceeds the ${LIMITS.configBytes}-byte limit`),
        },
      ]);
    });

    test("a config with one unusable device keeps the good ones", async () => {
      const before = await snapshot();
      const from = bridge.logs.lines.length;
      const broken = { id: "heater", type: "toaster", params: [{ id: "on", type: "bool", rw: "rw" }] };
      const config = { ...sim.config, devices: [...sim.config.devices, broken] };
      await sim.publishRaw(`${PREFIX}/${NODE}/config`, JSON.stringify(config), { qos: 1 });
      await barrier();

      const warning = logsSince(bridge, from, (line) => line.level === WARN && line.node === NODE);
      assert.equal(warning.length, 1, JSON.stringify(warning));
      assert.equal(warning[0]?.msg, "ignoring a device the model cannot accept");
      assert.deepEqual(await snapshot(), before);
    });

    test("bad state messages are dropped", async () => {
      await expectDropped([
        { suffix: "d/light/state", payload: '{"on": tru', reason: /not valid JSON/ },
        { suffix: "d/light/state", payload: '"on"', reason: /does not match/ },
        { suffix: "d/light/state", payload: "[true]", reason: /does not match/ },
        { suffix: "d/light/state", payload: '{"on": null}', reason: /must not be null/ },
        { suffix: "d/light/state", payload: '{"on": {"value": true}}', reason: /does not match/ },
        { suffix: "d/light/state", payload: '{"on": true, "seq": -1}', reason: /seq/ },
        { suffix: "d/light/state", payload: '{"on": true, "seq": "7"}', reason: /seq/ },
        {
          suffix: "d/light/state",
          payload: oversize(LIMITS.messageBytes),
          reason: new RegExp(`exceeds the ${LIMITS.messageBytes}-byte limit`),
        },
        { suffix: "d/ghost/state", payload: '{"on": true}', reason: /does not declare/ },
      ]);
    });

    test("a state report whose every value is wrong changes nothing and is logged", async () => {
      const before = await snapshot();
      const from = bridge.logs.lines.length;
      const payload = JSON.stringify({ on: "yes", brightness: 250, ct_k: 3000.5, colour: "red" });
      await sim.publishRaw(`${PREFIX}/${NODE}/d/light/state`, payload, { qos: 1 });
      await barrier();

      const [warning, ...more] = logsSince(bridge, from, (line) => line.level === WARN);
      assert.deepEqual(more, []);
      assert.equal(warning?.device, LIGHT);
      assert.deepEqual([...((warning?.rejected as string[] | undefined) ?? [])].sort(), [
        "brightness",
        "colour",
        "ct_k",
        "on",
      ]);
      assert.deepEqual(await snapshot(), before);
    });

    test("bad command responses, events, telemetry and statuses are dropped", async () => {
      const big = oversize(LIMITS.messageBytes);
      const tooBig = new RegExp(`exceeds the ${LIMITS.messageBytes}-byte limit`);
      await expectDropped([
        { suffix: "cmd/res", payload: "ok", reason: /not valid JSON/ },
        { suffix: "cmd/res", payload: '{"id": 5, "status": "ok"}', reason: /id/ },
        { suffix: "cmd/res", payload: '{"id": "abc", "status": "great"}', reason: /status/ },
        { suffix: "cmd/res", payload: '{"id": "abc", "status": "ok", "state": {"on": [1]}}', reason: /state/ },
        { suffix: "cmd/res", payload: big, reason: tooBig },
        { suffix: "event", payload: "{}", reason: /type/ },
        { suffix: "event", payload: '{"type": "press", "dev": "Not A Dev"}', reason: /dev/ },
        { suffix: "event", payload: "press", reason: /not valid JSON/ },
        { suffix: "event", payload: big, reason: tooBig },
        { suffix: "telemetry", payload: '{"rssi": "strong"}', reason: /rssi/ },
        { suffix: "telemetry", payload: "rssi=-60", reason: /not valid JSON/ },
        { suffix: "telemetry", payload: big, reason: tooBig },
        { suffix: "status", payload: "maybe", reason: /online" or "offline/ },
        { suffix: "status", payload: "ONLINE", reason: /online" or "offline/ },
        { suffix: "status", payload: '{"online": false}', reason: /online" or "offline/ },
        { suffix: "status", payload: `offline${" ".repeat(LIMITS.messageBytes)}`, reason: tooBig },
      ]);
    });

    test("empty payloads on every topic change nothing", async () => {
      // An empty retained payload is how a topic is cleared, so it is skipped rather than reported.
      const before = await snapshot();
      for (const suffix of ["config", "d/light/state", "d/ghost/state", "cmd/res", "event", "telemetry", "status"]) {
        await sim.publishRaw(`${PREFIX}/${NODE}/${suffix}`, "", { qos: 1 });
      }
      await barrier();
      assert.deepEqual(await snapshot(), before);
    });

    test("a command response nobody asked for is ignored", async () => {
      const before = await snapshot();
      const stray = { id: "not-pending-1", status: "ok", dev: "light", state: { on: true, brightness: 1 }, seq: 999 };
      await sim.publishRaw(`${PREFIX}/${NODE}/cmd/res`, JSON.stringify(stray), { qos: 1 });
      await barrier();
      assert.deepEqual(await snapshot(), before, "only a pending command's answer is taken as confirmed state");
    });

    test("a state report with one bad and one good value keeps the good one", async () => {
      const before = await getDevice(bridge, LIGHT);
      const from = bridge.logs.lines.length;
      const brightness = before.state.brightness === 64 ? 65 : 64;
      await sim.publishRaw(`${PREFIX}/${NODE}/d/light/state`, JSON.stringify({ brightness, on: "sometimes" }), {
        qos: 1,
      });
      const after = await waitForDevice(bridge, LIGHT, (d) => d.state.brightness === brightness, "the good value");
      assert.deepEqual(after.state, { ...before.state, brightness });
      assert.equal(after.state_seq, before.state_seq + 1);
      const warnings = logsSince(bridge, from, (line) => line.level === WARN && line.device === LIGHT);
      assert.deepEqual(
        warnings.map((line) => line.rejected),
        [["on"]],
      );
    });

    test("the daemon is healthy and a correct command succeeds afterwards", async () => {
      const health = await fetch(`${bridge.httpUrl}/healthz`);
      assert.equal(health.status, 200);
      const brightness = sim.state("light").brightness === 42 ? 43 : 42;
      const response = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, {
        params: { on: true, brightness },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.state, sim.state("light"));
      assert.equal(sim.state("light").brightness, brightness);
      assert.equal((await getNode(bridge, NODE))?.online, true);
    });

    test("logs never contain node passwords or admin tokens", async () => {
      const token = bridge.daemon.store.adminTokens.create("log test", Date.now()).token;
      const mistyped = `hth_${randomBytes(24).toString("base64url")}`;
      const wrongPassword = randomBytes(18).toString("base64url");

      assert.equal((await bridge.api("GET", "/api/v1/devices", undefined, token)).status, 200);
      assert.equal((await bridge.api("GET", `/api/v1/devices?token=${token}`, undefined, token)).status, 200);
      assert.equal((await bridge.api("GET", "/api/v1/devices", undefined, mistyped)).status, 401);
      const command = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { on: false } }, token);
      assert.equal(command.status, 200);
      const added = await bridge.api("POST", "/api/v1/nodes", { node_id: "bad-house-3" }, token);
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const rotated = await bridge.api("POST", "/api/v1/nodes", { node_id: "bad-house-3", rotate: true }, token);
      assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
      const login = await refusal(bridge.mqttUrl, { username: "bad-house-3", password: wrongPassword });
      assert.notEqual(login, "closed");

      const secrets: Record<string, string> = {
        "node password": nodePassword,
        "node password from the API": added.body.password,
        "rotated node password": rotated.body.password,
        "admin token": token,
        "mistyped admin token": mistyped,
        "wrong MQTT password": wrongPassword,
      };
      if (bridge.config.mqtt.password) secrets["bridge MQTT password"] = bridge.config.mqtt.password;
      const text = bridge.logs.text();
      assert.ok(text.length > 0);
      for (const [what, secret] of Object.entries(secrets)) {
        assert.ok(typeof secret === "string" && secret.length >= 16, what);
        assert.equal(text.includes(secret), false, `the log contains the ${what}`);
      }
      assert.equal(/\$7\$101\$/.test(text), false, "the log contains a mosquitto password line");
    });
  });
}
