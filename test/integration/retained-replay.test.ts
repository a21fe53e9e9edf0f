/**
 * A house of a hundred nodes with ten lights each (1,200 retained messages on the broker) survives a restart
 * of Hearth: every device is online again without any node reconnecting. On mosquitto this needs the link's
 * MQTT 5 Receive Maximum: under MQTT 3.1.1 the broker sends one subscriber at most 1,020 QoS 1 messages at
 * once and drops the rest, and the nodes' `status` messages, replayed last, were the ones lost. A broker that
 * speaks only 3.1.1 still works, with a warning.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { Aedes } from "aedes";
import { deviceTemplate, SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { listDevices, sleep } from "../helpers/integration.ts";

const NODES = 100;
const LIGHTS_PER_NODE = 10;
const DEVICES = NODES * LIGHTS_PER_NODE;

for (const kind of BROKER_KINDS) {
  describe(`a hundred nodes across a restart (${kind})`, () => {
    let bridge: TestBridge;
    const sims: SimNode[] = [];

    before(async () => {
      bridge = await TestBridge.start(kind, { settings: { logLevel: "info" } });
    });

    after(async () => {
      await Promise.all(sims.map((sim) => sim.close()));
      await bridge?.stop();
    });

    /** Polls the API (not too often: a list of 1,000 devices is work for the loop it waits on). */
    const onlineWithin = async (ms: number): Promise<number> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const online = (await listDevices(bridge)).filter((d) => d.online).length;
        if (online === DEVICES || Date.now() > deadline) return online;
        await sleep(250);
      }
    };

    test("all 1,000 devices are online again after Hearth restarts, with every node staying connected", async () => {
      const ids = Array.from({ length: NODES }, (_, n) => `many-${String(n).padStart(3, "0")}`);
      const credentials = await bridge.addNodes(ids);
      const lights = Array.from({ length: LIGHTS_PER_NODE }, (_, i) => deviceTemplate("light", `light${i}`));
      for (const c of credentials) {
        sims.push(
          await SimNode.start({ url: bridge.mqttUrl, nodeId: c.node_id, password: c.password, devices: lights }),
        );
      }
      assert.equal(await onlineWithin(20_000), DEVICES, "every device online before the restart");

      await bridge.restart();

      const online = await onlineWithin(20_000);
      assert.equal(online, DEVICES, `${online} of ${DEVICES} devices online 20 s after the restart`);
      if (bridge.mosquitto) {
        assert.doesNotMatch(bridge.mosquitto.logs(), /messages are being dropped/, "the broker dropped nothing");
      }
      assert.equal(
        bridge.logs.find((l) => l.level === 40 && /MQTT 5/.test(String(l.msg))),
        undefined,
      );
    });
  });
}

describe("an external broker that speaks only MQTT 3.1.1", () => {
  test("the link falls back to 3.1.1, says so once, and carries a node's messages", async (t) => {
    // aedes, run here as someone's own broker: it answers an MQTT 5 CONNECT with "unacceptable protocol version".
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const stopped: Array<() => Promise<unknown>> = [];
    t.after(async () => {
      // The node, then Hearth, then their broker.
      for (const stop of stopped.reverse()) await stop();
    });
    stopped.push(async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as { port: number };
    const url = `mqtt://127.0.0.1:${port}`;
    const bridge = await TestBridge.start("embedded", {
      settings: { "mqtt.url": url, "mqtt.username": "hearth_bridge", "mqtt.password": "a-password-for-this-test" },
    });
    stopped.push(() => bridge.stop());
    const warnings = bridge.logs.lines.filter((l) => l.level === 40 && /does not speak MQTT 5/.test(String(l.msg)));
    assert.equal(warnings.length, 1, bridge.logs.text());
    assert.equal(bridge.daemon.link.connected, true);

    const [credentials] = await bridge.addNodes(["old-broker-1"]);
    assert.ok(credentials);
    const sim = await SimNode.start({
      url,
      nodeId: credentials.node_id,
      password: credentials.password,
      devices: ["light"],
    });
    stopped.push(() => sim.close());
    await eventually(async () => {
      const devices = await listDevices(bridge, "old-broker-1");
      return devices.length > 0 && devices.every((d) => d.online);
    });
    const set = await bridge.api("POST", "/api/v1/devices/old-broker-1.light/commands", {
      params: { on: true },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  });
});
