/**
 * Proactive events to Alexa's event gateway: a ChangeReport whenever a reported property changes,
 * whatever caused it (a voice command, a button on the node, a webhook, the node going offline), and
 * AddOrUpdateReport / DeleteReport when devices or scenes appear, are renamed or go away, so that users
 * never have to say "discover devices" again. Changes of one device are coalesced for a short window:
 * a light switched on and dimmed in one command is one report, and the gateway's rate limit is spared.
 *
 * Every Alexa account linked with an event-gateway grant receives every report: all devices belong to
 * the household.
 */
import type { EventBus } from "../bus.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import type { SceneService } from "../scenes/index.ts";
import type { Store } from "../store/index.ts";
import {
  type DiscoveryEndpoint,
  deviceEndpoint,
  endpointIdOfDevice,
  endpointIdOfScene,
  isExposed,
  MAX_ENDPOINTS,
  presentDevice,
  sceneEndpoint,
} from "./endpoints.ts";
import type { AlexaEventGateway } from "./event-gateway.ts";
import { CONNECTIVITY_SOURCE } from "./interfaces/endpoint-health.ts";
import type { AlexaEvent } from "./messages.ts";
import { propertyValues, stamp } from "./properties.ts";
import { addOrUpdateReport, type ChangeCause, changeReport, deleteReport } from "./responses.ts";

export interface ProactiveReportsDeps {
  bus: EventBus;
  store: Store;
  config: Config;
  scenes: SceneService;
  gateway: Pick<AlexaEventGateway, "recipients" | "send">;
  log: Logger;
  now?: () => number;
  startupGraceMs?: number;
}

/** Readings a node sends on its own schedule rather than because something happened. */
const MEASUREMENTS = new Set([
  "temperature_c",
  "current_c",
  "humidity_pct",
  "battery_pct",
  "illuminance_lx",
  "co2_ppm",
]);

/** What Alexa is told caused a change made through a command, by who asked for it. */
export function causeOfCommand(actor: string | undefined): ChangeCause {
  if (actor?.startsWith("alexa:")) return "VOICE_INTERACTION";
  if (actor?.startsWith("hook:")) return "RULE_TRIGGER";
  return "APP_INTERACTION";
}

export function causeOfReport(changed: readonly string[]): ChangeCause {
  return changed.length > 0 && changed.every((param) => MEASUREMENTS.has(param))
    ? "PERIODIC_POLL"
    : "PHYSICAL_INTERACTION";
}

/**
 * Every node counts as offline when Hearth starts, until the broker says otherwise; reporting each one as
 * "back online" would be a burst of false news at every restart. Nodes still offline this long after the
 * start are reported as unreachable instead.
 */
export const STARTUP_GRACE_MS = 15_000;

interface PendingChange {
  sources: Set<string>;
  cause: ChangeCause;
  timer: NodeJS.Timeout;
}

const OWNER = "alexa-proactive";
/** How long a slow actuator's arrival is attributed to the command that set it moving. */
const ACTUATION_WINDOW_MS = 120_000;

export class AlexaProactiveReports {
  private readonly pending = new Map<string, PendingChange>();
  /** Devices that accepted a command and are on their way, with who asked. */
  private readonly moving = new Map<string, { actor: string; until: number }>();
  /** Nodes Alexa has been told are unreachable, or would have been: their return is news. */
  private readonly reportedOffline = new Set<string>();
  private startupTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly deps: ProactiveReportsDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const { bus } = this.deps;
    bus.on(OWNER, "device.state", (event) => {
      const moving = this.moving.get(event.deviceId);
      const cause =
        event.cause === "command"
          ? causeOfCommand(event.actor)
          : moving && event.at <= moving.until
            ? causeOfCommand(moving.actor)
            : causeOfReport(event.changed);
      // Arrived (or jammed): what the device reports from now on is its own doing again.
      const { lock_state: bolt, moving: motion } = event.state;
      if (
        moving &&
        event.cause === "report" &&
        motion !== "opening" &&
        motion !== "closing" &&
        bolt !== "locking" &&
        bolt !== "unlocking"
      ) {
        this.moving.delete(event.deviceId);
      }
      this.noteChange(event.deviceId, event.changed, cause);
    });
    // A node publishes its new state before it answers the command, so the change first looks like its own
    // report; the command's result, which follows at once, says who really caused it.
    bus.on(OWNER, "command.result", (event) => {
      // A slow actuator's final state arrives later as the node's own report; it is still the command's doing.
      if (event.status === "accepted") {
        this.moving.set(event.deviceId, { actor: event.actor, until: event.at + ACTUATION_WINDOW_MS });
      } else {
        this.moving.delete(event.deviceId);
      }
      const pending = this.pending.get(event.deviceId);
      if (pending && event.status !== "error" && pending.cause !== "VOICE_INTERACTION") {
        pending.cause = causeOfCommand(event.actor);
      }
    });
    bus.on(OWNER, "device.availability", (event) => {
      if (event.online && !this.reportedOffline.delete(event.nodeId)) return;
      if (!event.online) this.reportedOffline.add(event.nodeId);
      for (const deviceId of event.deviceIds) this.noteChange(deviceId, [CONNECTIVITY_SOURCE], "PHYSICAL_INTERACTION");
    });
    bus.on(OWNER, "device.registry", (event) => {
      this.reportDevices(event.added, event.changed, event.removed);
    });
    bus.on(OWNER, "scene.registry", (event) => {
      this.reportScenes([...event.added, ...event.changed], event.removed);
    });
    this.startupTimer = setTimeout(() => this.reportStillOffline(), this.deps.startupGraceMs ?? STARTUP_GRACE_MS);
    this.startupTimer.unref();
  }

  private reportStillOffline(): void {
    for (const device of this.deps.store.devices.list()) {
      if (device.online) continue;
      this.reportedOffline.add(device.nodeId);
      this.noteChange(device.id, [CONNECTIVITY_SOURCE], "PHYSICAL_INTERACTION");
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.bus.removeListeners(OWNER);
    clearTimeout(this.startupTimer);
    for (const change of this.pending.values()) clearTimeout(change.timer);
    this.pending.clear();
  }

  private noteChange(deviceId: string, sources: readonly string[], cause: ChangeCause): void {
    if (this.stopped || this.deps.gateway.recipients().length === 0) return;
    const pending = this.pending.get(deviceId);
    if (pending) {
      for (const source of sources) pending.sources.add(source);
      // The latest cause wins, except that a voice command stays the cause of what it changed.
      if (pending.cause !== "VOICE_INTERACTION") pending.cause = cause;
      return;
    }
    const timer = setTimeout(() => this.flush(deviceId), this.deps.config.alexa.changeReportDelayMs);
    this.pending.set(deviceId, { sources: new Set(sources), cause, timer });
  }

  private flush(deviceId: string): void {
    const change = this.pending.get(deviceId);
    this.pending.delete(deviceId);
    const record = this.deps.store.devices.get(deviceId);
    if (!change || !record) return;
    const device = presentDevice(record, this.deps.config.devices);
    if (!isExposed(device)) return;
    const now = this.now();
    const values = propertyValues(device);
    const isChanged = (sources: readonly string[]) => sources.some((s) => change.sources.has(s));
    const changed = values.filter((v) => isChanged(v.sources)).map((v) => stamp(device, v, now));
    if (changed.length === 0) return;
    const unchanged = values.filter((v) => !isChanged(v.sources)).map((v) => stamp(device, v, now));
    const endpointId = endpointIdOfDevice(deviceId);
    this.broadcast("ChangeReport", (token) => changeReport(token, endpointId, change.cause, changed, unchanged));
  }

  private reportDevices(
    addedIds: readonly string[],
    changedIds: readonly string[],
    removedIds: readonly string[],
  ): void {
    if (this.stopped || this.deps.gateway.recipients().length === 0) return;
    const { store, config } = this.deps;
    const nodes = new Map(store.nodes.list().map((node) => [node.id, node]));
    const updated: DiscoveryEndpoint[] = [];
    const removed = removedIds.map(endpointIdOfDevice);
    for (const id of [...addedIds, ...changedIds]) {
      const record = store.devices.get(id);
      const device = record ? presentDevice(record, config.devices) : undefined;
      if (device && isExposed(device)) {
        updated.push(deviceEndpoint(device, nodes.get(device.nodeId), config.alexa.manufacturerName));
      } else if (changedIds.includes(id)) {
        // A device that changed into something Alexa cannot use is gone as far as Alexa is concerned; one
        // that never was usable was never there.
        removed.push(endpointIdOfDevice(id));
      }
    }
    this.sendDiscoveryChanges(updated, removed);
  }

  private reportScenes(updatedIds: readonly string[], removedIds: readonly string[]): void {
    if (this.stopped || this.deps.gateway.recipients().length === 0) return;
    const manufacturer = this.deps.config.alexa.manufacturerName;
    const updated = updatedIds.flatMap((id) => {
      const scene = this.deps.scenes.get(id);
      return scene ? [sceneEndpoint(scene, manufacturer)] : [];
    });
    this.sendDiscoveryChanges(updated, removedIds.map(endpointIdOfScene));
  }

  private sendDiscoveryChanges(updated: DiscoveryEndpoint[], removed: string[]): void {
    for (let i = 0; i < updated.length; i += MAX_ENDPOINTS) {
      const chunk = updated.slice(i, i + MAX_ENDPOINTS);
      this.broadcast("AddOrUpdateReport", (token) => addOrUpdateReport(token, chunk));
    }
    for (let i = 0; i < removed.length; i += MAX_ENDPOINTS) {
      const chunk = removed.slice(i, i + MAX_ENDPOINTS);
      this.broadcast("DeleteReport", (token) => deleteReport(token, chunk));
    }
  }

  private broadcast(what: string, build: (token: string) => AlexaEvent): void {
    for (const userId of this.deps.gateway.recipients()) {
      this.deps.gateway.send(userId, build, what).catch((error: unknown) => {
        this.deps.log.warn({ err: (error as Error).message, what }, "an Alexa event could not be sent");
      });
    }
  }
}
