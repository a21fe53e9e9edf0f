/**
 * The typed event bus: components meet here, never call each other. Every listener is registered under
 * an owner key so a component's `stop()` removes all of its listeners in one call.
 */
import { EventEmitter } from "node:events";
import type { OtaState } from "./devices/protocol.ts";
import type { ParamValue } from "./model/index.ts";
import type { OtaJobState } from "./ota/jobs.ts";

export type DeviceState = Record<string, ParamValue>;

export interface DeviceStateEvent {
  deviceId: string;
  nodeId: string;
  /** The full reported state after the change. */
  state: DeviceState;
  /** Params whose value changed with this report (empty for a report that changed nothing). */
  changed: string[];
  /** What caused it: a node's own report, or the confirmation of a command. */
  cause: "report" | "command";
  /** Who asked for the command (`alexa:<user>`, `admin:cli`…), when the cause is a command. */
  actor?: string;
  at: number;
}

export interface DeviceAvailabilityEvent {
  nodeId: string;
  deviceIds: string[];
  online: boolean;
  /** On `online`: when the node had gone offline, if known. */
  offlineSince?: number;
  at: number;
}

export interface DeviceRegistryEvent {
  nodeId: string;
  added: string[];
  removed: string[];
  changed: string[];
  at: number;
}

export interface CommandResultEvent {
  commandId: string;
  deviceId: string;
  actor: string;
  status: "ok" | "accepted" | "error";
  errorCode?: string;
  latencyMs: number;
  /** Publishes of the command: 0 when it failed before one (offline node), 2 when it was retried. */
  attempts: number;
  at: number;
}

export interface NodeEventEvent {
  nodeId: string;
  deviceId?: string;
  type: string;
  payload: Record<string, unknown>;
  at: number;
}

/** Scenes created, removed or edited through the admin API (config scenes only change with a restart). */
export interface SceneRegistryEvent {
  added: string[];
  removed: string[];
  changed: string[];
  at: number;
}

/**
 * An account link made, ended by the user or found broken, for outbound webhooks. `linked`: an OAuth code
 * was exchanged; `unlinked`: the user unlinked in the assistant's app; `broken`: the platform no longer
 * accepts what Hearth sends for the user.
 */
export interface LinkChangedEvent {
  userId: string;
  platform: string;
  state: "linked" | "unlinked" | "broken";
  at: number;
}

/** A node's report on a firmware update (`ota/status`), as it came; the OTA service matches it to a job. */
export interface OtaStatusEvent {
  nodeId: string;
  /** The `ota` command's id, which is the job's id. */
  id: string;
  state: OtaState;
  progress?: number;
  version?: string;
  error?: string;
  msg?: string;
  at: number;
}

/** A firmware update job changed: created, sent, moved on by the node, or ended. */
export interface OtaJobEvent {
  jobId: string;
  nodeId: string;
  version: string;
  state: OtaJobState;
  progress: number | null;
  /** Why a job ended other than in `success`. */
  error?: string;
  at: number;
}

export interface BridgeLinkEvent {
  connected: boolean;
  at: number;
}

export interface EventMap {
  "device.state": DeviceStateEvent;
  "device.availability": DeviceAvailabilityEvent;
  "device.registry": DeviceRegistryEvent;
  "command.result": CommandResultEvent;
  "node.event": NodeEventEvent;
  "bridge.link": BridgeLinkEvent;
  "scene.registry": SceneRegistryEvent;
  "link.changed": LinkChangedEvent;
  "ota.status": OtaStatusEvent;
  "ota.job": OtaJobEvent;
}

export type EventName = keyof EventMap;

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly owned = new Map<string, Array<{ event: EventName; listener: (payload: unknown) => void }>>();

  constructor() {
    // Subscribers are components, not requests; a high count is expected, not a leak.
    this.emitter.setMaxListeners(100);
  }

  on<E extends EventName>(owner: string, event: E, listener: (payload: EventMap[E]) => void): void {
    // A throwing listener must not break the emitter or the other listeners.
    const safe = (payload: EventMap[E]) => {
      try {
        listener(payload);
      } catch (error) {
        this.emitter.emit("listener-error", { owner, event, error });
      }
    };
    this.emitter.on(event, safe);
    const list = this.owned.get(owner) ?? [];
    list.push({ event, listener: safe as (payload: unknown) => void });
    this.owned.set(owner, list);
  }

  emit<E extends EventName>(event: E, payload: EventMap[E]): void {
    this.emitter.emit(event, payload);
  }

  /** Reports listener failures (to the log, in the composition root). */
  onListenerError(handler: (info: { owner: string; event: EventName; error: unknown }) => void): void {
    this.emitter.on("listener-error", handler);
  }

  removeListeners(owner: string): void {
    for (const { event, listener } of this.owned.get(owner) ?? []) this.emitter.off(event, listener);
    this.owned.delete(owner);
  }
}
