/**
 * Node registration as a user sees it: a registered node that connects and announces its devices is listed
 * by the admin API with its devices' types, state and availability; a changed firmware config updates the
 * registry; and nothing that is not a registered node with its own password gets onto the broker.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SIM_FIRMWARE_VERSION, SIM_HARDWARE_MODEL, SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, connectNode, getNode, listDevices, refusal, waitForNode } from "../helpers/integration.ts";

/** CONNACK return codes: 4 bad user name or password, 5 not authorised. */
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

for (const kind of BROKER_KINDS) {
  describe(`node registration (${kind})`, () => {
    let bridge: TestBridge;

    before(async () => {
      bridge = await TestBridge.start(kind);
    });

    after(async () => {
      await bridge?.stop();
    });

    test("a node announcing a light and a sensor is listed with type, state and online", async (t) => {
      const { sim } = await addAndConnectNode(bridge, "reg-house-1", { devices: ["light", "sensor"], name: "Hallway" });
      t.after(() => sim.close());

      const devices = await listDevices(bridge, "reg-house-1");
      assert.deepEqual(
        devices.map((d) => ({ id: d.id, dev_id: d.dev_id, type: d.type, online: d.online, state: d.state })),
        [
          { id: "reg-house-1.light", dev_id: "light", type: "light", online: true, state: sim.state("light") },
          { id: "reg-house-1.sensor", dev_id: "sensor", type: "sensor", online: true, state: sim.state("sensor") },
        ],
      );
      const light = devices[0];
      assert.equal(light?.name, "Sim light");
      assert.deepEqual(
        light?.params.map((p) => p.id),
        ["on", "brightness", "ct_k", "hue", "sat"],
      );
      assert.ok(
        devices[1]?.params.every((p) => p.rw === "r"),
        "every sensor param is read-only",
      );

      const node = await getNode(bridge, "reg-house-1");
      assert.deepEqual(
        { name: node?.name, online: node?.online, fw: node?.fw_version, hw: node?.hw_model },
        { name: "Hallway", online: true, fw: SIM_FIRMWARE_VERSION, hw: SIM_HARDWARE_MODEL },
      );
    });

    test("a node whose config changes updates the registry", async (t) => {
      const { sim: first, credentials } = await addAndConnectNode(bridge, "reg-house-2", {
        devices: ["light", "sensor"],
      });
      t.after(() => first.close());
      await first.close();
      await waitForNode(bridge, first, false);

      // The same board flashed with firmware that drops the sensor and adds a switch; it keeps its seq counter.
      const second = await connectNode(bridge, credentials, {
        devices: ["light", "switch"],
        initialSeq: first.lastSeq,
      });
      t.after(() => second.close());

      const devices = await listDevices(bridge, "reg-house-2");
      assert.deepEqual(
        devices.map((d) => [d.id, d.type, d.online]),
        [
          ["reg-house-2.light", "light", true],
          ["reg-house-2.switch", "switch", true],
        ],
      );
      assert.deepEqual(devices[1]?.state, { on: false });

      const removed = await bridge.api("GET", "/api/v1/devices/reg-house-2.sensor");
      assert.equal(removed.status, 404);
      assert.equal(removed.body.error.code, "unknown_device");
      const command = await bridge.api("POST", "/api/v1/devices/reg-house-2.sensor/commands", { op: "get" });
      assert.equal(command.status, 404, "a removed device takes no commands");
      assert.equal(second.commandsReceived, 0);

      const added = await bridge.api("POST", "/api/v1/devices/reg-house-2.switch/commands", { params: { on: true } });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.equal(added.body.state.on, true);
    });

    test("wrong password, unknown node and anonymous clients cannot connect", async () => {
      const credentials = await bridge.addNode("reg-house-3");
      const url = bridge.mqttUrl;

      const codes = {
        wrongPassword: await refusal(url, { username: "reg-house-3", password: `${credentials.password}x` }),
        noPassword: await refusal(url, { username: "reg-house-3" }),
        unknownNode: await refusal(url, { username: "reg-ghost-9", password: credentials.password }),
        anonymous: await refusal(url, {}),
      };
      if (kind === "embedded") {
        // Unknown node and wrong password look the same to the client.
        assert.deepEqual(codes, {
          wrongPassword: BAD_CREDENTIALS,
          noPassword: NOT_AUTHORIZED,
          unknownNode: BAD_CREDENTIALS,
          anonymous: NOT_AUTHORIZED,
        });
        // The client id is the node id: a registered node cannot log in under another id.
        const otherId = await refusal(url, { username: "reg-house-3", password: credentials.password, clientId: "x" });
        assert.equal(otherId, NOT_AUTHORIZED);
      } else {
        for (const [what, code] of Object.entries(codes)) {
          assert.ok(code === BAD_CREDENTIALS || code === NOT_AUTHORIZED, `${what} refused with ${code}`);
        }
      }

      // A simulated node with the wrong password does not start, and the registry learns nothing from it.
      await assert.rejects(
        SimNode.start({ url, nodeId: "reg-house-3", password: "wrong", devices: ["light"], connectTimeoutMs: 2000 }),
        /refused/,
      );
      assert.deepEqual(await listDevices(bridge, "reg-house-3"), []);
      assert.equal((await getNode(bridge, "reg-house-3"))?.online, false);

      // The right credentials still work after the refusals.
      const sim = await connectNode(bridge, credentials, { devices: ["switch"] });
      await sim.close();
    });
  });
}
