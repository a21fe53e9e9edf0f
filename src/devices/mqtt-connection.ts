/**
 * The one place that speaks MQTT as a client (mqtt.js). The bridge's link and the simulated nodes both
 * connect through it, so every socket gets TCP_NODELAY (without it a command costs 40–90 ms of Nagle and
 * delayed-ACK waits instead of well under one) and the same safe defaults: clean sessions, no queueing
 * of messages while disconnected, nothing persisted in flight.
 */
import type { Socket } from "node:net";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

export interface WillMessage {
  topic: string;
  payload: string;
  retain: boolean;
  qos: 0 | 1;
}

export interface MqttConnectionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  keepaliveSeconds?: number;
  will?: WillMessage;
  /** Reconnect automatically after a lost connection (default true). */
  reconnect?: boolean;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  /**
   * MQTT 3.1.1 (4, the default) or 5. With 5 the connection also says it takes up to 65,535 unacknowledged
   * QoS 1 messages at once (Receive Maximum). Under 3.1.1 mosquitto sends a client at most 20 of them and
   * queues 1,000 more (`max_inflight_messages`, `max_queued_messages`); it drops the rest, so a subscriber
   * that is sent more retained messages at once than that loses some.
   */
  protocolVersion?: 4 | 5;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export class MqttConnectError extends Error {
  override readonly name = "MqttConnectError";
  constructor(
    message: string,
    /** CONNACK return code when the broker refused (4: bad credentials, 5: not authorised). */
    readonly returnCode?: number,
  ) {
    super(message);
  }
}

/** The most MQTT 5 lets a client accept unacknowledged at once. */
const MAX_RECEIVE = 65_535;

/**
 * CONNACK codes that mean "not this protocol version": 1 from a 3.1.1-only broker (which answers an MQTT 5
 * CONNECT in its own version), 132 (0x84) from an MQTT 5 broker.
 */
export function refusedProtocolVersion(error: unknown): boolean {
  return error instanceof MqttConnectError && (error.returnCode === 1 || error.returnCode === 132);
}

function setNoDelay(client: MqttClient): void {
  const stream = client.stream as unknown as Partial<Socket> | undefined;
  stream?.setNoDelay?.(true);
}

export class MqttConnection {
  private constructor(private readonly client: MqttClient) {}

  /** Connects and resolves once the broker accepted the session; rejects on refusal or timeout. */
  static connect(options: MqttConnectionOptions): Promise<MqttConnection> {
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: options.protocolVersion ?? 4,
      ...(options.protocolVersion === 5 ? { properties: { receiveMaximum: MAX_RECEIVE } } : {}),
      clean: true,
      keepalive: options.keepaliveSeconds ?? 30,
      reconnectPeriod: options.reconnect === false ? 0 : (options.reconnectPeriodMs ?? 1000),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      resubscribe: true,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.will ? { will: { ...options.will } } : {}),
    };
    const client = mqtt.connect(options.url, clientOptions);
    setNoDelay(client);
    client.on("connect", () => setNoDelay(client));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        client.end(true);
        reject(new MqttConnectError(`no answer from the MQTT broker at ${redactUrl(options.url)}`));
      }, options.connectTimeoutMs ?? 10_000);
      const onConnect = () => {
        cleanup();
        resolve(new MqttConnection(client));
      };
      const onError = (error: Error & { code?: number | string }) => {
        // A refused CONNACK (bad credentials) will not get better by retrying with the same ones.
        if (typeof error.code === "number") {
          cleanup();
          client.end(true);
          reject(new MqttConnectError(`the MQTT broker refused the connection: ${error.message}`, error.code));
        } else if (options.reconnect === false) {
          // Nothing will try again: a refused socket or a bad certificate is the answer, not a timeout later.
          cleanup();
          client.end(true);
          const code = typeof error.code === "string" && !error.message.includes(error.code) ? ` (${error.code})` : "";
          reject(
            new MqttConnectError(`cannot reach the MQTT broker at ${redactUrl(options.url)}: ${error.message}${code}`),
          );
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        client.off("error", onError);
      };
      client.on("connect", onConnect);
      client.on("error", onError);
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  onMessage(handler: (message: IncomingMessage) => void): void {
    this.client.on("message", (topic, payload, packet) => handler({ topic, payload, retain: packet.retain }));
  }

  onConnect(handler: () => void): void {
    this.client.on("connect", handler);
  }

  onDisconnect(handler: () => void): void {
    this.client.on("offline", handler);
    this.client.on("close", handler);
  }

  onError(handler: (error: Error) => void): void {
    this.client.on("error", handler);
  }

  async publish(topic: string, payload: string | Buffer, options: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    if (topic.includes("+") || topic.includes("#"))
      throw new Error(`refusing to publish to a wildcard topic: ${topic}`);
    await this.client.publishAsync(topic, payload, { qos: options.qos, retain: options.retain ?? false });
  }

  /** Resolves with the granted QoS per topic (128 = refused by the broker). */
  async subscribe(topics: string[], qos: 0 | 1 = 1): Promise<number[]> {
    const granted = await this.client.subscribeAsync(Object.fromEntries(topics.map((topic) => [topic, { qos }])));
    return granted.map((g) => g.qos);
  }

  /** A clean disconnect: the broker does not publish the will. */
  async close(): Promise<void> {
    if (this.client.disconnected && !this.client.connected) {
      this.client.end(true);
      return;
    }
    await this.client.endAsync(false);
  }

  /**
   * Drops the socket without DISCONNECT but keeps reconnecting, as a node on flaky Wi-Fi would: the
   * broker publishes the will, then the client comes back on its own.
   */
  dropConnection(): void {
    this.client.stream?.destroy();
  }

  /**
   * Drops the socket without DISCONNECT, as a crashed or unplugged node would: the broker publishes the
   * will once it notices.
   */
  kill(): void {
    this.client.options.reconnectPeriod = 0;
    this.client.stream?.destroy();
    this.client.end(true);
  }
}

/** Removes credentials from a URL before it is logged or shown. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(invalid URL)";
  }
}
