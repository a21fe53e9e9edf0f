/**
 * Per-node ACL: a node logged in with its own credentials can neither write into another node's topics (forged
 * state or commands) nor read them, but it can read the bridge's retained status. Anonymous clients are refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import type { NodeCredentials } from "../../src/devices/node-registry.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  Cleanup,
  closeRawClient,
  connectRawClient,
  getDevice,
  Inbox,
  PREFIX,
  publishOrDrop,
  refusal,
  waitForDevice,
} from "../helpers/integration.ts";

const NODE_A = "acl-node-a";
const NODE_B = "acl-node-b";
/** CONNACK return code for "not authorised". */
const NOT_AUTHORIZED = 5;
const REFUSED_SUBSCRIPTION = 128;

/** The SUBACK return codes; mqtt.js rejects a subscribe with any refused topic but keeps the packet. */
async function grantedCodes(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics, { qos: 1 })).map((grant) => grant.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: unknown[] } }).packet?.granted;
    if (!granted) throw error;
    return granted.map((grant) => (typeof grant === "number" ? grant : (grant as { qos: number }).qos));
  }
}

for (const kind of BROKER_KINDS) {
  describe(`per-node ACL (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let nodeA: NodeCredentials;
    let simB: SimNode;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind), (b) => b.stop());
      nodeA = await bridge.addNode(NODE_A);
      ({ sim: simB } = await addAndConnectNode(bridge, NODE_B, { devices: ["light"] }));
      cleanup.add(simB, (s) => s.close());
    });

    after(() => cleanup.run());

    /** A raw client logged in as node A, closed when the test ends. */
    async function asNodeA(t: { after: (fn: () => Promise<void>) => void }): Promise<MqttClient> {
      const client = await connectRawClient(bridge.mqttUrl, { username: NODE_A, password: nodeA.password });
      t.after(() => closeRawClient(client));
      return client;
    }

    test("node A cannot change node B's state or send it commands", async (t) => {
      const before = await getDevice(bridge, `${NODE_B}.light`);
      const forged = { on: !before.state.on, brightness: 3, seq: 1_000_000 };

      const outcomes = [];
      for (const [topic, payload] of [
        [`${PREFIX}/${NODE_B}/d/light/state`, JSON.stringify(forged)],
        [`${PREFIX}/${NODE_B}/cmd`, JSON.stringify({ id: "forged-1", op: "set", dev: "light", params: { on: true } })],
        [`${PREFIX}/${NODE_B}/status`, "offline"],
      ] as const) {
        const client = await asNodeA(t);
        outcomes.push(await publishOrDrop(client, topic, payload));
      }
      // mosquitto acknowledges and drops (MQTT 3.1.1 cannot report a denial); the embedded broker disconnects.
      assert.deepEqual(outcomes, Array(3).fill(kind === "embedded" ? "disconnected" : "acked"));

      // Anything the broker had routed would reach the bridge and node B before messages it routes later.
      await simB.press("light", { brightness: 77 });
      const after = await waitForDevice(bridge, `${NODE_B}.light`, (d) => d.state.brightness === 77, "B's own change");
      assert.equal(after.state_seq, before.state_seq + 1, "only B's own report changed the state");
      assert.equal(after.state.on, before.state.on);
      assert.equal(after.online, true, "the forged offline status was dropped");

      const command = await bridge.api("POST", `/api/v1/devices/${NODE_B}.light/commands`, { params: { on: true } });
      assert.equal(command.status, 200);
      assert.equal(simB.commandsReceived, 1, "B only received the bridge's command");
      assert.equal(simB.commandsExecuted, 1);
    });

    test("node A cannot read node B's topics, neither directly nor through #", async (t) => {
      const client = await asNodeA(t);
      const inbox = new Inbox(client);
      const codes = await grantedCodes(client, [`${PREFIX}/${NODE_B}/#`, "#", `${PREFIX}/${NODE_A}/#`]);
      if (kind === "embedded") {
        assert.deepEqual(codes, [REFUSED_SUBSCRIPTION, REFUSED_SUBSCRIPTION, 1]);
      } else {
        // mosquitto 2 grants the subscription and enforces read access on every message it would deliver.
        assert.deepEqual(codes, [1, 1, 1]);
      }

      await simB.press("light", { brightness: 12 });
      await waitForDevice(bridge, `${NODE_B}.light`, (d) => d.state.brightness === 12, "B's change at the bridge");
      // The broker routed B's message before A's own one, and A's queue is in order: a leak would come first.
      await client.publishAsync(`${PREFIX}/${NODE_A}/telemetry`, '{"rssi":-60}', { qos: 1 });
      await inbox.waitFor((m) => m.topic === `${PREFIX}/${NODE_A}/telemetry`, "on A's own telemetry");

      const leaked = inbox.messages.filter((m) => m.topic.startsWith(`${PREFIX}/${NODE_B}/`));
      assert.deepEqual(leaked, [], "neither B's retained config, state and status nor its live state");
    });

    test("node A can read the bridge's retained online status", async (t) => {
      const client = await asNodeA(t);
      const inbox = new Inbox(client);
      const [grant] = await client.subscribeAsync(`${PREFIX}/bridge/status`, { qos: 1 });
      assert.equal(grant?.qos, 1);
      const status = await inbox.waitFor((m) => m.topic === `${PREFIX}/bridge/status`, "on the bridge status");
      assert.deepEqual({ payload: status.payload, retain: status.retain }, { payload: "online", retain: true });

      // Reading is all: a node cannot fake the bridge going away.
      const outcome = await publishOrDrop(client, `${PREFIX}/bridge/status`, "offline");
      assert.equal(outcome, kind === "embedded" ? "disconnected" : "acked");
      const observer = await asNodeA(t);
      const observed = new Inbox(observer);
      await observer.subscribeAsync(`${PREFIX}/bridge/status`, { qos: 1 });
      const retained = await observed.waitFor((m) => m.topic === `${PREFIX}/bridge/status`, "on the bridge status");
      assert.equal(retained.payload, "online");
    });

    test("a node cannot log in under another node's client id and take over its session", async (t) => {
      const { sim: victim } = await addAndConnectNode(bridge, "acl-node-c", { devices: ["switch"] });
      t.after(() => victim.close());
      const claim = { username: NODE_A, password: nodeA.password, clientId: "acl-node-c" };
      if (kind === "embedded") {
        assert.equal(await refusal(bridge.mqttUrl, claim), NOT_AUTHORIZED);
      } else {
        // mosquitto (use_username_as_clientid) accepts the login but under node A's own id.
        const intruder = await connectRawClient(bridge.mqttUrl, claim);
        t.after(() => closeRawClient(intruder));
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      assert.equal(victim.connected, true);
      const device = await bridge.api("GET", "/api/v1/devices/acl-node-c.switch");
      assert.equal(device.body.online, true, "the victim's will did not fire");
      const command = await bridge.api("POST", "/api/v1/devices/acl-node-c.switch/commands", { params: { on: true } });
      assert.equal(command.status, 200, JSON.stringify(command.body));
    });

    test("anonymous clients and borrowed credentials are refused", async () => {
      assert.equal(await refusal(bridge.mqttUrl, {}), NOT_AUTHORIZED);
      const borrowed = await refusal(bridge.mqttUrl, { username: NODE_B, password: nodeA.password });
      assert.ok(borrowed === 4 || borrowed === 5, `refused with ${borrowed}`);
      assert.equal(simB.connected, true, "the real node B kept its session");
    });
  });
}
