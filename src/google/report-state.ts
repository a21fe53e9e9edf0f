/**
 * Keeping Google's HomeGraph truthful: every state change, whatever caused it, is reported (Report
 * State), coalesced per user over a short window; an offline node's devices are reported `online: false`;
 * a slow actuator answered `PENDING` gets its follow-up notification when it arrives; and a change of the
 * device list makes Google ask for a new SYNC (Request Sync, debounced). A 404 from Google means it no
 * longer knows the user: the link is marked broken in the link health until the user syncs again.
 *
 * Every Google-linked user is told about every device: all devices belong to the household.
 */
import { randomUUID } from "node:crypto";
import type { EventBus } from "../bus.ts";
import type { Config } from "../config/index.ts";
import { ArrivalWatcher } from "../devices/arrival.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/index.ts";
import type { PendingCommand } from "./context.ts";
import { deviceStates, isExposed, present } from "./devices.ts";
import type { HomeGraph, HomeGraphOutcome } from "./homegraph.ts";
import { isLocked } from "./traits/lock-unlock.ts";

/** Told the outcome of every HomeGraph call (metrics). */
export interface HomeGraphMetrics {
  homegraphCall(call: "report_state" | "request_sync", outcome: HomeGraphOutcome): void;
}

export interface ReportStateDeps {
  bus: EventBus;
  store: Store;
  config: Config;
  homegraph: Pick<HomeGraph, "configured" | "reportState" | "requestSync">;
  log: Logger;
  metrics?: HomeGraphMetrics | undefined;
  now?: () => number;
  startupGraceMs?: number;
}

const OWNER = "google-report-state";
/** How long a PENDING command may take before Google is told it failed. */
export const FOLLOW_UP_LIMIT_MS = 60_000;
const BROKEN = "Google does not know this user any more: unlink and link Hearth again in the Google Home app";
/** Every node counts as offline at start until the broker says otherwise; those still offline after this are news. */
export const STARTUP_GRACE_MS = 15_000;
/** How long the list of users to report to is reused: it is read on every state change. */
const RECIPIENTS_TTL_MS = 1000;

export class GoogleReportState {
  private readonly changed = new Set<string>();
  private reportTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly arrivals: ArrivalWatcher;
  private readonly now: () => number;
  private stopped = false;
  private startupTimer: NodeJS.Timeout | undefined;
  private cachedRecipients: { users: string[]; at: number } | undefined;

  constructor(private readonly deps: ReportStateDeps) {
    this.now = deps.now ?? Date.now;
    this.arrivals = new ArrivalWatcher(deps.bus, deps.store);
  }

  start(): void {
    const { bus } = this.deps;
    bus.on(OWNER, "device.state", (event) => this.noteChange([event.deviceId]));
    bus.on(OWNER, "device.availability", (event) => this.noteChange(event.deviceIds));
    bus.on(OWNER, "device.registry", () => this.scheduleSync());
    bus.on(OWNER, "scene.registry", () => this.scheduleSync());
    // Google still believes what it was told before the restart: nodes that did not come back are news.
    this.startupTimer = setTimeout(() => {
      this.noteChange(
        this.deps.store.devices
          .list()
          .filter((device) => !device.online)
          .map((device) => device.id),
      );
    }, this.deps.startupGraceMs ?? STARTUP_GRACE_MS);
    this.startupTimer.unref();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.bus.removeListeners(OWNER);
    clearTimeout(this.reportTimer);
    clearTimeout(this.syncTimer);
    clearTimeout(this.startupTimer);
    this.arrivals.stop();
  }

  /** Users Google should hear about: linked, and not known to be unlinked or broken. */
  private recipients(): string[] {
    if (!this.deps.homegraph.configured) return [];
    const now = this.now();
    if (this.cachedRecipients && now - this.cachedRecipients.at <= RECIPIENTS_TTL_MS)
      return this.cachedRecipients.users;
    const users = this.deps.store.googleLinks.reportable();
    // Nobody yet is not remembered: a user who just synced must be reported to at once.
    this.cachedRecipients = users.length > 0 ? { users, at: now } : undefined;
    return users;
  }

  private noteChange(deviceIds: readonly string[]): void {
    if (this.stopped || this.recipients().length === 0) return;
    for (const id of deviceIds) this.changed.add(id);
    this.reportTimer ??= setTimeout(() => {
      this.reportTimer = undefined;
      void this.flush();
    }, this.deps.config.google.reportStateDelayMs);
  }

  /** The states of the changed devices, the whole state of each trait, as HomeGraph wants them. */
  private async flush(): Promise<void> {
    const ids = [...this.changed];
    this.changed.clear();
    const states: Record<string, object> = {};
    for (const id of ids) {
      const record = this.deps.store.devices.get(id);
      const device = record ? present(record, this.deps.config) : undefined;
      if (!device || !isExposed(device)) continue;
      states[id] = device.online ? deviceStates(device) : { online: false };
    }
    if (Object.keys(states).length === 0) return;
    await Promise.all(
      this.recipients().map(async (userId) => this.record(userId, await this.reportState(userId, states))),
    );
  }

  /** Users to ask for a SYNC at the next window; all recipients when the device list changed. */
  private readonly syncFor = new Set<string>();

  private scheduleSync(users: readonly string[] = this.recipients()): void {
    if (this.stopped || users.length === 0) return;
    for (const user of users) this.syncFor.add(user);
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = undefined;
      const due = [...this.syncFor];
      this.syncFor.clear();
      void Promise.all(
        due.map(async (userId) => {
          const outcome = await this.deps.homegraph.requestSync(userId);
          this.deps.metrics?.homegraphCall("request_sync", outcome);
          this.recordSync(userId, outcome);
        }),
      );
    }, this.deps.config.google.requestSyncDelayMs);
  }

  /**
   * A command answered PENDING: when the device arrives, Google gets the follow-up notification with its
   * token, and the state; if it does not arrive in time, a failure.
   */
  followUp(pending: PendingCommand): void {
    if (this.stopped || !this.recipients().includes(pending.userId)) return;
    const { userId, deviceId, trait, followUpToken, params } = pending;
    this.arrivals
      .wait(deviceId, params, FOLLOW_UP_LIMIT_MS)
      .then(async (arrived) => {
        if (this.stopped) return;
        const record = this.deps.store.devices.get(deviceId);
        const device = record ? present(record, this.deps.config) : undefined;
        if (!device) return;
        const result = arrived
          ? {
              status: "SUCCESS",
              ...(trait === "LockUnlock"
                ? { isLocked: isLocked(device) }
                : { openPercent: Math.round(Number(device.state.position)) }),
            }
          : { status: "FAILURE", errorCode: device.online ? "deviceJammingDetected" : "deviceOffline" };
        if (result.status === "SUCCESS" && trait !== "LockUnlock" && typeof device.state.position !== "number") return;
        const outcome = await this.reportState(
          userId,
          { [deviceId]: device.online ? deviceStates(device) : { online: false } },
          {
            eventId: randomUUID(),
            ...(followUpToken
              ? {
                  notifications: {
                    [deviceId]: { [trait]: { priority: 0, followUpResponse: { ...result, followUpToken } } },
                  },
                }
              : {}),
          },
        );
        this.record(userId, outcome);
      })
      .catch((error: unknown) => this.deps.log.warn({ err: (error as Error).message }, "a Google follow-up failed"));
  }

  private async reportState(
    userId: string,
    states: Record<string, object>,
    options?: Parameters<HomeGraph["reportState"]>[2],
  ): Promise<HomeGraphOutcome> {
    const outcome = await this.deps.homegraph.reportState(userId, states, options);
    this.deps.metrics?.homegraphCall("report_state", outcome);
    return outcome;
  }

  /**
   * A report's outcome. A 404 may mean a device Google has not synced yet (just after linking, or a new
   * node), so it is answered with a Request Sync; only a 404 to that marks the link broken.
   */
  private record(userId: string, outcome: HomeGraphOutcome): void {
    // An answer that arrives after the stop is not recorded: the daemon closes the store right after.
    if (this.stopped) return;
    const { store, log } = this.deps;
    const now = this.now();
    if (outcome.ok) {
      store.googleLinks.recordReport(userId, now);
      return;
    }
    if (outcome.reason === "not_found") {
      log.info({ user: userId }, "Google does not know a reported device yet: asking it to sync");
      this.scheduleSync([userId]);
      return;
    }
    store.googleLinks.recordError(userId, outcome.message, now);
    log.warn(
      { user: userId, reason: outcome.reason, status: outcome.status, message: outcome.message },
      "HomeGraph refused a report",
    );
  }

  private recordSync(userId: string, outcome: HomeGraphOutcome): void {
    if (this.stopped) return;
    const { store, log } = this.deps;
    if (outcome.ok || outcome.reason !== "not_found") {
      this.record(userId, outcome);
      return;
    }
    const now = this.now();
    store.googleLinks.markBroken(userId, BROKEN, now);
    store.grants.recordLinkError(userId, "google", BROKEN, now, "broken");
    this.cachedRecipients = undefined;
    log.warn({ user: userId }, "Google answered 404 to a Request Sync: the link is marked broken");
  }
}
