/**
 * A simulated ESP32 node speaking node protocol v1 over a real MQTT connection, with hooks for tests and
 * benchmarks to inject the faults real nodes have (slow answers, lost acks, crashes).
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, MqttConnection } from "../devices/mqtt-connection.ts";
import {
  CommandPayloadSchema,
  type CommandResponse,
  type CommandStatus,
  DEFAULT_TOPIC_PREFIX,
  isValidNodeId,
  LIMITS,
  type NodeConfig,
  NodeConfigSchema,
  PROTOCOL_VERSION,
  STATUS_OFFLINE,
  STATUS_ONLINE,
  Topics,
} from "../devices/protocol.ts";
import {
  CommandError,
  type CommandErrorCode,
  checkParamValue,
  type DeviceDefinition,
  type DeviceType,
  type ParamValue,
  resolveDeclaration,
  validateCommand,
} from "../model/index.ts";
import { type DeviceTemplate, deviceTemplate } from "./templates.ts";

export const SIM_FIRMWARE_VERSION = "0.1.0-sim";
export const SIM_HARDWARE_MODEL = "hearth-sim";

export interface SimNodeOptions {
  url: string;
  nodeId: string;
  password?: string;
  /** Topic prefix; `hearth/v1` unless the bridge is configured otherwise. */
  prefix?: string;
  /** A device type uses its template with the type name as device id; pass templates for anything else. */
  devices?: ReadonlyArray<DeviceType | DeviceTemplate>;
  /** The node's display name in its config. */
  name?: string;
  keepaliveSeconds?: number;
  latencyMs?: number;
  /**
   * How long a lock or cover takes to reach a commanded position. With a value above 0 such a command is
   * answered `accepted` at once, with the device moving, and the final state is published when it arrives.
   */
  actuationMs?: number;
  dropAckRate?: number;
  /** When set, sensor devices report a small random temperature/humidity change at this interval. */
  sensorIntervalMs?: number;
  /** When set, the node drops its connection at this interval and reconnects (see `dropConnection`). */
  disconnectEveryMs?: number;
  /**
   * First value of the state counter. Real firmware keeps it across reboots so a retained state from before
   * the reboot never looks newer; a test restarting a node under the same id can pass the old node's seq.
   */
  initialSeq?: number;
  /** How long a `reboot` keeps the node off the broker (default 100 ms). */
  rebootDelayMs?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
}

type DeviceState = Record<string, ParamValue>;

interface SimDevice {
  definition: DeviceDefinition;
  state: DeviceState;
  /** The seq of this device's last state publish. */
  seq: number;
}

interface CommandOutcome {
  response: CommandResponse;
  /** Set for an accepted `reboot`: the node restarts once the answer is out. */
  reboot?: boolean;
}

const MAX_MESSAGE_CHARS = 200;

export class SimNode {
  readonly nodeId: string;
  readonly topics: Topics;
  /** The config the node announces (validated against the protocol schema at construction). */
  readonly config: NodeConfig;

  /** Delay before acting on a command and answering it, to simulate a slow node or a congested link. */
  latencyMs: number;
  /** See SimNodeOptions.actuationMs. */
  actuationMs: number;
  /** Probability (0..1) that a command is silently ignored; for benchmarks of the bridge's retry path. */
  dropAckRate: number;
  /** While true, commands are received but never executed or answered: the bridge must time out. */
  ignoreCommands = false;
  /** Every command message that reached the node, including ignored and dropped ones. */
  commandsReceived = 0;
  /** Commands actually carried out; a duplicate or a rejected command does not count. */
  commandsExecuted = 0;
  /** The last error the MQTT client or a background publish reported; nodes never throw from callbacks. */
  lastError: Error | undefined;

  private readonly devices = new Map<string, SimDevice>();
  private readonly options: SimNodeOptions;
  private connection: MqttConnection | undefined;
  private seq: number;
  private dropsRemaining = 0;
  private readonly recentCommandIds: string[] = [];
  /** Commands run one at a time, as on a single-threaded firmware loop. */
  private commandChain: Promise<void> = Promise.resolve();
  /** Announcements never interleave, so `online` is always the last message of one. */
  private announceChain: Promise<void> = Promise.resolve();
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  private sensorTimer: NodeJS.Timeout | undefined;
  private flapTimer: NodeJS.Timeout | undefined;
  private rebooting: Promise<void> | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;

  private constructor(options: SimNodeOptions) {
    if (!isValidNodeId(options.nodeId)) throw new Error(`invalid node id "${options.nodeId}"`);
    this.options = options;
    this.nodeId = options.nodeId;
    this.topics = new Topics(options.prefix ?? DEFAULT_TOPIC_PREFIX);
    this.latencyMs = options.latencyMs ?? 0;
    this.actuationMs = options.actuationMs ?? 0;
    this.dropAckRate = options.dropAckRate ?? 0;
    this.seq = options.initialSeq ?? 0;
    const templates = (options.devices ?? ["light"]).map((d) => (typeof d === "string" ? deviceTemplate(d) : d));
    for (const template of templates) {
      const definition = resolveDeclaration(template.declaration);
      if (this.devices.has(definition.devId)) throw new Error(`device id "${definition.devId}" is used twice`);
      this.devices.set(definition.devId, { definition, state: { ...template.initialState }, seq: this.seq });
    }
    this.config = buildNodeConfig(this.nodeId, options.name ?? `Simulated ${this.nodeId}`, templates);
  }

  /** Connects, subscribes and announces config, states and `online`; resolves once `online` is acknowledged. */
  static async start(options: SimNodeOptions): Promise<SimNode> {
    const node = new SimNode(options);
    await node.connect();
    node.startSensorDrift();
    node.startFlapping();
    return node;
  }

  get connected(): boolean {
    return !this.stopped && (this.connection?.connected ?? false);
  }

  get deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /** The seq of the latest state publish of any device. */
  get lastSeq(): number {
    return this.seq;
  }

  /** A copy of a device's current state. */
  state(devId: string): DeviceState {
    return { ...this.device(devId).state };
  }

  /** Ignore the next `count` commands entirely (no execution, no answer), so the bridge's retry is what gets through. */
  dropAcks(count: number): void {
    this.dropsRemaining = Math.max(0, Math.floor(count));
  }

  /**
   * A physical change (a wall button, a sensor reading): validated against the declaration, applied and
   * published as the new retained state. Read-only params may change this way; that is what they are for.
   */
  async press(devId: string, values: Record<string, ParamValue>): Promise<void> {
    const device = this.device(devId);
    const byId = new Map(device.definition.params.map((p) => [p.id, p]));
    const checked: DeviceState = {};
    for (const [id, value] of Object.entries(values)) {
      const param = byId.get(id);
      if (!param) throw new Error(`device "${devId}" has no param "${id}"`);
      checked[id] = checkParamValue(param, value);
    }
    applyChange(device, checked);
    await this.publishState(device);
  }

  /** Publishes anything anywhere, for tests that need malformed or out-of-protocol messages from a node. */
  async publishRaw(
    topic: string,
    payload: string | Buffer,
    options: { retain?: boolean; qos?: 0 | 1 } = {},
  ): Promise<void> {
    const connection = this.requireConnection();
    await connection.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false });
  }

  /** Clean stop: `offline` is published explicitly, then a DISCONNECT, so the broker discards the will. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.stopped = true;
    this.clearTimers();
    this.closing = (async () => {
      await this.rebooting;
      const connection = this.connection;
      if (!connection) return;
      if (connection.connected) {
        await connection
          .publish(this.topics.status(this.nodeId), STATUS_OFFLINE, { qos: 1, retain: true })
          .catch((error: unknown) => this.recordError(error));
      }
      await connection.close();
    })();
    return this.closing;
  }

  /** Crash: the socket drops without DISCONNECT and the broker publishes the retained `offline` will. */
  kill(): void {
    if (this.closing !== undefined) return;
    this.stopped = true;
    this.clearTimers();
    this.connection?.kill();
    // A reboot caught between connections closes the connection it opens itself (see connect()).
    this.closing = (this.rebooting ?? Promise.resolve()).then(() => undefined);
  }

  private async connect(): Promise<void> {
    const statusTopic = this.topics.status(this.nodeId);
    const connection = await MqttConnection.connect({
      url: this.options.url,
      clientId: this.nodeId,
      username: this.nodeId,
      ...(this.options.password === undefined ? {} : { password: this.options.password }),
      keepaliveSeconds: this.options.keepaliveSeconds ?? 30,
      will: { topic: statusTopic, payload: STATUS_OFFLINE, retain: true, qos: 1 },
      ...(this.options.reconnectPeriodMs === undefined ? {} : { reconnectPeriodMs: this.options.reconnectPeriodMs }),
      ...(this.options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.options.connectTimeoutMs }),
    });
    if (this.stopped) {
      await connection.close();
      return;
    }
    this.connection = connection;
    connection.onError((error) => this.recordError(error));
    connection.onMessage((message) => this.onMessage(message));
    // Later CONNACKs (after a lost connection) need the same announcement as the first one.
    connection.onConnect(() => {
      this.announce(connection, true).catch((error: unknown) => this.recordError(error));
    });
    try {
      await this.announce(connection, true);
    } catch (error) {
      this.stopped = true;
      this.clearTimers();
      connection.kill();
      throw error;
    }
  }

  /** config, then every device's state, then `online` last: a bridge that sees `online` has everything. */
  private announce(connection: MqttConnection, subscribe: boolean): Promise<void> {
    const run = async () => {
      if (this.stopped || connection !== this.connection) return;
      if (subscribe) {
        const topics = [this.topics.command(this.nodeId), this.topics.bridgeStatus];
        const granted = await connection.subscribe(topics, 1);
        if (granted.some((qos) => qos === 128)) throw new Error(`the broker refused a subscription of ${this.nodeId}`);
      }
      await connection.publish(this.topics.config(this.nodeId), JSON.stringify(this.config), { qos: 1, retain: true });
      for (const device of this.devices.values()) await this.publishState(device);
      await connection.publish(this.topics.status(this.nodeId), STATUS_ONLINE, { qos: 1, retain: true });
    };
    const next = this.announceChain.then(run);
    this.announceChain = next.catch(() => undefined);
    return next;
  }

  private onMessage(message: IncomingMessage): void {
    if (this.stopped) return;
    if (message.topic === this.topics.command(this.nodeId)) {
      this.onCommand(message.payload);
      return;
    }
    // The retained `online` delivered on subscribe is not news: the node has just announced itself anyway.
    if (message.topic === this.topics.bridgeStatus && !message.retain && message.payload.toString() === STATUS_ONLINE) {
      const connection = this.connection;
      if (connection) this.announce(connection, false).catch((error: unknown) => this.recordError(error));
    }
  }

  private onCommand(payload: Buffer): void {
    this.commandsReceived++;
    if (this.ignoreCommands) return;
    if (this.dropsRemaining > 0) {
      this.dropsRemaining--;
      return;
    }
    if (this.dropAckRate > 0 && Math.random() < this.dropAckRate) return;
    this.commandChain = this.commandChain
      .then(() => this.handleCommand(payload))
      .catch((error: unknown) => this.recordError(error));
  }

  private async handleCommand(payload: Buffer): Promise<void> {
    if (this.latencyMs > 0) await this.sleep(this.latencyMs);
    if (this.stopped) return;
    const outcome = await this.execute(payload);
    if (this.stopped) return;
    await this.requireConnection().publish(this.topics.commandResponse(this.nodeId), JSON.stringify(outcome.response), {
      qos: 1,
      retain: false,
    });
    if (outcome.reboot) this.rebooting = this.reboot();
  }

  private async execute(payload: Buffer): Promise<CommandOutcome> {
    const answer = (response: CommandResponse): CommandOutcome => ({
      response: response.msg === undefined ? response : { ...response, msg: truncate(response.msg) },
    });
    if (payload.length > LIMITS.messageBytes) {
      return answer({
        id: readableId(payload),
        status: "bad_request",
        msg: `command exceeds ${LIMITS.messageBytes} bytes`,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString("utf8"));
    } catch {
      return answer({ id: null, status: "bad_request", msg: "command is not valid JSON" });
    }
    const parsed = CommandPayloadSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      return answer({
        id: readableId(json),
        status: "bad_request",
        msg: `${where}${issue?.message ?? "invalid command"}`,
      });
    }
    const command = parsed.data;
    const id = command.id ?? null;

    // Checked before expiry: a retry of a command that already ran must not be reported as failed.
    if (id !== null && this.recentCommandIds.includes(id)) {
      const device = command.dev === undefined ? undefined : this.devices.get(command.dev);
      return answer(device ? this.stateResponse(id, "duplicate", device) : { id, status: "duplicate" });
    }
    if (command.exp !== undefined && command.exp * 1000 < Date.now()) {
      return answer({ id, status: "expired", ...devField(command.dev), msg: `expired at ${command.exp}` });
    }
    if (command.op === "reboot") {
      this.remember(id);
      this.commandsExecuted++;
      return { response: { id, status: "accepted" }, reboot: true };
    }
    // A simulated node declares no `ota` service, so the bridge never sends it one; another client might.
    if (command.op === "ota") return answer({ id, status: "bad_request", msg: "this node cannot update its firmware" });
    if (command.dev === undefined) return answer({ id, status: "bad_request", msg: `"${command.op}" needs a "dev"` });
    const device = this.devices.get(command.dev);
    if (!device) {
      return answer({ id, status: "unknown_device", dev: command.dev, msg: `no device "${command.dev}" on this node` });
    }

    let params: DeviceState;
    try {
      params = validateCommand(device.definition, command.op, command.params ?? {}).params;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      return answer({ id, status: responseStatusFor(error.code), dev: command.dev, msg: error.message });
    }
    this.remember(id);
    this.commandsExecuted++;
    if (command.op === "set" && this.actuationMs > 0 && isActuator(device)) return this.actuate(id, device, params);
    switch (command.op) {
      case "set":
        applyChange(device, params);
        await this.publishState(device);
        break;
      case "get":
        await this.publishState(device);
        break;
      case "stop":
        if ("moving" in device.state) device.state.moving = "stopped";
        await this.publishState(device);
        break;
      case "identify":
        break;
    }
    return answer(this.stateResponse(id, "ok", device));
  }

  /**
   * A slow actuator: the command is taken (`accepted`, with the device reporting that it moves), and the
   * device reports its final state once it gets there, as a real lock or garage door does.
   */
  private async actuate(id: string | null, device: SimDevice, params: DeviceState): Promise<CommandOutcome> {
    Object.assign(device.state, movingTowards(device, params));
    await this.publishState(device);
    this.sleep(this.actuationMs)
      .then(async () => {
        if (this.stopped) return;
        applyChange(device, params);
        await this.publishState(device);
      })
      .catch((error: unknown) => this.recordError(error));
    return { response: this.stateResponse(id, "accepted", device) };
  }

  /** Like firmware after `esp_restart()`: `offline` first, a clean disconnect, a pause, then a fresh connect. */
  private async reboot(): Promise<void> {
    const connection = this.connection;
    try {
      if (connection?.connected) {
        await connection.publish(this.topics.status(this.nodeId), STATUS_OFFLINE, { qos: 1, retain: true });
      }
      await connection?.close();
      await this.sleep(this.options.rebootDelayMs ?? 100);
      if (!this.stopped) await this.connect();
    } catch (error) {
      this.recordError(error);
    }
  }

  private stateResponse(id: string | null, status: CommandStatus, device: SimDevice): CommandResponse {
    return { id, status, dev: device.definition.devId, state: { ...device.state }, seq: device.seq };
  }

  private async publishState(device: SimDevice): Promise<void> {
    const connection = this.connection;
    // A change while off the broker is not lost: the next announcement carries the full state.
    if (this.stopped || !connection?.connected) return;
    this.seq++;
    device.seq = this.seq;
    const topic = this.topics.state(this.nodeId, device.definition.devId);
    await connection.publish(topic, JSON.stringify({ ...device.state, seq: device.seq }), { qos: 1, retain: true });
  }

  private remember(id: string | null): void {
    if (id === null) return;
    this.recentCommandIds.push(id);
    if (this.recentCommandIds.length > LIMITS.dedupeWindow) this.recentCommandIds.shift();
  }

  private startSensorDrift(): void {
    const interval = this.options.sensorIntervalMs;
    if (interval === undefined || interval <= 0 || this.stopped) return;
    this.sensorTimer = setInterval(() => {
      for (const device of this.devices.values()) {
        if (device.definition.type !== "sensor" || !drift(device)) continue;
        this.publishState(device).catch((error: unknown) => this.recordError(error));
      }
    }, interval);
  }

  /**
   * Drops the connection without DISCONNECT and lets the client reconnect: the bridge sees the will
   * (`offline`), then the node's fresh announcement. Tests and benchmarks use it for flaky Wi-Fi.
   */
  dropConnection(): void {
    if (!this.stopped) this.connection?.dropConnection();
  }

  private startFlapping(): void {
    const interval = this.options.disconnectEveryMs;
    if (interval === undefined || interval <= 0 || this.stopped) return;
    this.flapTimer = setInterval(() => this.dropConnection(), interval);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeps.delete(timer);
        resolve();
      }, ms);
      this.sleeps.set(timer, resolve);
    });
  }

  /** Cuts every pending delay short (the waiting code then sees `stopped`) and stops the sensor ticks. */
  private clearTimers(): void {
    for (const [timer, resolve] of this.sleeps) {
      clearTimeout(timer);
      resolve();
    }
    this.sleeps.clear();
    if (this.sensorTimer) clearInterval(this.sensorTimer);
    this.sensorTimer = undefined;
    if (this.flapTimer) clearInterval(this.flapTimer);
    this.flapTimer = undefined;
  }

  private device(devId: string): SimDevice {
    const device = this.devices.get(devId);
    if (!device) throw new Error(`node "${this.nodeId}" has no device "${devId}"`);
    return device;
  }

  private requireConnection(): MqttConnection {
    if (!this.connection) throw new Error(`node "${this.nodeId}" is not connected`);
    return this.connection;
  }

  private recordError(error: unknown): void {
    this.lastError = error instanceof Error ? error : new Error(String(error));
  }
}

function buildNodeConfig(nodeId: string, name: string, templates: readonly DeviceTemplate[]): NodeConfig {
  const devices = templates.map(({ declaration }) => ({
    id: declaration.id,
    type: declaration.type,
    ...(declaration.name === undefined ? {} : { name: declaration.name }),
    ...(declaration.class === undefined ? {} : { class: declaration.class }),
    params: declaration.params.map(({ values, ...param }) => (values ? { ...param, values: [...values] } : param)),
  }));
  const devicesJson = JSON.stringify(devices);
  const config: NodeConfig = {
    node_id: nodeId,
    proto: PROTOCOL_VERSION,
    cfg_hash: createHash("sha256").update(devicesJson).digest("hex").slice(0, 8),
    name,
    fw: { version: SIM_FIRMWARE_VERSION },
    hw: { model: SIM_HARDWARE_MODEL },
    devices,
    services: { identify: true, reboot: true },
  };
  // Fail at construction rather than announce something the bridge would drop.
  NodeConfigSchema.parse(config);
  const bytes = Buffer.byteLength(JSON.stringify(config));
  if (bytes > LIMITS.configBytes) throw new Error(`config of ${nodeId} is ${bytes} bytes, over ${LIMITS.configBytes}`);
  return config;
}

function isActuator(device: SimDevice): boolean {
  return device.definition.type === "lock" || device.definition.type === "cover";
}

/** What a lock or cover reports while it moves towards `target`: only its read-only motion params change. */
function movingTowards(device: SimDevice, target: DeviceState): DeviceState {
  const moving: DeviceState = {};
  if (typeof target.locked === "boolean" && "lock_state" in device.state) {
    moving.lock_state = target.locked ? "locking" : "unlocking";
  }
  const position = device.state.position;
  if (typeof target.position === "number" && typeof position === "number" && "moving" in device.state) {
    moving.moving = target.position > position ? "opening" : target.position < position ? "closing" : "stopped";
  }
  return moving;
}

/** Side effects a real device has: a lock reports where its bolt is, a cover that was told where to go is there. */
function applyChange(device: SimDevice, values: DeviceState): void {
  Object.assign(device.state, values);
  if (typeof values.locked === "boolean" && "lock_state" in device.state && values.lock_state === undefined) {
    device.state.lock_state = values.locked ? "locked" : "unlocked";
  }
  if (values.position !== undefined && "moving" in device.state && values.moving === undefined) {
    device.state.moving = "stopped";
  }
}

/** Nudges a sensor's temperature and humidity; returns whether anything changed. */
function drift(device: SimDevice): boolean {
  let changed = false;
  for (const param of device.definition.params) {
    const step = param.id === "temperature_c" ? 0.3 : param.id === "humidity_pct" ? 1 : 0;
    const current = device.state[param.id];
    if (step === 0 || typeof current !== "number") continue;
    const moved = Math.round((current + (Math.random() * 2 - 1) * step) * 10) / 10;
    device.state[param.id] = Math.min(param.max ?? moved, Math.max(param.min ?? moved, moved));
    changed = true;
  }
  return changed;
}

/** The node answers in protocol statuses; the model's finer codes that have no protocol status are bad requests. */
function responseStatusFor(code: CommandErrorCode): CommandStatus {
  switch (code) {
    case "unknown_param":
    case "read_only":
    case "out_of_range":
      return code;
    default:
      return "bad_request";
  }
}

/** The command id of a malformed command, if one can be read, so the bridge can match the answer. */
function readableId(json: unknown): string | null {
  if (Buffer.isBuffer(json)) {
    try {
      return readableId(JSON.parse(json.toString("utf8")));
    } catch {
      return null;
    }
  }
  if (typeof json !== "object" || json === null || !("id" in json)) return null;
  const id = json.id;
  return typeof id === "string" && id.length > 0 && id.length <= LIMITS.commandIdChars ? id : null;
}

function devField(dev: string | undefined): { dev?: string } {
  return dev === undefined ? {} : { dev };
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS ? message : `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}
