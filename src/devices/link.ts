/**
 * The bridge's MQTT link: follows every node's retained `status`, `config` and state, keeps the store
 * in step with them, and publishes the bridge's own retained `status` (with a last will). It is the
 * only reader of node messages; everything it learns goes to the store and then to the event bus.
 * Bad input from a node is logged and dropped, never thrown: one broken firmware must not take the
 * bridge or the other nodes down.
 */

import type { z } from "zod";
import type { DeviceState, EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import { DeclarationError, type DeviceDefinition, filterReportedState, resolveDeclaration } from "../model/index.ts";
import { deviceId, type Store } from "../store/index.ts";
import {
  type IncomingMessage,
  MqttConnection,
  type MqttConnectionOptions,
  redactUrl,
  refusedProtocolVersion,
} from "./mqtt-connection.ts";
import {
  type CommandPayload,
  type CommandResponse,
  CommandResponseSchema,
  EventPayloadSchema,
  LIMITS,
  maxPayloadBytes,
  NodeConfigSchema,
  OtaStatusSchema,
  type ParsedTopic,
  StatePayloadSchema,
  StatusPayload,
  TelemetryPayloadSchema,
  type Topics,
} from "./protocol.ts";

export interface DeviceLinkOptions {
  /** Broker URL; a function when it is known only at start (the embedded broker's chosen port). */
  url: string | (() => string);
  username: string;
  password: string;
  topics: Topics;
  store: Store;
  bus: EventBus;
  log: Logger;
  now?: () => number;
  /**
   * MQTT 5 (the default) first, then 3.1.1 if the broker refuses 5; or 3.1.1 only (the embedded broker
   * speaks nothing else). Under 5 the link takes every retained message the broker replays at once, which
   * under 3.1.1 mosquitto cuts at 1,020 (see MqttConnectionOptions.protocolVersion): with a hundred nodes
   * of ten devices, the nodes' `status` messages, which come last, were lost at every restart.
   */
  protocolVersion?: 4 | 5;
}

export type CommandResponseHandler = (nodeId: string, response: CommandResponse) => void;

/** Drops a message and says why; `detail` is kept short so a flood cannot fill the log with payloads. */
class RejectedMessage extends Error {}

export class DeviceLink {
  private connection: MqttConnection | undefined;
  private readonly responseHandlers: CommandResponseHandler[] = [];
  private readonly warnedUnknownNodes = new Map<string, number>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: DeviceLinkOptions) {
    this.now = options.now ?? Date.now;
  }

  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  onCommandResponse(handler: CommandResponseHandler): void {
    this.responseHandlers.push(handler);
  }

  private get url(): string {
    return typeof this.options.url === "function" ? this.options.url() : this.options.url;
  }

  async start(): Promise<void> {
    const { topics, log, bus } = this.options;
    // The broker replays every node's retained messages at once: have every device at hand first.
    this.options.store.devices.warm();
    const connection = await this.connect({
      url: this.url,
      clientId: this.options.username,
      username: this.options.username,
      password: this.options.password,
      keepaliveSeconds: 30,
      will: { topic: topics.bridgeStatus, payload: "offline", retain: true, qos: 1 },
    });
    this.connection = connection;
    connection.onMessage((message) => this.handle(message));
    const announce = async () => {
      // Config before state before status: a node's retained messages then arrive in the order the
      // ingest expects, so `online` finds the node's devices already known.
      const subscriptions = topics.bridgeSubscriptions;
      const granted = await connection.subscribe(subscriptions, 1);
      if (granted.some((qos) => qos > 1))
        log.error({ subscriptions, granted }, "the broker refused some of the bridge's subscriptions: check its ACL");
      await connection.publish(topics.bridgeStatus, "online", { qos: 1, retain: true });
    };
    let wasConnected = true;
    connection.onConnect(() => {
      wasConnected = true;
      if (this.stopped) return;
      log.info("MQTT link re-established");
      bus.emit("bridge.link", { connected: true, at: this.now() });
      announce().catch((error: Error) => log.error({ err: error.message }, "bridge announce failed"));
    });
    connection.onDisconnect(() => {
      if (this.stopped || !wasConnected) return;
      wasConnected = false;
      log.warn({ url: redactUrl(this.url) }, "MQTT link lost; reconnecting");
      bus.emit("bridge.link", { connected: false, at: this.now() });
    });
    connection.onError((error) => log.warn({ err: error.message }, "MQTT link error"));
    await announce();
    bus.emit("bridge.link", { connected: true, at: this.now() });
    log.info({ url: redactUrl(this.url) }, "MQTT link up");
  }

  private async connect(options: MqttConnectionOptions): Promise<MqttConnection> {
    if ((this.options.protocolVersion ?? 5) === 4) return MqttConnection.connect({ ...options, protocolVersion: 4 });
    try {
      return await MqttConnection.connect({ ...options, protocolVersion: 5 });
    } catch (error) {
      if (!refusedProtocolVersion(error)) throw error;
      this.options.log.warn(
        { url: redactUrl(options.url) },
        "the MQTT broker does not speak MQTT 5; using 3.1.1, under which a broker may drop retained messages " +
          'past its queue limit when Hearth starts (docs/mosquitto.md, "Many nodes")',
      );
      return MqttConnection.connect({ ...options, protocolVersion: 4 });
    }
  }

  /** Publishes a command to a node: QoS 1, never retained (a retained command would replay at boot). */
  async publishCommand(nodeId: string, payload: CommandPayload): Promise<void> {
    if (!this.connection) throw new Error("the MQTT link is not started");
    await this.connection.publish(this.options.topics.command(nodeId), JSON.stringify(payload), { qos: 1 });
  }

  /** Clears a removed node's retained topics so that nothing announces it again. */
  /** Tells everyone that a removed node's devices are gone, so that assistants drop them too. */
  announceRemoval(nodeId: string, deviceIds: readonly string[]): void {
    if (deviceIds.length === 0) return;
    this.options.bus.emit("device.registry", {
      nodeId,
      added: [],
      removed: [...deviceIds],
      changed: [],
      at: this.now(),
    });
  }

  async clearRetained(nodeId: string, devIds: readonly string[]): Promise<void> {
    if (!this.connection) return;
    const { topics } = this.options;
    const cleared = [topics.config(nodeId), ...devIds.map((dev) => topics.state(nodeId, dev)), topics.status(nodeId)];
    for (const topic of cleared) await this.connection.publish(topic, "", { qos: 1, retain: true });
  }

  private clearTopic(topic: string): void {
    this.connection
      ?.publish(topic, "", { qos: 1, retain: true })
      .catch((error: Error) =>
        this.options.log.warn({ topic, err: error.message }, "could not clear a retained topic"),
      );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    try {
      // Said explicitly: a clean DISCONNECT does not fire the will.
      if (connection.connected)
        await connection.publish(this.options.topics.bridgeStatus, "offline", { qos: 1, retain: true });
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, "could not publish the bridge's offline status");
    }
    await connection.close();
  }

  private handle(message: IncomingMessage): void {
    const { topics, log } = this.options;
    const parsed = Buffer.byteLength(message.topic) <= LIMITS.topicBytes ? topics.parse(message.topic) : null;
    if (!parsed) {
      log.debug({ topic: message.topic }, "ignoring message on an unknown topic");
      return;
    }
    try {
      if (message.payload.length > maxPayloadBytes(parsed.kind)) {
        throw new RejectedMessage(
          `payload of ${message.payload.length} bytes exceeds the ${maxPayloadBytes(parsed.kind)}-byte limit`,
        );
      }
      // An empty retained payload is how a topic is cleared (node removal); nothing to ingest. On the
      // other topics an empty message is broken firmware, and said so.
      if (message.payload.length === 0) {
        if (parsed.kind === "status" || parsed.kind === "config" || parsed.kind === "state") return;
        throw new RejectedMessage("empty payload");
      }
      if (!this.options.store.nodes.exists(parsed.nodeId)) {
        this.warnUnknownNode(parsed.nodeId, message.topic);
        // Retained leftovers of a node removed while Hearth was stopped: clear them so nothing
        // announces that node again.
        if (message.retain) this.clearTopic(message.topic);
        return;
      }
      this.dispatch(parsed, message);
    } catch (error) {
      const reason =
        error instanceof RejectedMessage || error instanceof DeclarationError ? error.message : "internal error";
      if (!(error instanceof RejectedMessage || error instanceof DeclarationError)) {
        log.error({ err: error, topic: message.topic }, "failed to ingest a node message");
      }
      log.warn({ topic: message.topic, node: parsed.nodeId, reason }, "dropped a bad message from a node");
    }
  }

  private dispatch(topic: ParsedTopic, message: IncomingMessage): void {
    switch (topic.kind) {
      case "status":
        this.ingestStatus(topic.nodeId, message.payload.toString("utf8"));
        return;
      case "config":
        this.ingestConfig(topic.nodeId, message.payload);
        return;
      case "state":
        this.ingestState(topic.nodeId, topic.devId as string, message.payload);
        return;
      case "cmd_res":
        this.ingestCommandResponse(topic.nodeId, message.payload);
        return;
      case "event":
        this.ingestEvent(topic.nodeId, message.payload);
        return;
      case "telemetry":
        parseJson(message.payload, TelemetryPayloadSchema);
        this.options.store.nodes.touch(topic.nodeId, this.now());
        return;
      case "ota_status":
        this.ingestOtaStatus(topic.nodeId, message.payload);
        return;
      case "cmd":
        return;
    }
  }

  private ingestStatus(nodeId: string, text: string): void {
    const status = StatusPayload.safeParse(text.trim());
    if (!status.success) throw new RejectedMessage(`status must be "online" or "offline"`);
    const online = status.data === "online";
    const { store, bus } = this.options;
    const before = store.nodes.get(nodeId);
    const now = this.now();
    store.nodes.setOnline(nodeId, online, now);
    if (before?.online === online) return;
    const deviceIds = store.devices.list({ nodeId }).map((d) => d.id);
    this.options.log.info({ node: nodeId, online }, online ? "node online" : "node offline");
    const offlineSince = online && before?.statusChangedAt != null ? { offlineSince: before.statusChangedAt } : {};
    bus.emit("device.availability", { nodeId, deviceIds, online, ...offlineSince, at: now });
  }

  private ingestConfig(nodeId: string, payload: Buffer): void {
    const config = parseJson(payload, NodeConfigSchema);
    if (config.node_id !== undefined && config.node_id !== nodeId) {
      throw new RejectedMessage(`config names node "${config.node_id}" on the topic of "${nodeId}"`);
    }
    const definitions: DeviceDefinition[] = [];
    for (const declaration of config.devices) {
      try {
        definitions.push(resolveDeclaration(declaration));
      } catch (error) {
        if (!(error instanceof DeclarationError)) throw error;
        // One bad device must not hide the node's good ones.
        this.options.log.warn({ node: nodeId, reason: error.message }, "ignoring a device the model cannot accept");
      }
    }
    const { store, bus } = this.options;
    const now = this.now();
    store.nodes.setInfo(
      nodeId,
      {
        name: config.name,
        fwVersion: config.fw?.version,
        hwModel: config.hw?.model,
        cfgHash: config.cfg_hash,
        services: config.services,
      },
      now,
    );
    const change = store.devices.applyNodeConfig(nodeId, definitions, now);
    if (change.added.length + change.removed.length + change.changed.length > 0) {
      this.options.log.info({ node: nodeId, ...change }, "node registry changed");
      bus.emit("device.registry", { nodeId, ...change, at: now });
    }
  }

  private ingestState(nodeId: string, devId: string, payload: Buffer): void {
    const parsed = parseJson(payload, StatePayloadSchema);
    this.recordState(nodeId, devId, parsed.values, parsed.seq, "report");
  }

  /**
   * Stores reported values (from a state message or a command response) and announces the change.
   * Values that do not fit the declaration are dropped one by one; the others are kept. Returns the
   * device's full reported state afterwards.
   */
  recordState(
    nodeId: string,
    devId: string,
    values: Record<string, unknown>,
    seq: number | undefined,
    cause: "report" | "command",
    /** Who asked, when a command's confirmation carries the state. */
    actor?: string,
  ): DeviceState | undefined {
    const { store, bus, log } = this.options;
    const id = deviceId(nodeId, devId);
    const device = store.devices.get(id);
    if (!device?.present) throw new RejectedMessage(`state for "${devId}", which the node's config does not declare`);
    const { accepted, rejected } = filterReportedState(device.definition, values);
    if (rejected.length > 0)
      log.warn({ device: id, rejected }, "dropped reported values that do not fit the declaration");
    if (Object.keys(accepted).length === 0) return device.state;
    const now = this.now();
    const result = store.devices.recordReported(id, accepted, seq, now);
    if (result.changed.length === 0) return result.state;
    bus.emit("device.state", {
      deviceId: id,
      nodeId,
      state: result.state,
      changed: result.changed,
      cause,
      ...(actor === undefined ? {} : { actor }),
      at: now,
    });
    return result.state;
  }

  private ingestCommandResponse(nodeId: string, payload: Buffer): void {
    const response = parseJson(payload, CommandResponseSchema);
    for (const handler of this.responseHandlers) handler(nodeId, response);
  }

  private ingestEvent(nodeId: string, payload: Buffer): void {
    const event = parseJson(payload, EventPayloadSchema);
    const { dev, type, ...rest } = event;
    this.options.bus.emit("node.event", {
      nodeId,
      ...(dev === undefined ? {} : { deviceId: deviceId(nodeId, dev) }),
      type,
      payload: rest,
      at: this.now(),
    });
  }

  /** Progress of a firmware update: announced as it came; the OTA service decides what it means for a job. */
  private ingestOtaStatus(nodeId: string, payload: Buffer): void {
    const { id, state, progress, version, error, msg } = parseJson(payload, OtaStatusSchema);
    const now = this.now();
    this.options.store.nodes.touch(nodeId, now);
    this.options.bus.emit("ota.status", {
      nodeId,
      id,
      state,
      ...(progress === undefined ? {} : { progress }),
      ...(version === undefined ? {} : { version }),
      ...(error === undefined ? {} : { error }),
      ...(msg === undefined ? {} : { msg }),
      at: now,
    });
  }

  private warnUnknownNode(nodeId: string, topic: string): void {
    const last = this.warnedUnknownNodes.get(nodeId) ?? 0;
    if (this.now() - last < 60_000) return;
    this.warnedUnknownNodes.set(nodeId, this.now());
    this.options.log.warn({ node: nodeId, topic }, "message from a node that is not registered (hearth node add)");
  }
}

function parseJson<S extends z.ZodType>(payload: Buffer, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new RejectedMessage("payload is not valid JSON");
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new RejectedMessage(
      `payload does not match the protocol: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
  return result.data;
}
