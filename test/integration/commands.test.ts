/**
 * Commands through the admin API, end to end: a success answers with the state the node confirmed and is
 * logged; a lost command is retried with the same id and carried out once; a silent node is a 504 at the
 * configured deadline; every invalid request is a 4xx in the API's error shape that never reaches the node;
 * an offline node is answered at once.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  Cleanup,
  commandLog,
  getDevice,
  waitForDevice,
  waitForNode,
} from "../helpers/integration.ts";

const NODE = "cmd-house-1";
const LIGHT = `${NODE}.light`;
const SENSOR = `${NODE}.sensor`;
const COVER = `${NODE}.cover`;

for (const kind of BROKER_KINDS) {
  describe(`commands (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let sim: SimNode;
    let timeoutMs: number;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind), (b) => b.stop());
      timeoutMs = bridge.config.commands.timeoutMs;
      ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light", "sensor", "cover"] }));
      cleanup.add(sim, (s) => s.close());
    });

    after(() => cleanup.run());

    afterEach(() => {
      sim.ignoreCommands = false;
      sim.latencyMs = 0;
      sim.dropAcks(0);
    });

    /** Sends an invalid request and checks that it is refused without anything reaching the node. */
    async function refused(path: string, body: unknown, status: number, code: string): Promise<void> {
      const received = sim.commandsReceived;
      const response = await bridge.api("POST", path, body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.error.code, code);
      assert.equal(typeof response.body.error.message, "string");
      // Commands reach the node in order, so one sent after the refused request is the first it sees if the
      // refused one was never published.
      const probe = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { op: "get" });
      assert.equal(probe.status, 200);
      assert.equal(sim.commandsReceived, received + 1, "nothing but the probe reached the node");
    }

    test("a set is answered with the state the node confirmed, stored and logged", async () => {
      const before = await getDevice(bridge, LIGHT);
      const token = bridge.daemon.store.adminTokens.create("kitchen-tablet", Date.now()).token;
      const response = await bridge.api(
        "POST",
        `/api/v1/devices/${LIGHT}/commands`,
        { params: { on: true, brightness: 40 } },
        token,
      );
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.status, "ok");
      assert.equal(response.body.device, LIGHT);
      assert.deepEqual(response.body.state, { ...before.state, on: true, brightness: 40 });
      assert.deepEqual(response.body.state, sim.state("light"), "the answer is what the node confirmed");

      const stored = await getDevice(bridge, LIGHT);
      assert.deepEqual(stored.state, response.body.state);
      assert.ok(stored.state_seq > before.state_seq);

      const [entry] = await commandLog(bridge, LIGHT);
      assert.equal(entry?.id, response.body.command_id);
      assert.equal(entry?.actor, "admin:kitchen-tablet", "the log names the token that asked");
      assert.equal(entry?.op, "set");
      assert.deepEqual(entry?.params, { on: true, brightness: 40 });
      assert.equal(entry?.status, "ok");
      assert.equal(entry?.error_code, null);
      assert.equal(entry?.attempts, 1);
      assert.equal(typeof entry?.latency_ms, "number");
      assert.ok((entry?.latency_ms ?? -1) >= 0 && (entry?.latency_ms ?? Infinity) < timeoutMs);
      assert.deepEqual(entry?.state, response.body.state);
    });

    test("a lost command is retried with the same id and carried out once", async () => {
      const before = await getDevice(bridge, LIGHT);
      const received = sim.commandsReceived;
      const executed = sim.commandsExecuted;
      sim.dropAcks(1);

      const response = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { brightness: 61 } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.state.brightness, 61);
      assert.equal(sim.commandsReceived - received, 2, "the first attempt and its retry");
      assert.equal(sim.commandsExecuted - executed, 1);
      assert.equal((await getDevice(bridge, LIGHT)).state_seq, before.state_seq + 1, "one state change");
      const [entry] = await commandLog(bridge, LIGHT);
      assert.deepEqual([entry?.status, entry?.attempts], ["ok", 2]);
    });

    test("a retry that crosses a slow answer is recognised by the node as a duplicate", async () => {
      const before = await getDevice(bridge, LIGHT);
      const executed = sim.commandsExecuted;
      const received = sim.commandsReceived;
      // The retry goes out at half the deadline, while the node is still busy with the first attempt.
      sim.latencyMs = Math.floor(timeoutMs * 0.67);

      const response = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { brightness: 33 } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.state.brightness, 33);

      // Let the node work through the retry too; it must answer it as a duplicate, not run it again.
      await eventually(() => sim.commandsReceived - received === 2, timeoutMs, "the retry to reach the node");
      sim.latencyMs = 0;
      await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { op: "get" });
      assert.equal(sim.commandsExecuted - executed, 2, "the set once, and the get");
      assert.equal((await getDevice(bridge, LIGHT)).state_seq, before.state_seq + 1, "one state change");
    });

    test("a node that never answers gives 504 timeout at the configured deadline", async () => {
      const before = await getDevice(bridge, LIGHT);
      sim.ignoreCommands = true;
      const received = sim.commandsReceived;
      const startedAt = Date.now();

      const response = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { on: false } });
      const elapsed = Date.now() - startedAt;
      assert.equal(response.status, 504, JSON.stringify(response.body));
      assert.equal(response.body.error.code, "timeout");
      assert.ok(elapsed >= timeoutMs - 50 && elapsed < timeoutMs + 700, `answered after ${elapsed} ms`);
      assert.equal(sim.commandsReceived - received, 2, "sent, then retried once");
      assert.deepEqual((await getDevice(bridge, LIGHT)).state, before.state, "nothing was confirmed");

      const [entry] = await commandLog(bridge, LIGHT);
      assert.deepEqual([entry?.status, entry?.error_code, entry?.attempts], ["error", "timeout", 2]);
    });

    test("out of range is 400 out_of_range and nothing is sent", async () => {
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { brightness: 150 } }, 400, "out_of_range");
      const response = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { ct_k: 2000 } });
      assert.equal(response.body.error.code, "out_of_range", "the node's own narrower range applies");
      assert.equal(response.body.error.param, "ct_k");
    });

    test("a read-only param is 400 read_only", async () => {
      await refused(`/api/v1/devices/${SENSOR}/commands`, { params: { temperature_c: 30 } }, 400, "read_only");
    });

    test("an unknown param is 400 unknown_param", async () => {
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { colour: "red" } }, 400, "unknown_param");
    });

    test("an unknown device is 404 unknown_device", async () => {
      await refused(`/api/v1/devices/${NODE}.heater/commands`, { params: { on: true } }, 404, "unknown_device");
      await refused("/api/v1/devices/nobody.light/commands", { params: { on: true } }, 404, "unknown_device");
      const read = await bridge.api("GET", `/api/v1/devices/${NODE}.heater`);
      assert.equal(read.status, 404);
      assert.equal(read.body.error.code, "unknown_device");
    });

    test("a value of the wrong type is 400 invalid_type", async () => {
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { on: "yes" } }, 400, "invalid_type");
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { brightness: 40.5 } }, 400, "invalid_type");
    });

    test("other invalid requests are refused before reaching the node", async () => {
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: {} }, 400, "empty_command");
      await refused(`/api/v1/devices/${LIGHT}/commands`, { op: "stop" }, 400, "unsupported_op");
      await refused(`/api/v1/devices/${LIGHT}/commands`, { op: "jump" }, 400, "invalid_request");
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { on: true }, extra: 1 }, 400, "invalid_request");
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: [true] }, 400, "invalid_request");
    });

    test("op stop on a cover is confirmed", async () => {
      const moved = await bridge.api("POST", `/api/v1/devices/${COVER}/commands`, { params: { position: 70 } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.state.position, 70);

      const executed = sim.commandsExecuted;
      const response = await bridge.api("POST", `/api/v1/devices/${COVER}/commands`, { op: "stop" });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.state, { position: 70, moving: "stopped" });
      assert.equal(sim.commandsExecuted - executed, 1);
      const [entry] = await commandLog(bridge, COVER);
      assert.deepEqual([entry?.op, entry?.status], ["stop", "ok"]);
    });

    test("malformed JSON is 400 invalid_json", async () => {
      await refused(`/api/v1/devices/${LIGHT}/commands`, '{"params": {"on": tru', 400, "invalid_json");
    });

    test("a body that is not sent as JSON is 415, not mistaken for an empty command", async () => {
      const received = sim.commandsReceived;
      const response = await fetch(`${bridge.httpUrl}/api/v1/devices/${LIGHT}/commands`, {
        method: "POST",
        // fetch sends a string body as text/plain: the way a script that forgot the header calls the API.
        headers: { authorization: `Bearer ${bridge.daemon.store.adminTokens.create("raw", Date.now()).token}` },
        body: JSON.stringify({ params: { on: true } }),
      });
      assert.equal(response.status, 415);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "unsupported_media_type");
      assert.match(body.error.message, /Content-Type: application\/json/);
      assert.equal(sim.commandsReceived, received);
    });

    test("a body over the limit is 413", async () => {
      const padding = "x".repeat(bridge.config.http.bodyLimitBytes + 1);
      await refused(`/api/v1/devices/${LIGHT}/commands`, { params: { on: true }, padding }, 413, "body_too_large");
    });

    test("a request without a valid admin token is 401 with a JSON error", async () => {
      const received = sim.commandsReceived;
      const path = `/api/v1/devices/${LIGHT}/commands`;
      const bare = await fetch(`${bridge.httpUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ params: { on: true } }),
      });
      assert.equal(bare.status, 401);
      assert.match(bare.headers.get("content-type") ?? "", /application\/json/);
      assert.equal(((await bare.json()) as { error: { code: string } }).error.code, "unauthorized");

      for (const token of ["hth_not-a-real-token", "garbage with spaces"]) {
        const response = await bridge.api("POST", path, { params: { on: true } }, token);
        assert.equal(response.status, 401, token);
        assert.equal(response.body.error.code, "unauthorized");
        assert.equal(typeof response.body.error.message, "string");
      }
      const list = await bridge.api("GET", "/api/v1/devices", undefined, "hth_not-a-real-token");
      assert.equal(list.status, 401);
      assert.equal(sim.commandsReceived, received);
    });

    test("an offline node is answered 503 offline at once", async (t) => {
      const { sim: other } = await addAndConnectNode(bridge, "cmd-house-2", { devices: ["light"] });
      t.after(() => other.close());
      await other.close();
      await waitForNode(bridge, other, false);

      const startedAt = Date.now();
      const response = await bridge.api("POST", "/api/v1/devices/cmd-house-2.light/commands", { params: { on: true } });
      const elapsed = Date.now() - startedAt;
      assert.equal(response.status, 503, JSON.stringify(response.body));
      assert.equal(response.body.error.code, "offline");
      assert.ok(elapsed < timeoutMs / 3, `answered after ${elapsed} ms`);
      assert.equal(other.commandsReceived, 0);
      const [entry] = await commandLog(bridge, "cmd-house-2.light");
      assert.deepEqual([entry?.status, entry?.error_code], ["error", "offline"]);
      // The node's device is still listed, with its last known state.
      await waitForDevice(bridge, "cmd-house-2.light", (d) => !d.online && d.state.on === false, "offline, last state");
    });
  });
}
