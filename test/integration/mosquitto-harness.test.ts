/**
 * The mosquitto test harness against a real broker: logins with password lines from `mosquittoPasswordLine`,
 * the per-node ACL (`<prefix>/%u/#` plus read access to the bridge status), and adding a user with a SIGHUP
 * reload. MQTT 3.1.1 throughout, as the node protocol requires.
 */
import assert from "node:assert/strict";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { after, before, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import mqtt, { type MqttClient } from "mqtt";
import { mosquittoPasswordLine, mosquittoPasswordLineAsync } from "../../src/devices/mosquitto-passwd.ts";
import { Inbox, type Received } from "../helpers/integration.ts";
import { type MosquittoUser, type RunningMosquitto, startMosquitto } from "../helpers/mosquitto.ts";

const PREFIX = "hearth/v1";
/** How long a message the broker should drop is given to show up anyway. */
const DROP_WINDOW_MS = 300;
const DELIVERY_TIMEOUT_MS = 2_000;
/** CONNACK return code mosquitto 2.0 sends for a wrong password, an unknown user and an anonymous client. */
const NOT_AUTHORIZED = 5;

function user(username: string): MosquittoUser {
  return { username, password: randomBytes(16).toString("base64url") };
}

const bridgeUser = user("hearth_bridge");
const nodeA = user("node-a");
const nodeB = user("node-b");

let broker: RunningMosquitto;

before(async () => {
  broker = await startMosquitto({ users: [bridgeUser, nodeA, nodeB] });
});

after(async () => {
  await broker?.stop();
});

interface Credentials {
  username?: string;
  password?: string;
}

function open(credentials: Credentials): MqttClient {
  return mqtt.connect(broker.url, {
    clientId: `${credentials.username ?? "anonymous"}-${randomBytes(3).toString("hex")}`,
    ...credentials,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: DELIVERY_TIMEOUT_MS,
  });
}

async function close(client: MqttClient): Promise<void> {
  await client.endAsync(!client.connected);
}

/** Connects and registers the client to be closed when the test ends. */
function connect(t: TestContext, credentials: Credentials): Promise<MqttClient> {
  const client = open(credentials);
  t.after(() => close(client));
  return new Promise((resolve, reject) => {
    client.once("connect", () => {
      (client.stream as Socket).setNoDelay(true);
      client.off("error", reject);
      resolve(client);
    });
    client.once("error", reject);
  });
}

/** The CONNACK return code of a refused connection; fails the test if the broker accepts it. */
async function refusal(t: TestContext, credentials: Credentials): Promise<number | undefined> {
  const error = await connect(t, credentials).then(
    () => assert.fail(`the broker accepted ${credentials.username ?? "an anonymous client"}`),
    (caught: Error & { code?: number }) => caught,
  );
  return error.code;
}

/** Waits for one exact message on one topic. */
function arrival(inbox: Inbox, topic: string, payload: string): Promise<Received> {
  return inbox.waitFor(
    (m) => m.topic === topic && m.payload === payload,
    `${payload} on ${topic}`,
    DELIVERY_TIMEOUT_MS,
  );
}

test("password lines use mosquitto's $7$ PBKDF2-SHA512 format", async () => {
  const lines = [mosquittoPasswordLine("node-a", "secret"), await mosquittoPasswordLineAsync("node-a", "secret")];
  for (const line of lines) {
    const match = /^node-a:\$7\$101\$([A-Za-z0-9+/]{16})\$([A-Za-z0-9+/]{86}==)$/.exec(line);
    assert.ok(match, line);
    const [, salt = "", hash = ""] = match;
    assert.equal(Buffer.from(salt, "base64").length, 12);
    const expected = pbkdf2Sync("secret", Buffer.from(salt, "base64"), 101, 64, "sha512").toString("base64");
    assert.equal(hash, expected);
  }
  assert.notEqual(lines[0], mosquittoPasswordLine("node-a", "secret"), "every line gets a fresh salt");
  assert.throws(() => mosquittoPasswordLine("node:a", "secret"), /':'/);
  assert.throws(() => mosquittoPasswordLine("node-a\nroot", "secret"), /line break/);
  assert.throws(() => mosquittoPasswordLine("", "secret"), /empty/);
  await assert.rejects(mosquittoPasswordLineAsync("node:a", "secret"), /':'/);
});

test("a generated password line logs in; a wrong password and an anonymous client are refused", async (t) => {
  const client = await connect(t, nodeA);
  assert.equal(client.connected, true);

  assert.equal(await refusal(t, { username: nodeA.username, password: "wrong" }), NOT_AUTHORIZED);
  assert.equal(await refusal(t, {}), NOT_AUTHORIZED);
  assert.equal(await refusal(t, { username: "node-x", password: nodeA.password }), NOT_AUTHORIZED);
});

test("a node publishes in its own subtree and the bridge receives it", async (t) => {
  const bridge = await connect(t, bridgeUser);
  const inbox = new Inbox(bridge);
  await bridge.subscribeAsync(`${PREFIX}/+/status`, { qos: 1 });
  const node = await connect(t, nodeA);

  await node.publishAsync(`${PREFIX}/node-a/status`, '{"online":true}', { qos: 1 });

  const message = await arrival(inbox, `${PREFIX}/node-a/status`, '{"online":true}');
  assert.equal(message.retain, false);
});

test("a publish into another node's subtree is dropped", async (t) => {
  const bridge = await connect(t, bridgeUser);
  const inbox = new Inbox(bridge);
  await bridge.subscribeAsync([`${PREFIX}/node-b/cmd`, `${PREFIX}/node-a/status`], { qos: 1 });
  const node = await connect(t, nodeA);

  // MQTT 3.1.1 has no way to report the denial: mosquitto still sends PUBACK and silently drops the message.
  const sentAt = Date.now();
  await node.publishAsync(`${PREFIX}/node-b/cmd`, "forged", { qos: 1 });
  await node.publishAsync(`${PREFIX}/node-a/status`, "control", { qos: 1 });

  // Messages from one publisher reach a subscriber in order, so the forged one would have arrived first.
  await arrival(inbox, `${PREFIX}/node-a/status`, "control");
  await sleep(Math.max(0, sentAt + DROP_WINDOW_MS - Date.now()));
  assert.deepEqual(inbox.on(`${PREFIX}/node-b/cmd`), []);
});

test("a node reads the retained bridge status but not another node's topics", async (t) => {
  const bridge = await connect(t, bridgeUser);
  const bridgeInbox = new Inbox(bridge);
  await bridge.subscribeAsync(`${PREFIX}/node-b/#`, { qos: 1 });
  await bridge.publishAsync(`${PREFIX}/bridge/status`, '{"online":true}', { qos: 1, retain: true });
  try {
    const nodeClient = await connect(t, nodeA);
    const inbox = new Inbox(nodeClient);
    await nodeClient.subscribeAsync(`${PREFIX}/bridge/status`, { qos: 1 });
    const status = await arrival(inbox, `${PREFIX}/bridge/status`, '{"online":true}');
    assert.equal(status.retain, true);

    // With the file ACL, mosquitto 2.0 grants the subscription and enforces read access per delivered message.
    await nodeClient.subscribeAsync([`${PREFIX}/node-b/#`, `${PREFIX}/node-a/#`], { qos: 1 });
    const other = await connect(t, nodeB);
    const sentAt = Date.now();
    await other.publishAsync(`${PREFIX}/node-b/state`, "private", { qos: 1 });
    // The broker routed node-b's message before its PUBACK, so it would be queued ahead of this control.
    await bridge.publishAsync(`${PREFIX}/node-a/cmd`, "control", { qos: 1 });

    await arrival(bridgeInbox, `${PREFIX}/node-b/state`, "private");
    await arrival(inbox, `${PREFIX}/node-a/cmd`, "control");
    await sleep(Math.max(0, sentAt + DROP_WINDOW_MS - Date.now()));
    const leaked = inbox.messages.filter((message) => message.topic.startsWith(`${PREFIX}/node-b/`));
    assert.deepEqual(leaked, []);
  } finally {
    // Leave no retained status behind for later tests.
    await bridge.publishAsync(`${PREFIX}/bridge/status`, "", { qos: 1, retain: true });
  }
});

test("addUser lets a new user log in without restarting the broker", async (t) => {
  const bridge = await connect(t, bridgeUser);
  const inbox = new Inbox(bridge);
  await bridge.subscribeAsync(`${PREFIX}/+/status`, { qos: 1 });
  const nodeC = user("node-c");
  assert.equal(await refusal(t, nodeC), NOT_AUTHORIZED);

  await broker.addUser(nodeC);

  const client = await connect(t, nodeC);
  await client.publishAsync(`${PREFIX}/node-c/status`, "hello", { qos: 1 });
  await arrival(inbox, `${PREFIX}/node-c/status`, "hello");
  // The reload kept the session that was open before it.
  assert.equal(bridge.connected, true);
  assert.match(broker.logs(), /Reloading config\./);
});

test("stop is idempotent and removes the broker's files", async () => {
  const own = await startMosquitto({ users: [bridgeUser] });
  assert.ok(existsSync(own.dir));
  await Promise.all([own.stop(), own.stop()]);
  await own.stop();
  assert.equal(existsSync(own.dir), false);
  assert.match(own.logs(), /terminating/);
  const refused = await new Promise<string | undefined>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port: own.port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code));
  });
  assert.equal(refused, "ECONNREFUSED");
});
