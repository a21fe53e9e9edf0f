/**
 * Shared pieces of the integration suites: typed views of the admin API, simulated nodes that are registered
 * and waited for the way a user would (until the API lists them online), raw MQTT clients for what a
 * misbehaving node does, and a TCP proxy that can go silent to imitate an unplugged node.
 */
import { randomBytes } from "node:crypto";
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import type { NodeCredentials } from "../../src/devices/node-registry.ts";
import { SimNode, type SimNodeOptions } from "../../src/sim/index.ts";
import { eventually, type TestBridge } from "./bridge.ts";

export const PREFIX = "hearth/v1";

export interface DeviceView {
  id: string;
  node_id: string;
  dev_id: string;
  type: string;
  name: string | null;
  online: boolean;
  state: Record<string, unknown>;
  state_seq: number;
  params: Array<{ id: string; type: string; rw: string }>;
}

export interface NodeView {
  id: string;
  name: string | null;
  online: boolean;
  fw_version: string | null;
  hw_model: string | null;
}

export interface CommandLogView {
  id: string;
  device: string;
  actor: string;
  op: string;
  params: Record<string, unknown>;
  status: string;
  error_code: string | null;
  state: Record<string, unknown> | null;
  attempts: number;
  latency_ms: number | null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs registered close functions in reverse order; every one runs even if an earlier one fails. */
export class Cleanup {
  private readonly tasks: Array<() => unknown> = [];

  add<T>(resource: T, close: (resource: T) => unknown): T {
    this.tasks.push(() => close(resource));
    return resource;
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.tasks.length > 0) {
      const task = this.tasks.pop() as () => unknown;
      try {
        await task();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

export async function listDevices(bridge: TestBridge, nodeId?: string): Promise<DeviceView[]> {
  const response = await bridge.api("GET", "/api/v1/devices");
  if (response.status !== 200) throw new Error(`GET /api/v1/devices answered ${response.status}`);
  const devices = response.body as DeviceView[];
  return nodeId === undefined ? devices : devices.filter((device) => device.node_id === nodeId);
}

export async function getDevice(bridge: TestBridge, id: string): Promise<DeviceView> {
  const response = await bridge.api("GET", `/api/v1/devices/${id}`);
  if (response.status !== 200) throw new Error(`GET /api/v1/devices/${id} answered ${response.status}`);
  return response.body as DeviceView;
}

export async function getNode(bridge: TestBridge, nodeId: string): Promise<NodeView | undefined> {
  const response = await bridge.api("GET", "/api/v1/nodes");
  return (response.body as NodeView[]).find((node) => node.id === nodeId);
}

/** The newest command log entries of one device, newest first. */
export async function commandLog(bridge: TestBridge, deviceId: string): Promise<CommandLogView[]> {
  const response = await bridge.api("GET", `/api/v1/commands?device=${encodeURIComponent(deviceId)}`);
  return response.body as CommandLogView[];
}

/** Waits until the API shows the device in a state that satisfies `predicate`, and returns it. */
export function waitForDevice(
  bridge: TestBridge,
  id: string,
  predicate: (device: DeviceView) => boolean,
  what: string,
  timeoutMs = 3000,
): Promise<DeviceView> {
  return eventually(
    async () => {
      const response = await bridge.api("GET", `/api/v1/devices/${id}`);
      const device = response.body as DeviceView;
      return response.status === 200 && predicate(device) ? device : undefined;
    },
    timeoutMs,
    `${id}: ${what}`,
  );
}

/** Waits until every device the node declares is listed with the given availability. */
export function waitForNode(
  bridge: TestBridge,
  sim: SimNode,
  online: boolean,
  timeoutMs = 3000,
): Promise<DeviceView[]> {
  const expected = sim.deviceIds.map((devId) => `${sim.nodeId}.${devId}`).sort();
  return eventually(
    async () => {
      const devices = await listDevices(bridge, sim.nodeId);
      const ids = devices.map((device) => device.id).sort();
      const ready = JSON.stringify(ids) === JSON.stringify(expected) && devices.every((d) => d.online === online);
      return ready ? devices : undefined;
    },
    timeoutMs,
    `${sim.nodeId} listed ${online ? "online" : "offline"} with ${expected.join(", ")}`,
  );
}

export type NodeOptions = Omit<SimNodeOptions, "url" | "nodeId" | "password">;

/** Starts a simulated node with existing credentials and waits until the API lists all its devices online. */
export async function connectNode(
  bridge: TestBridge,
  credentials: NodeCredentials,
  options: NodeOptions = {},
  url: string = bridge.mqttUrl,
): Promise<SimNode> {
  const sim = await SimNode.start({
    url,
    nodeId: credentials.node_id,
    password: credentials.password,
    reconnectPeriodMs: 200,
    connectTimeoutMs: 2000,
    ...options,
  });
  try {
    await waitForNode(bridge, sim, true);
  } catch (error) {
    await sim.close();
    throw error;
  }
  return sim;
}

/** Registers a node the way a user does (`hearth node add`), connects a simulated node and waits for it. */
export async function addAndConnectNode(
  bridge: TestBridge,
  nodeId: string,
  options: NodeOptions = {},
): Promise<{ sim: SimNode; credentials: NodeCredentials }> {
  const credentials = await bridge.addNode(nodeId);
  const sim = await connectNode(bridge, credentials, options);
  return { sim, credentials };
}

/** Log lines written after `from` (an index into `bridge.logs.lines`) that satisfy `predicate`. */
export function logsSince(
  bridge: TestBridge,
  from: number,
  predicate: (line: Record<string, unknown>) => boolean,
): Array<Record<string, unknown>> {
  return bridge.logs.lines.slice(from).filter(predicate);
}

/** pino's numeric level for `warn` in the JSON log lines. */
export const WARN = 40;

export interface RawCredentials {
  username?: string;
  password?: string;
  clientId?: string;
}

/** A plain MQTT 3.1.1 client that never reconnects: what a test uses to act as a (misbehaving) node. */
function openRawClient(url: string, credentials: RawCredentials): MqttClient {
  const { clientId, ...login } = credentials;
  return mqtt.connect(url, {
    clientId: clientId ?? credentials.username ?? `anonymous-${randomBytes(3).toString("hex")}`,
    ...login,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 2000,
  });
}

/** Resolves with the connected client, or rejects with the client's error (a refused CONNACK carries `code`). */
export function connectRawClient(url: string, credentials: RawCredentials): Promise<MqttClient> {
  const client = openRawClient(url, credentials);
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once("connect", () => {
      (client.stream as Socket).setNoDelay(true);
      client.off("error", fail);
      client.off("close", closed);
      resolve(client);
    });
    const closed = () => fail(new Error("connection closed before CONNACK"));
    client.once("error", fail);
    client.once("close", closed);
  });
}

/**
 * How the broker refused a login: the CONNACK return code, or "closed" when it dropped the connection
 * without one. Throws if the login was accepted.
 */
export async function refusal(url: string, credentials: RawCredentials): Promise<number | "closed"> {
  let client: MqttClient;
  try {
    client = await connectRawClient(url, credentials);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "number" ? code : "closed";
  }
  await client.endAsync();
  throw new Error(`the broker accepted ${credentials.username ?? "an anonymous client"}`);
}

/** Closes a raw client whatever state it is in. */
export async function closeRawClient(client: MqttClient): Promise<void> {
  await client.endAsync(!client.connected);
}

/**
 * Publishes at QoS 1 and reports what became of it: "acked" (mosquitto acknowledges even a publish its ACL
 * drops) or "disconnected" (the embedded broker closes a node that publishes outside its subtree).
 */
export function publishOrDrop(client: MqttClient, topic: string, payload: string): Promise<"acked" | "disconnected"> {
  return new Promise((resolve, reject) => {
    const closed = () => resolve("disconnected");
    client.once("close", closed);
    client.publishAsync(topic, payload, { qos: 1 }).then(
      () => {
        client.off("close", closed);
        resolve("acked");
      },
      (error: Error) => {
        client.off("close", closed);
        if (!client.connected) resolve("disconnected");
        else reject(error);
      },
    );
  });
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Records every message a raw client receives and lets a test wait for one. */
export class Inbox {
  readonly messages: Received[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString("utf8"), retain: packet.retain });
      for (const listener of this.listeners) listener();
    });
  }

  /** Every message received so far on one topic. */
  on(topic: string): Received[] {
    return this.messages.filter((message) => message.topic === topic);
  }

  waitFor(predicate: (message: Received) => boolean, what: string, timeoutMs = 2000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(predicate);
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no message ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }
}

/**
 * A loopback TCP proxy in front of the broker. `stall()` stops forwarding in both directions without closing
 * anything, as when a node loses power or Wi-Fi: the broker sees no FIN and only its keepalive timer can tell.
 */
export class StallingProxy {
  private stalled = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(private readonly target: URL) {
    this.server = createServer({ noDelay: true }, (client) => this.accept(client));
  }

  static async start(targetUrl: string): Promise<StallingProxy> {
    const proxy = new StallingProxy(new URL(targetUrl));
    await new Promise<void>((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stall(): void {
    this.stalled = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: this.target.hostname, port: Number(this.target.port), noDelay: true });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (chunk) => {
        if (!this.stalled) to.write(chunk);
      });
      // A stalled link carries no FIN either: the far side must keep believing the connection is alive.
      from.on("close", () => {
        if (!this.stalled) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
