/**
 * A daemon restart on the same data dir: the registry, the last known state, the command log and admin tokens
 * survive; nothing reads online until the broker says so; a node that reconnects is online again and takes
 * commands, whether it was away during the restart or stayed connected through it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { deviceTemplate } from "../../src/sim/index.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  commandLog,
  connectNode,
  getNode,
  listDevices,
  waitForDevice,
  waitForNode,
} from "../helpers/integration.ts";

for (const kind of BROKER_KINDS) {
  describe(`daemon restart (${kind})`, () => {
    let bridge: TestBridge;

    before(async () => {
      bridge = await TestBridge.start(kind);
    });

    after(async () => {
      await bridge?.stop();
    });

    test("registry, state and command log survive; devices are offline until the node reconnects", async (t) => {
      const { sim, credentials } = await addAndConnectNode(bridge, "rst-house-1", { devices: ["light", "sensor"] });
      t.after(() => sim.close());
      const token = bridge.daemon.store.adminTokens.create("restart test", Date.now()).token;
      const set = await bridge.api("POST", "/api/v1/devices/rst-house-1.light/commands", {
        params: { on: true, brightness: 30 },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const before = await listDevices(bridge, "rst-house-1");
      const nodeBefore = await getNode(bridge, "rst-house-1");
      // The node keeps its state across its own reboot, as firmware with NVS does.
      const lightState = sim.state("light");
      const sensorState = sim.state("sensor");
      await sim.close();
      await waitForNode(bridge, sim, false);

      await bridge.restart();

      const after = await listDevices(bridge, "rst-house-1");
      assert.deepEqual(
        after.map((d) => ({ id: d.id, type: d.type, online: d.online, state: d.state, seq: d.state_seq })),
        before.map((d) => ({ id: d.id, type: d.type, online: false, state: d.state, seq: d.state_seq })),
      );
      assert.deepEqual(after[0]?.state, lightState);
      const node = await getNode(bridge, "rst-house-1");
      assert.deepEqual(
        { ...node, online: true, status_changed_at: null, last_seen_at: null },
        { ...nodeBefore, status_changed_at: null, last_seen_at: null },
        "the node's name, firmware and model are kept",
      );
      assert.equal(node?.online, false);
      const [entry] = await commandLog(bridge, "rst-house-1.light");
      assert.deepEqual([entry?.id, entry?.status], [set.body.command_id, "ok"]);
      const withOldToken = await bridge.api("GET", "/api/v1/devices", undefined, token);
      assert.equal(withOldToken.status, 200, "admin tokens are kept");

      const offline = await bridge.api("POST", "/api/v1/devices/rst-house-1.light/commands", { params: { on: false } });
      assert.equal(offline.status, 503);
      assert.equal(offline.body.error.code, "offline");

      const back = await connectNode(bridge, credentials, {
        devices: [
          { ...deviceTemplate("light"), initialState: lightState },
          { ...deviceTemplate("sensor"), initialState: sensorState },
        ],
        initialSeq: sim.lastSeq,
      });
      t.after(() => back.close());
      // The command refused while the node was away is replayed (lights may be), then the node is in step.
      const light = await waitForDevice(
        bridge,
        "rst-house-1.light",
        (d) => d.online && d.state.on === false,
        "replayed",
      );
      assert.equal(light.state.brightness, 30);
      assert.equal(back.state("light").on, false);

      const response = await bridge.api("POST", "/api/v1/devices/rst-house-1.light/commands", {
        params: { brightness: 55 },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.state, { ...lightState, on: false, brightness: 55 });
    });

    test("a node that stays connected through the restart is online again and takes commands", async (t) => {
      const { sim } = await addAndConnectNode(bridge, "rst-house-2", { devices: ["switch"] });
      t.after(() => sim.close());
      const first = await bridge.api("POST", "/api/v1/devices/rst-house-2.switch/commands", { params: { on: true } });
      assert.equal(first.status, 200, JSON.stringify(first.body));

      await bridge.restart();

      // mosquitto kept the node's retained status; the embedded broker restarted and the node reconnected.
      await waitForNode(bridge, sim, true, 5000);
      const response = await bridge.api("POST", "/api/v1/devices/rst-house-2.switch/commands", {
        params: { on: false },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.state, { on: false });
      assert.equal(sim.state("switch").on, false);
    });
  });
}
