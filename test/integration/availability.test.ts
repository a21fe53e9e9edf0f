/**
 * Truthful online/offline: a crashed node is offline as soon as the broker fires its will, an unplugged one
 * once its keepalive runs out, a clean shutdown at once; a command waiting on a node that dies fails fast;
 * and a returning node gets the desired values it missed, except for locks and covers.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { deviceTemplate } from "../../src/sim/index.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  commandLog,
  connectNode,
  getDevice,
  getNode,
  StallingProxy,
  sleep,
  waitForDevice,
  waitForNode,
} from "../helpers/integration.ts";

const KEEPALIVE_SECONDS = 2;
/** Brokers drop a client that has been silent for 1.5 × its keepalive. */
const KEEPALIVE_EXPIRY_MS = 1.5 * KEEPALIVE_SECONDS * 1000;
const MARGIN_MS = 1000;
/**
 * Extra delay before a broker acts on an expired keepalive. mosquitto before 2.0.21 (Debian ships 2.0.11) checks
 * keepalives in a periodic sweep, so a silent client is dropped about 5 s after it went quiet even with a 2 s
 * keepalive; aedes runs a timer per client.
 */
const KEEPALIVE_SWEEP_MS = { embedded: 0, mosquitto: 5000 } as const;

for (const kind of BROKER_KINDS) {
  describe(`availability (${kind})`, () => {
    let bridge: TestBridge;

    before(async () => {
      bridge = await TestBridge.start(kind);
    });

    after(async () => {
      await bridge?.stop();
    });

    test("a crashed node is offline as soon as the broker fires its will", async (t) => {
      const { sim } = await addAndConnectNode(bridge, "avl-crash-1", {
        devices: ["light", "sensor"],
        keepaliveSeconds: KEEPALIVE_SECONDS,
      });
      t.after(() => sim.close());

      const killedAt = Date.now();
      sim.kill();
      const devices = await waitForNode(bridge, sim, false, KEEPALIVE_EXPIRY_MS + MARGIN_MS);
      const elapsed = Date.now() - killedAt;
      assert.ok(elapsed <= KEEPALIVE_EXPIRY_MS + MARGIN_MS, `offline after ${elapsed} ms`);
      assert.deepEqual(
        devices.map((d) => [d.id, d.online]),
        [
          ["avl-crash-1.light", false],
          ["avl-crash-1.sensor", false],
        ],
      );
      assert.equal((await getNode(bridge, "avl-crash-1"))?.online, false);
      assert.deepEqual(devices[0]?.state, sim.state("light"), "the last known state is kept");
    });

    test("an unplugged node is offline once its keepalive runs out", async (t) => {
      const credentials = await bridge.addNode("avl-unplug-1");
      const proxy = await StallingProxy.start(bridge.mqttUrl);
      t.after(() => proxy.close());
      const sim = await connectNode(
        bridge,
        credentials,
        { devices: ["switch"], keepaliveSeconds: KEEPALIVE_SECONDS },
        proxy.url,
      );
      t.after(() => sim.close());

      // No FIN reaches the broker: the proxy keeps its side of the connection open and silent.
      proxy.stall();
      const stalledAt = Date.now();
      sim.kill();
      await sleep(200);
      assert.equal((await getDevice(bridge, "avl-unplug-1.switch")).online, true, "nothing tells the broker yet");

      const limit = KEEPALIVE_EXPIRY_MS + KEEPALIVE_SWEEP_MS[kind] + MARGIN_MS;
      await waitForNode(bridge, sim, false, limit);
      const elapsed = Date.now() - stalledAt;
      assert.ok(elapsed <= limit, `offline after ${elapsed} ms`);
    });

    test("a command waiting on a node that crashes fails fast with offline", async (t) => {
      const { sim } = await addAndConnectNode(bridge, "avl-crash-2", { devices: ["light"] });
      t.after(() => sim.close());
      sim.ignoreCommands = true;

      const startedAt = Date.now();
      const pending = bridge.api("POST", "/api/v1/devices/avl-crash-2.light/commands", { params: { on: true } });
      await eventually(() => sim.commandsReceived === 1, 1000, "the command to reach the node");
      sim.kill();
      const response = await pending;
      const elapsed = Date.now() - startedAt;

      assert.equal(response.status, 503, JSON.stringify(response.body));
      assert.equal(response.body.error.code, "offline");
      const timeoutMs = bridge.config.commands.timeoutMs;
      assert.ok(elapsed < timeoutMs / 2, `answered after ${elapsed} ms, deadline ${timeoutMs} ms`);
      const [entry] = await commandLog(bridge, "avl-crash-2.light");
      assert.deepEqual([entry?.status, entry?.error_code], ["error", "offline"]);
    });

    test("a clean shutdown is offline at once, and a returning node is online again", async (t) => {
      const { sim, credentials } = await addAndConnectNode(bridge, "avl-clean-1", { devices: ["light"] });
      t.after(() => sim.close());
      await sim.close();
      await waitForNode(bridge, sim, false, 1000);
      assert.equal((await getNode(bridge, "avl-clean-1"))?.online, false);

      const back = await connectNode(bridge, credentials, { devices: ["light"], initialSeq: sim.lastSeq });
      t.after(() => back.close());
      assert.equal((await getNode(bridge, "avl-clean-1"))?.online, true);
      const response = await bridge.api("POST", "/api/v1/devices/avl-clean-1.light/commands", { params: { on: true } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(back.state("light").on, true);
    });

    test("a node that reboots to its defaults while away still gets what was asked meanwhile", async (t) => {
      const { sim, credentials } = await addAndConnectNode(bridge, "avl-reboot-1", { devices: ["light"] });
      t.after(() => sim.close());
      await sim.close();
      await waitForNode(bridge, sim, false);
      const response = await bridge.api("POST", "/api/v1/devices/avl-reboot-1.light/commands", {
        params: { brightness: 25 },
      });
      assert.equal(response.status, 503);

      // The firmware's defaults differ from the state before the reboot: a different brightness.
      const template = deviceTemplate("light");
      const rebooted = { ...template, initialState: { ...template.initialState, brightness: 100 } };
      const back = await connectNode(bridge, credentials, { devices: [rebooted], initialSeq: sim.lastSeq });
      t.after(() => back.close());
      const light = await waitForDevice(bridge, "avl-reboot-1.light", (d) => d.state.brightness === 25, "replay");
      assert.equal(light.state.brightness, 25);
      assert.equal(back.state("light").brightness, 25);
    });

    test("a returning node gets the light value it missed, but not a lock or cover command", async (t) => {
      const devices = ["light", "lock", "cover"] as const;
      const { sim, credentials } = await addAndConnectNode(bridge, "avl-replay-1", { devices: [...devices] });
      t.after(() => sim.close());
      await sim.close();
      await waitForNode(bridge, sim, false);

      const asked = {
        light: { on: true, brightness: 25 },
        lock: { locked: false },
        cover: { position: 100 },
      };
      for (const [dev, params] of Object.entries(asked)) {
        const response = await bridge.api("POST", `/api/v1/devices/avl-replay-1.${dev}/commands`, { params });
        assert.equal(response.status, 503, `${dev}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, "offline");
      }

      // The node comes back as it went away: light off, door locked, cover closed.
      const back = await connectNode(bridge, credentials, {
        devices: devices.map((type) => deviceTemplate(type)),
        initialSeq: sim.lastSeq,
      });
      t.after(() => back.close());

      const light = await waitForDevice(
        bridge,
        "avl-replay-1.light",
        (d) => d.state.on === true,
        "desired value replayed",
      );
      assert.equal(light.state.brightness, 25);
      assert.deepEqual({ on: back.state("light").on, brightness: back.state("light").brightness }, asked.light);
      const [replay] = await commandLog(bridge, "avl-replay-1.light");
      assert.deepEqual([replay?.actor, replay?.status], ["resync", "ok"]);

      // Every replay is published together, so the lock's and cover's would have arrived with the light's.
      await sleep(200);
      assert.equal(back.commandsReceived, 1, "only the light's value was re-sent");
      assert.equal(back.state("lock").locked, true, "a stale unlock is never replayed");
      assert.equal(back.state("cover").position, 0);
      assert.equal((await getDevice(bridge, "avl-replay-1.lock")).state.locked, true);
      for (const dev of ["lock", "cover"]) {
        const log = await commandLog(bridge, `avl-replay-1.${dev}`);
        assert.deepEqual(
          log.map((entry) => [entry.status, entry.error_code, entry.actor === "resync"]),
          [["error", "offline", false]],
          `${dev}: only the refused command`,
        );
      }
    });
  });
}
