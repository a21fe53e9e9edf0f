import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { Aedes, type Client } from "aedes";
import mqtt, { type MqttClient } from "mqtt";
import {
  type CommandResponse,
  CommandResponseSchema,
  LIMITS,
  NodeConfigSchema,
  StatePayloadSchema,
} from "../../src/devices/protocol.ts";
import { DEVICE_TYPES, filterReportedState, resolveDeclaration } from "../../src/model/index.ts";
import { deviceTemplate, SimFleet, SimNode, type SimNodeOptions } from "../../src/sim/index.ts";

const PREFIX = "hearth/v1";

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

/** A raw MQTT client playing the bridge: records everything under the prefix and sends commands. */
class FakeBridge {
  readonly messages: Seen[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
      for (const wake of this.waiters) wake();
    });
  }

  /** The first message from index `from` on that matches, waiting for it if it has not arrived yet. */
  waitFor(predicate: (m: Seen) => boolean, from = 0, timeoutMs = 2000): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.slice(from).find(predicate);
        if (!found) return false;
        finish();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error("timed out waiting for a message"));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      const wake = () => void check();
      this.waiters.add(wake);
      check();
    });
  }

  async command(nodeId: string, payload: unknown, raw = false): Promise<CommandResponse> {
    const from = this.messages.length;
    const body = raw ? String(payload) : JSON.stringify(payload);
    const id = !raw && typeof payload === "object" && payload !== null && "id" in payload ? payload.id : undefined;
    await this.client.publishAsync(`${PREFIX}/${nodeId}/cmd`, body, { qos: 1 });
    const message = await this.waitFor(
      (m) =>
        m.topic === `${PREFIX}/${nodeId}/cmd/res` && (id === undefined || JSON.parse(m.payload).id === (id ?? null)),
      from,
    );
    return CommandResponseSchema.parse(JSON.parse(message.payload));
  }

  /** Resolves true if nothing matching arrives within `ms`. */
  async silentFor(predicate: (m: Seen) => boolean, ms: number): Promise<boolean> {
    const from = this.messages.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return !this.messages.slice(from).some(predicate);
  }
}

interface Harness {
  url: string;
  broker: Aedes;
  bridge: FakeBridge;
  /** What nodes sent, as the broker received it (the only place the original retain flag is visible). */
  fromNodes: Array<Seen & { clientId: string }>;
  startNode(options: Partial<SimNodeOptions> & { nodeId: string }): Promise<SimNode>;
  /** The retained message on a topic, as a client subscribing now would get it. */
  retained(topic: string): Promise<string | undefined>;
  cleanupLater(fn: () => unknown): void;
}

async function harness(t: TestContext): Promise<Harness> {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const cleanupLater = (fn: () => unknown) => void cleanups.push(fn);

  const broker = await Aedes.createBroker();
  // Without TCP_NODELAY on both ends every round trip costs a delayed-ACK wait (about 40 ms).
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanupLater(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fromNodes: Harness["fromNodes"] = [];
  broker.on("publish", (packet, client) => {
    if (!client || client.id === "fake-bridge" || packet.topic.startsWith("$SYS")) return;
    fromNodes.push({
      topic: packet.topic,
      payload: packet.payload.toString(),
      retain: packet.retain,
      qos: packet.qos,
      clientId: client.id,
    });
  });

  const client = await mqtt.connectAsync(url, { clientId: "fake-bridge", protocolVersion: 4, reconnectPeriod: 0 });
  (client.stream as net.Socket).setNoDelay(true);
  cleanupLater(() => client.endAsync());
  await client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
  const bridge = new FakeBridge(client);

  return {
    url,
    broker,
    bridge,
    fromNodes,
    cleanupLater,
    async startNode(options) {
      const node = await SimNode.start({ url, devices: ["light"], ...options });
      cleanupLater(() => node.close());
      // start() resolves on the PUBACK of `online`, which can come before the broker has forwarded it.
      const online = (m: Seen) => m.topic === `${PREFIX}/${options.nodeId}/status` && m.payload === "online";
      await bridge.waitFor(online);
      await waitUntil(() => fromNodes.some(online));
      return node;
    },
    async retained(topic) {
      const probe = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
      try {
        const got = new Promise<string | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), 300);
          probe.on("message", (_topic, payload, packet) => {
            if (!packet.retain) return;
            clearTimeout(timer);
            resolve(payload.toString());
          });
        });
        await probe.subscribeAsync(topic, { qos: 1 });
        return await got;
      } finally {
        await probe.endAsync();
      }
    },
  };
}

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const statusOf = (nodeId: string) => (m: Seen) => m.topic === `${PREFIX}/${nodeId}/status`;

test("every template resolves against the model and its initial state matches its declaration", () => {
  for (const type of DEVICE_TYPES) {
    const template = deviceTemplate(type);
    const definition = resolveDeclaration(template.declaration);
    assert.equal(definition.devId, type);
    const { accepted, rejected } = filterReportedState(definition, template.initialState);
    assert.deepEqual(rejected, [], `${type} initial state has invalid params`);
    assert.deepEqual(Object.keys(accepted).sort(), definition.params.map((p) => p.id).sort());
  }
});

test("a node announces config, then every state, then online, all retained with QoS 1", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-a", devices: [...DEVICE_TYPES] });
  assert.equal(node.connected, true);

  const sent = h.fromNodes.filter((m) => m.clientId === "node-a");
  assert.deepEqual(
    sent.map((m) => m.topic.slice(`${PREFIX}/node-a/`.length)),
    ["config", ...DEVICE_TYPES.map((type) => `d/${type}/state`), "status"],
  );
  for (const message of sent) {
    assert.equal(message.retain, true, `${message.topic} is retained`);
    assert.equal(message.qos, 1, `${message.topic} is QoS 1`);
  }
  assert.equal(sent.at(-1)?.payload, "online");

  const config = NodeConfigSchema.parse(JSON.parse(sent[0]?.payload ?? ""));
  assert.equal(config.node_id, "node-a");
  assert.equal(config.proto, 1);
  assert.match(config.cfg_hash ?? "", /^[0-9a-f]{8}$/);
  assert.deepEqual(
    config.devices.map((d) => d.id),
    [...DEVICE_TYPES],
  );
  assert.ok(Buffer.byteLength(sent[0]?.payload ?? "") <= LIMITS.configBytes);

  const seqs = sent.slice(1, -1).map((m) => StatePayloadSchema.parse(JSON.parse(m.payload)).seq ?? -1);
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.equal(new Set(seqs).size, seqs.length, "seq increases with every state publish");
  assert.deepEqual(StatePayloadSchema.parse(JSON.parse(sent[1]?.payload ?? "")).values, node.state("switch"));

  assert.equal(await h.retained(`${PREFIX}/node-a/status`), "online");
  assert.ok(await h.retained(`${PREFIX}/node-a/d/light/state`));
});

test("set round trip: cmd/res carries the confirmed full state and the retained state follows", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-b" });
  const before = h.fromNodes.length;

  const response = await h.bridge.command("node-b", {
    id: "c1",
    op: "set",
    dev: "light",
    params: { on: true, brightness: 40 },
  });
  assert.equal(response.status, "ok");
  assert.equal(response.id, "c1");
  assert.equal(response.dev, "light");
  assert.deepEqual(response.state, { on: true, brightness: 40, ct_k: 3000, hue: 30, sat: 50 });
  assert.deepEqual(node.state("light"), response.state);

  await waitUntil(() => h.fromNodes.length >= before + 2);
  const sent = h.fromNodes.slice(before);
  assert.deepEqual(
    sent.map((m) => [m.topic, m.retain, m.qos]),
    [
      [`${PREFIX}/node-b/d/light/state`, true, 1],
      [`${PREFIX}/node-b/cmd/res`, false, 1],
    ],
  );
  const state = StatePayloadSchema.parse(JSON.parse(sent[0]?.payload ?? ""));
  assert.equal(state.seq, response.seq);
  assert.deepEqual(state.values, response.state);
  const retained = StatePayloadSchema.parse(JSON.parse((await h.retained(`${PREFIX}/node-b/d/light/state`)) ?? ""));
  assert.equal(retained.values.brightness, 40);
});

test("a repeated command id is answered duplicate with the current state and not executed again", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-c" });
  const first = await h.bridge.command("node-c", { id: "d1", op: "set", dev: "light", params: { brightness: 10 } });
  assert.equal(first.status, "ok");
  const executed = node.commandsExecuted;
  const statesBefore = h.fromNodes.filter((m) => m.topic.endsWith("/state")).length;

  const again = await h.bridge.command("node-c", { id: "d1", op: "set", dev: "light", params: { brightness: 90 } });
  assert.equal(again.status, "duplicate");
  assert.equal(again.state?.brightness, 10);
  assert.equal(again.seq, first.seq);
  assert.equal(node.state("light").brightness, 10);
  assert.equal(node.commandsExecuted, executed);
  assert.equal(h.fromNodes.filter((m) => m.topic.endsWith("/state")).length, statesBefore);
});

test("the dedupe window holds the last 8 ids", async (t) => {
  const h = await harness(t);
  await h.startNode({ nodeId: "node-w" });
  for (let i = 0; i <= LIMITS.dedupeWindow; i++) {
    const response = await h.bridge.command("node-w", { id: `w${i}`, op: "get", dev: "light" });
    assert.equal(response.status, "ok");
  }
  assert.equal((await h.bridge.command("node-w", { id: "w1", op: "get", dev: "light" })).status, "duplicate");
  assert.equal((await h.bridge.command("node-w", { id: "w0", op: "get", dev: "light" })).status, "ok");
});

test("rejected commands get the protocol's error statuses", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-d", devices: ["light", "lock"] });
  const send = (payload: object) => h.bridge.command("node-d", payload);

  const outOfRange = await send({ id: "e1", op: "set", dev: "light", params: { brightness: 150 } });
  assert.equal(outOfRange.status, "out_of_range");
  assert.match(outOfRange.msg ?? "", /brightness/);

  assert.equal(
    (await send({ id: "e2", op: "set", dev: "lock", params: { lock_state: "unlocked" } })).status,
    "read_only",
  );
  assert.equal((await send({ id: "e3", op: "set", dev: "garage", params: { on: true } })).status, "unknown_device");
  assert.equal((await send({ id: "e4", op: "set", dev: "light", params: { volume: 3 } })).status, "unknown_param");
  assert.equal((await send({ id: "e5", op: "set", dev: "light", params: { on: "yes" } })).status, "bad_request");
  assert.equal((await send({ id: "e6", op: "set", dev: "light", params: {} })).status, "bad_request");
  assert.equal((await send({ id: "e7", op: "stop", dev: "light" })).status, "bad_request");
  assert.equal((await send({ id: "e8", op: "set", dev: "light", params: { on: true }, exp: 1000 })).status, "expired");

  const notJson = await h.bridge.command("node-d", "{not json", true);
  assert.deepEqual([notJson.id, notJson.status], [null, "bad_request"]);
  const badOp = await send({ id: "e9", op: "explode", dev: "light" });
  assert.deepEqual([badOp.id, badOp.status], ["e9", "bad_request"]);

  assert.equal(node.commandsExecuted, 0);
  assert.equal(node.state("light").brightness, 80);
  // A rejected id is not remembered: once fixed, the same id is carried out.
  assert.equal((await send({ id: "e1", op: "set", dev: "light", params: { brightness: 50 } })).status, "ok");
});

test("a lock reports its bolt, a cover arrives at once and stops, stop and identify answer ok", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-e", devices: ["lock", "cover", "light"] });
  const unlocked = await h.bridge.command("node-e", { id: "l1", op: "set", dev: "lock", params: { locked: false } });
  assert.deepEqual(unlocked.state, { locked: false, lock_state: "unlocked" });

  await node.press("cover", { moving: "opening" });
  const moved = await h.bridge.command("node-e", { id: "v1", op: "set", dev: "cover", params: { position: 60 } });
  assert.deepEqual(moved.state, { position: 60, moving: "stopped" });

  await node.press("cover", { moving: "closing" });
  const stopped = await h.bridge.command("node-e", { id: "v2", op: "stop", dev: "cover" });
  assert.equal(stopped.status, "ok");
  assert.equal(stopped.state?.moving, "stopped");
  assert.equal((await h.bridge.command("node-e", { id: "i1", op: "identify", dev: "light" })).status, "ok");
});

test("get re-publishes the retained state with a new seq", async (t) => {
  const h = await harness(t);
  await h.startNode({ nodeId: "node-g" });
  const from = h.bridge.messages.length;
  const response = await h.bridge.command("node-g", { id: "g1", op: "get", dev: "light" });
  assert.equal(response.status, "ok");
  const state = await h.bridge.waitFor((m) => m.topic === `${PREFIX}/node-g/d/light/state`, from);
  assert.equal(StatePayloadSchema.parse(JSON.parse(state.payload)).seq, response.seq);
});

test("dropAcks(1) swallows one command; the retry with the same id is answered", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-f" });
  node.dropAcks(1);
  const command = { id: "r1", op: "set", dev: "light", params: { on: true } };
  await h.bridge.client.publishAsync(`${PREFIX}/node-f/cmd`, JSON.stringify(command), { qos: 1 });
  assert.equal(await h.bridge.silentFor((m) => m.topic.endsWith("/cmd/res"), 200), true);
  assert.equal(node.state("light").on, false, "a dropped command is not executed");

  const retry = await h.bridge.command("node-f", command);
  assert.equal(retry.status, "ok");
  assert.equal(retry.state?.on, true);
  assert.equal(node.commandsReceived, 2);
  assert.equal(node.commandsExecuted, 1);
});

test("ignoreCommands never answers and latencyMs delays the answer", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-h", latencyMs: 120 });
  const started = Date.now();
  assert.equal((await h.bridge.command("node-h", { id: "t1", op: "get", dev: "light" })).status, "ok");
  assert.ok(Date.now() - started >= 100, "the answer waited for the latency");

  node.latencyMs = 0;
  node.ignoreCommands = true;
  await h.bridge.client.publishAsync(`${PREFIX}/node-h/cmd`, JSON.stringify({ id: "t2", op: "get", dev: "light" }));
  assert.equal(await h.bridge.silentFor((m) => m.topic.endsWith("/cmd/res"), 200), true);
  assert.equal(node.commandsReceived, 2);
});

test("press publishes a physical change as retained state", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-p", devices: ["sensor"] });
  const from = h.bridge.messages.length;
  await node.press("sensor", { motion: true, temperature_c: 23.5 });
  const message = await h.bridge.waitFor((m) => m.topic === `${PREFIX}/node-p/d/sensor/state`, from);
  const state = StatePayloadSchema.parse(JSON.parse(message.payload));
  assert.equal(state.values.motion, true);
  assert.equal(state.values.temperature_c, 23.5);
  await assert.rejects(node.press("sensor", { motion: "yes" }));
  await assert.rejects(node.press("sensor", { volume: 1 }));
});

test("sensor drift publishes new readings until the node is closed", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-s", devices: ["sensor", "light"], sensorIntervalMs: 20 });
  const sensorStates = () => h.fromNodes.filter((m) => m.topic === `${PREFIX}/node-s/d/sensor/state`);
  const from = h.bridge.messages.length;
  const isSensorState = (m: Seen) => m.topic === `${PREFIX}/node-s/d/sensor/state`;
  const first = await h.bridge.waitFor(isSensorState, from);
  await h.bridge.waitFor((m) => isSensorState(m) && m !== first, from);
  const reading = StatePayloadSchema.parse(JSON.parse(sensorStates().at(-1)?.payload ?? "")).values;
  assert.ok(Math.abs((reading.temperature_c as number) - 21.5) < 5);
  assert.equal(h.fromNodes.filter((m) => m.topic === `${PREFIX}/node-s/d/light/state`).length, 1, "only sensors drift");

  await node.close();
  const afterClose = sensorStates().length;
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(sensorStates().length, afterClose);
});

test("kill() drops the connection and the broker publishes the retained offline will", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-k" });
  const from = h.bridge.messages.length;
  node.kill();
  const will = await h.bridge.waitFor(statusOf("node-k"), from);
  assert.equal(will.payload, "offline");
  assert.equal(node.connected, false);
  // The will, not the node, published it.
  assert.equal(
    h.fromNodes.some((m) => m.clientId === "node-k" && m.topic.endsWith("/status") && m.payload === "offline"),
    false,
  );
  assert.equal(await h.retained(`${PREFIX}/node-k/status`), "offline");
  node.kill();
  await node.close();
});

test("close() publishes offline itself and disconnects cleanly", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-q" });
  await node.close();
  await node.close();
  await waitUntil(() => h.fromNodes.some((m) => m.clientId === "node-q" && m.payload === "offline"));
  const offline = h.fromNodes.filter((m) => m.clientId === "node-q" && m.topic.endsWith("/status")).at(-1);
  assert.deepEqual([offline?.payload, offline?.retain], ["offline", true]);
  assert.equal(await h.retained(`${PREFIX}/node-q/status`), "offline");
});

test("bridge online makes the node re-publish config, states and online, in that order", async (t) => {
  const h = await harness(t);
  await h.startNode({ nodeId: "node-r", devices: ["light", "switch"] });
  const firstSeq = h.fromNodes.filter((m) => m.topic.endsWith("/state")).length;
  const from = h.fromNodes.length;
  await h.bridge.client.publishAsync(`${PREFIX}/bridge/status`, "online", { qos: 1, retain: true });
  await h.bridge.waitFor((m) => statusOf("node-r")(m) && m.payload === "online", h.bridge.messages.length - 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const again = h.fromNodes.slice(from).filter((m) => m.clientId === "node-r");
  assert.deepEqual(
    again.map((m) => m.topic.slice(`${PREFIX}/node-r/`.length)),
    ["config", "d/light/state", "d/switch/state", "status"],
  );
  assert.ok(again.every((m) => m.retain));
  const seq = StatePayloadSchema.parse(JSON.parse(again[1]?.payload ?? "")).seq ?? 0;
  assert.ok(seq > firstSeq, "republished states carry new seqs");
});

test("the retained bridge online seen on subscribe does not cause a second announcement", async (t) => {
  const h = await harness(t);
  await h.bridge.client.publishAsync(`${PREFIX}/bridge/status`, "online", { qos: 1, retain: true });
  await h.startNode({ nodeId: "node-t" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(h.fromNodes.filter((m) => m.clientId === "node-t" && m.topic.endsWith("/config")).length, 1);
});

test("after the broker drops it, the node reconnects and announces itself again", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-v", reconnectPeriodMs: 20 });
  const from = h.bridge.messages.length;
  // `clients` is aedes' live client table; it is missing from the type declarations.
  const clients = (h.broker as unknown as { clients: Record<string, Client> }).clients;
  clients["node-v"]?.close();
  await h.bridge.waitFor((m) => statusOf("node-v")(m) && m.payload === "offline", from);
  await h.bridge.waitFor((m) => m.topic === `${PREFIX}/node-v/config`, from);
  await h.bridge.waitFor((m) => statusOf("node-v")(m) && m.payload === "online", from);
  assert.equal(node.connected, true);
  assert.equal((await h.bridge.command("node-v", { id: "n1", op: "get", dev: "light" })).status, "ok");
});

test("disconnectEveryMs drops the connection on its own; the will fires and the node comes back", async (t) => {
  const h = await harness(t);
  const from = h.bridge.messages.length;
  const node = await h.startNode({ nodeId: "node-w", reconnectPeriodMs: 20, disconnectEveryMs: 300 });
  await h.bridge.waitFor((m) => statusOf("node-w")(m) && m.payload === "offline", from);
  const afterDrop = h.bridge.messages.length;
  await h.bridge.waitFor((m) => statusOf("node-w")(m) && m.payload === "online", afterDrop);
  await node.close();
  const closedAt = h.bridge.messages.length;
  await new Promise((resolve) => setTimeout(resolve, 450));
  const later = h.bridge.messages.slice(closedAt).filter((m) => statusOf("node-w")(m) && m.payload === "online");
  assert.equal(later.length, 0, "a closed node stops flapping");
});

test("reboot answers accepted, goes offline and comes back online", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-u", rebootDelayMs: 20 });
  const from = h.bridge.messages.length;
  const response = await h.bridge.command("node-u", { id: "b1", op: "reboot" });
  assert.equal(response.status, "accepted");
  await h.bridge.waitFor((m) => statusOf("node-u")(m) && m.payload === "offline", from);
  await h.bridge.waitFor((m) => statusOf("node-u")(m) && m.payload === "online", from);
  assert.equal(node.connected, true);
  assert.equal((await h.bridge.command("node-u", { id: "b2", op: "get", dev: "light" })).status, "ok");
});

test("publishRaw sends whatever a test needs", async (t) => {
  const h = await harness(t);
  const node = await h.startNode({ nodeId: "node-x" });
  await node.publishRaw(`${PREFIX}/node-x/d/light/state`, "{garbage", { retain: true, qos: 1 });
  await waitUntil(() => h.fromNodes.some((m) => m.payload === "{garbage"));
  const raw = h.fromNodes.at(-1);
  assert.deepEqual([raw?.payload, raw?.retain, raw?.qos], ["{garbage", true, 1]);
});

test("a fleet starts every node with the same devices and stops them all cleanly", async (t) => {
  const h = await harness(t);
  const nodes = Array.from({ length: 5 }, (_, i) => ({ nodeId: `fleet-${i}` }));
  const fleet = await SimFleet.start({ url: h.url, nodes, devices: ["switch", "sensor"], concurrency: 2 });
  h.cleanupLater(() => fleet.stop());
  assert.equal(fleet.nodes.length, 5);
  assert.deepEqual(fleet.node("fleet-3")?.deviceIds, ["switch", "sensor"]);
  for (const { nodeId } of nodes) assert.equal(await h.retained(`${PREFIX}/${nodeId}/status`), "online");
  await fleet.stop();
  for (const { nodeId } of nodes) assert.equal(await h.retained(`${PREFIX}/${nodeId}/status`), "offline");
});

test("a fleet that cannot start one node closes the others and fails", async (t) => {
  const h = await harness(t);
  const nodes = [{ nodeId: "fleet-ok" }, { nodeId: "Bad Id" }];
  await assert.rejects(SimFleet.start({ url: h.url, nodes, devices: ["switch"], concurrency: 1 }), /invalid node id/);
  assert.equal(await h.retained(`${PREFIX}/fleet-ok/status`), "offline");
});
