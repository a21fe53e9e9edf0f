/**
 * Commands to devices: validate against what the node declared, publish with a fresh id, wait for the
 * node's confirmation, retry once with the same id (the node's dedupe makes that safe), and answer with
 * the state the node confirmed — or a typed error. Success is never reported without confirmation.
 */
import type { DeviceState, EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import {
  CommandError,
  type CommandErrorCode,
  DEVICE_TYPE_SPECS,
  type DeviceOp,
  type ParamValue,
  validateCommand,
} from "../model/index.ts";
import { newOrderedId } from "../security/secrets.ts";
import type { Store } from "../store/index.ts";
import type { DeviceLink } from "./link.ts";
import type { CommandPayload, CommandResponse, CommandStatus } from "./protocol.ts";

export interface CommandRequest {
  deviceId: string;
  op?: DeviceOp;
  params?: Record<string, unknown>;
  /** Who asked: `admin`, `cli`, `alexa:<user>`, `google:<user>`, `hook:<id>`, `resync`. */
  actor: string;
  /** Overrides the configured deadline (a platform with a shorter budget passes its own). */
  timeoutMs?: number;
}

export interface CommandResult {
  commandId: string;
  /** `accepted`: the node took the command and will report the outcome as state later (slow actuators). */
  status: "ok" | "accepted";
  deviceId: string;
  state: DeviceState;
  latencyMs: number;
  attempts: number;
}

export interface CommandServiceOptions {
  store: Store;
  link: DeviceLink;
  bus: EventBus;
  log: Logger;
  timeoutMs: number;
  desiredTtlSeconds: number;
  now?: () => number;
}

/**
 * A command to the node itself rather than to one of its devices (`ota`). It is not validated against a
 * device declaration and not written to the command log, which is per device: its caller keeps the record.
 */
export interface NodeCommandRequest {
  nodeId: string;
  /** Chosen by the caller, whose record goes by the same id (an OTA job). */
  id: string;
  payload: Omit<CommandPayload, "id" | "exp" | "dev" | "params">;
  timeoutMs?: number;
}

export interface NodeCommandResult {
  /** Whatever the node answered, refusals included: what a refusal means is the caller's to say. */
  response: CommandResponse;
  attempts: number;
  latencyMs: number;
}

interface Pending {
  nodeId: string;
  settle: (response: CommandResponse | CommandError) => void;
}

/**
 * Seconds added to a command's expiry for the difference between the bridge's and a node's clocks: a
 * node whose clock runs a little ahead must not refuse a fresh command as expired.
 */
const EXPIRY_CLOCK_SKEW_S = 5;

/** What a node's rejection means for the caller. */
const NODE_STATUS_ERRORS: Partial<Record<CommandStatus, CommandErrorCode>> = {
  unknown_param: "unknown_param",
  read_only: "read_only",
  out_of_range: "out_of_range",
  unknown_device: "unknown_device",
  busy: "busy",
  expired: "expired",
  bad_request: "node_error",
  error: "node_error",
};

export class CommandService {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: CommandServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    const { link, bus } = this.options;
    link.onCommandResponse((nodeId, response) => this.onResponse(nodeId, response));
    bus.on("commands", "device.availability", ({ nodeId, online, offlineSince }) => {
      if (online) this.replayDesired(nodeId, offlineSince);
      else this.failPendingFor(nodeId, new CommandError("offline", "the node went offline before confirming"));
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.options.bus.removeListeners("commands");
    for (const [, pending] of this.pending)
      pending.settle(new CommandError("bridge_unavailable", "Hearth is shutting down"));
    this.pending.clear();
  }

  /** Sends a command and resolves with the confirmed state; rejects with a CommandError. */
  async send(request: CommandRequest): Promise<CommandResult> {
    const { store, link } = this.options;
    const device = store.devices.get(request.deviceId);
    if (!device?.present) throw new CommandError("unknown_device", `no device "${request.deviceId}"`);
    const op = request.op ?? "set";
    const command = validateCommand(device.definition, op, request.params ?? {});
    if (this.stopped || !link.connected) {
      throw new CommandError("bridge_unavailable", "the bridge has no connection to the MQTT broker");
    }
    const startedAt = this.now();
    const commandId = newOrderedId(startedAt);
    const logEntry = {
      id: commandId,
      deviceId: device.id,
      actor: request.actor,
      op,
      params: command.params,
      at: startedAt,
    };
    // The desire is recorded even for an offline node: when it returns, what still differs is re-sent
    // (except for locks and covers, see DEVICE_TYPE_SPECS.replayDesiredOnReconnect).
    if (op === "set") store.devices.recordDesired(device.id, command.params, startedAt);
    store.commands.begin(logEntry);
    if (!device.online) {
      return this.fail(
        commandId,
        device.id,
        request.actor,
        startedAt,
        0,
        new CommandError("offline", `the node "${device.nodeId}" is offline`),
      );
    }

    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const payload = {
      id: commandId,
      op,
      dev: device.devId,
      ...(op === "set" ? { params: command.params } : {}),
      exp: Math.ceil((startedAt + timeoutMs) / 1000) + EXPIRY_CLOCK_SKEW_S,
    };
    const { outcome, attempts } = await this.publishAndWait(device.nodeId, payload, timeoutMs);

    if (outcome instanceof CommandError)
      return this.fail(commandId, device.id, request.actor, startedAt, attempts, outcome);
    return this.complete(
      commandId,
      device.id,
      device.nodeId,
      device.devId,
      request.actor,
      startedAt,
      attempts,
      outcome,
    );
  }

  /**
   * Sends a command to a node (not to a device) and resolves with the node's answer, whatever it is. The
   * same path as a device command: fast-fail when offline, a deadline, one retry with the same id.
   */
  async sendToNode(request: NodeCommandRequest): Promise<NodeCommandResult> {
    const { store, link } = this.options;
    if (!store.nodes.exists(request.nodeId)) throw new CommandError("unknown_device", `no node "${request.nodeId}"`);
    if (this.stopped || !link.connected) {
      throw new CommandError("bridge_unavailable", "the bridge has no connection to the MQTT broker");
    }
    if (!store.nodes.isOnline(request.nodeId))
      throw new CommandError("offline", `the node "${request.nodeId}" is offline`);
    const startedAt = this.now();
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const payload = {
      id: request.id,
      ...request.payload,
      exp: Math.ceil((startedAt + timeoutMs) / 1000) + EXPIRY_CLOCK_SKEW_S,
    };
    const { outcome, attempts } = await this.publishAndWait(request.nodeId, payload, timeoutMs);
    if (outcome instanceof CommandError) throw outcome;
    return { response: outcome, attempts, latencyMs: this.now() - startedAt };
  }

  /** Publishes, retries once with the same id at half the deadline, and waits for the node's answer. */
  private async publishAndWait(
    nodeId: string,
    payload: CommandPayload & { id: string },
    timeoutMs: number,
  ): Promise<{ outcome: CommandResponse | CommandError; attempts: number }> {
    const { link, log } = this.options;
    const commandId = payload.id;
    let attempts = 1;
    const outcome = await new Promise<CommandResponse | CommandError>((resolve) => {
      const retry = setTimeout(
        () => {
          attempts = 2;
          log.debug(
            { commandId, node: nodeId, ...(payload.dev ? { dev: payload.dev } : {}) },
            "no confirmation yet; retrying with the same id",
          );
          link.publishCommand(nodeId, payload).catch(() => undefined);
        },
        Math.floor(timeoutMs / 2),
      );
      const deadline = setTimeout(
        () => settle(new CommandError("timeout", `the node did not confirm within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const settle = (result: CommandResponse | CommandError) => {
        clearTimeout(retry);
        clearTimeout(deadline);
        this.pending.delete(commandId);
        resolve(result);
      };
      this.pending.set(commandId, { nodeId, settle });
      link.publishCommand(nodeId, payload).catch((error: Error) => {
        settle(new CommandError("bridge_unavailable", `could not publish the command: ${error.message}`));
      });
    });
    return { outcome, attempts };
  }

  private async complete(
    commandId: string,
    id: string,
    nodeId: string,
    devId: string,
    actor: string,
    startedAt: number,
    attempts: number,
    response: CommandResponse,
  ): Promise<CommandResult> {
    const { store, link, bus, log } = this.options;
    const errorCode = NODE_STATUS_ERRORS[response.status];
    if (errorCode) {
      const message = response.msg ? `the node refused: ${response.msg}` : `the node answered "${response.status}"`;
      return this.fail(commandId, id, actor, startedAt, attempts, new CommandError(errorCode, message));
    }
    let state: DeviceState | undefined;
    if (response.state) {
      try {
        state = link.recordState(nodeId, devId, response.state, response.seq, "command", actor);
      } catch (error) {
        log.warn({ commandId, err: (error as Error).message }, "could not record the state in a command response");
      }
    }
    state ??= store.devices.get(id)?.state ?? {};
    const status = response.status === "accepted" ? "accepted" : "ok";
    const completedAt = this.now();
    store.commands.finish(commandId, { status, resultState: state, attempts, completedAt });
    // A confirmed state is committed before anyone is told: once a caller has its answer, a crash
    // cannot take the state or the log entry back. Everything queued commits together, with the other
    // commands confirmed in this turn of the event loop.
    await store.writes.commit();
    bus.emit("command.result", {
      commandId,
      deviceId: id,
      actor,
      status,
      latencyMs: completedAt - startedAt,
      attempts,
      at: completedAt,
    });
    return { commandId, status, deviceId: id, state, latencyMs: completedAt - startedAt, attempts };
  }

  private fail(
    commandId: string,
    id: string,
    actor: string,
    startedAt: number,
    attempts: number,
    error: CommandError,
  ): never {
    const completedAt = this.now();
    this.options.store.commands.finish(commandId, { status: "error", errorCode: error.code, attempts, completedAt });
    this.options.bus.emit("command.result", {
      commandId,
      deviceId: id,
      actor,
      status: "error",
      errorCode: error.code,
      latencyMs: completedAt - startedAt,
      attempts,
      at: completedAt,
    });
    throw error;
  }

  private onResponse(nodeId: string, response: CommandResponse): void {
    if (response.id === null) return;
    const pending = this.pending.get(response.id);
    // A response from another node for this id is ignored: only the addressed node can confirm.
    if (!pending || pending.nodeId !== nodeId) return;
    pending.settle(response);
  }

  private failPendingFor(nodeId: string, error: CommandError): void {
    for (const pending of [...this.pending.values()]) if (pending.nodeId === nodeId) pending.settle(error);
  }

  /** Re-sends desired values that still differ from what a returning node reports. */
  private replayDesired(nodeId: string, offlineSince: number | undefined): void {
    const { store, log, desiredTtlSeconds } = this.options;
    if (desiredTtlSeconds <= 0) return;
    const since = this.now() - desiredTtlSeconds * 1000;
    for (const replay of store.devices.desiredToReplay(nodeId, since, offlineSince)) {
      const device = store.devices.get(replay.deviceId);
      if (!device || !DEVICE_TYPE_SPECS[device.type].replayDesiredOnReconnect) continue;
      log.info({ device: replay.deviceId, params: replay.params }, "re-sending desired state to a returning node");
      this.send({
        deviceId: replay.deviceId,
        params: replay.params as Record<string, ParamValue>,
        actor: "resync",
      }).catch((error: Error) =>
        log.warn({ device: replay.deviceId, err: error.message }, "re-sending desired state failed"),
      );
    }
  }
}
