/**
 * Prometheus metrics (docs/metrics.md). Each daemon owns one registry — never prom-client's global one, which
 * several daemons in one test process would share — and only the process's own figures (CPU, memory, event
 * loop) come from one registry per process. What the bus announces (command results, node availability,
 * the MQTT link, firmware jobs) is counted from the bus; what it does not (HTTP requests, directives and intents,
 * reports to Amazon and Google, token requests, webhook deliveries) is reported through small hooks the
 * components call; and what is a count of rows (nodes, devices, pending deliveries) is read from the store when
 * Prometheus scrapes.
 *
 * Every label value comes from a fixed set in the code: a route group, a platform, an intent, an outcome, an
 * HTTP status. None is ever a device, node or user id, a token or a URL path, so the number of series stays
 * bounded whatever the traffic; `bounded()` turns anything unexpected into `other`.
 */
import type { Request, Response } from "express";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CommandResultEvent, EventBus } from "../bus.ts";
import { FINAL_OTA_JOB_STATES } from "../ota/jobs.ts";
import type { Store } from "../store/index.ts";

/**
 * Seconds, from 1 ms to 10 s: a command on a quiet LAN takes a few ms, Google's budget is 3–5 s, Alexa's 8 s, and
 * a command gives up after `commands.timeoutMs` (5 s by default, 60 s at most: the slowest land in +Inf).
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The route groups of `hearth_http_request_duration_seconds`: a handful, whatever paths clients ask for. */
export const ROUTE_GROUPS = [
  "admin",
  "oauth",
  "alexa",
  "google",
  "hooks",
  "ota",
  "claim",
  "metrics",
  "healthz",
  "other",
] as const;
export type RouteGroup = (typeof ROUTE_GROUPS)[number];

/** Which group a request's path belongs to. `originalUrl` still holds the query, which is never looked at. */
export function routeGroup(url: string): RouteGroup {
  if (url.startsWith("/api/v1/")) return url.startsWith("/api/v1/claim") ? "claim" : "admin";
  if (url.startsWith("/alexa/")) return "alexa";
  if (url.startsWith("/google/")) return "google";
  if (url.startsWith("/oauth/")) return "oauth";
  if (url.startsWith("/hooks/")) return "hooks";
  if (url.startsWith("/ota/")) return "ota";
  if (isPath(url, "/metrics")) return "metrics";
  if (isPath(url, "/healthz")) return "healthz";
  return "other";
}

function isPath(url: string, path: string): boolean {
  return url.startsWith(path) && (url.length === path.length || url[path.length] === "?");
}

const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

export function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100) - 1] ?? "other";
}

/** The platforms a token or an OAuth client may belong to; anything else (no token at all) is `none`. */
const PLATFORMS = new Set(["alexa", "google", "custom"]);

export function platformLabel(platform: unknown): string {
  return typeof platform === "string" && PLATFORMS.has(platform) ? platform : "none";
}

/**
 * A label value that came from the code (an error code, an outcome) rather than from a caller. Codes are letters
 * and underscores (`ENDPOINT_UNREACHABLE`, `deviceOffline`, `invalid_grant`); ids and tokens have digits, dots or
 * dashes, so one passed here by mistake becomes `other` instead of a new series.
 */
export function bounded(value: string): string {
  return /^[A-Za-z][A-Za-z_]{0,63}$/.test(value) ? value : "other";
}

/** An HTTP status as a label, or why there was none (`network_error`, `not_configured`…). */
export function statusLabel(status: number | string): string {
  if (typeof status === "string") return bounded(status);
  return Number.isInteger(status) && status >= 100 && status < 600 ? String(status) : "other";
}

/** Who asked for a command, without the user or hook it names: `alexa:<user>` → `alexa`. */
const COMMAND_SOURCES = new Set(["admin", "alexa", "google", "hook", "resync"]);

export function commandSource(actor: string): string {
  const colon = actor.indexOf(":");
  const source = colon < 0 ? actor : actor.slice(0, colon);
  return COMMAND_SOURCES.has(source) ? source : "other";
}

export type WebhookDeliveryState = "delivered" | "retry" | "dead" | "disabled";
export type HomeGraphCall = "report_state" | "request_sync";

export interface MetricsOptions {
  bus: EventBus;
  store: Store;
  /** Whether the bridge's own MQTT connection is up, read at every scrape. */
  mqttConnected: () => boolean;
  version: string;
}

const OWNER = "metrics";

let processRegistry: Registry | undefined;

/**
 * prom-client's process and Node.js metrics (process_cpu_seconds_total, nodejs_eventloop_lag_p99_seconds…), once
 * per process: they describe the process, whichever daemon in it is scraped, and each set starts an event-loop
 * monitor and a GC observer that cannot be stopped, which every daemon a test starts would otherwise add.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
  }
  return processRegistry;
}

/**
 * The hooks are arrow properties, so that a component can be handed `metrics.httpRequest` or the whole object
 * as the narrow observer interface it declares.
 */
export class Metrics {
  /** What `/metrics` serves: this daemon's own metrics and the process's. */
  readonly registry: Registry;
  private readonly bus: EventBus;

  private readonly http: Histogram<"route" | "status_class" | "platform">;
  /** `http.labels(…)` children by route, status class and platform: the hot path builds no labels object. */
  private readonly httpChildren = new Map<string, Map<string, Map<string, Histogram.Internal<string>>>>();
  private readonly alexaDirectives: Counter<"namespace" | "name" | "outcome">;
  private readonly alexaDirectiveSeconds: Histogram<"namespace">;
  private readonly googleIntents: Counter<"intent" | "outcome">;
  private readonly googleIntentSeconds: Histogram<"intent">;
  private readonly commands: Counter<"source" | "outcome">;
  private readonly commandRoundtrip: Histogram<"outcome">;
  private readonly roundtripChildren = new Map<string, Histogram.Internal<string>>();
  private readonly commandTimeouts: Counter;
  private readonly commandRetries: Counter;
  private readonly availabilityChanges: Counter<"state">;
  private readonly mqttDisconnects: Counter;
  private readonly tokenRefreshes: Counter<"platform" | "outcome">;
  private readonly oauthTokens: Counter<"platform" | "grant_type" | "outcome">;
  private readonly alexaChangeReports: Counter<"outcome">;
  private readonly alexaGateway: Counter<"status">;
  private readonly googleReportState: Counter<"status">;
  private readonly googleRequestSync: Counter<"status">;
  private readonly webhookDeliveries: Counter<"state">;
  private readonly otaJobs: Counter<"outcome">;

  constructor(options: MetricsOptions) {
    this.bus = options.bus;
    const { store } = options;
    // This daemon's own registry, never prom-client's global one: tests run several daemons in one process.
    const own = new Registry();
    const registers = [own];

    new Gauge({
      name: "hearth_build_info",
      help: "Always 1; the version of Hearth in the label.",
      labelNames: ["version"],
      registers,
    }).set({ version: options.version.slice(0, 64) }, 1);

    this.http = new Histogram({
      name: "hearth_http_request_duration_seconds",
      help: "HTTP requests by route group, status class and the platform of the caller's token or client, from the first byte read to the last written.",
      labelNames: ["route", "status_class", "platform"],
      buckets: LATENCY_BUCKETS,
      registers,
    });

    this.alexaDirectives = new Counter({
      name: "hearth_alexa_directives_total",
      help: "Alexa directives answered, by namespace, name and outcome (ok, deferred, an Alexa error type, forbidden).",
      labelNames: ["namespace", "name", "outcome"],
      registers,
    });
    this.alexaDirectiveSeconds = new Histogram({
      name: "hearth_alexa_directive_duration_seconds",
      help: "Time to answer an Alexa directive, from the request to the answer, by namespace.",
      labelNames: ["namespace"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.googleIntents = new Counter({
      name: "hearth_google_intents_total",
      help: "Google fulfillment requests answered, by intent and outcome (ok, pending, a Google error code).",
      labelNames: ["intent", "outcome"],
      registers,
    });
    this.googleIntentSeconds = new Histogram({
      name: "hearth_google_intent_duration_seconds",
      help: "Time to answer a Google SYNC, QUERY, EXECUTE or DISCONNECT, from the request to the answer.",
      labelNames: ["intent"],
      buckets: LATENCY_BUCKETS,
      registers,
    });

    this.commands = new Counter({
      name: "hearth_commands_total",
      help: "Device commands that reached a node or failed trying, by who asked and the outcome.",
      labelNames: ["source", "outcome"],
      registers,
    });
    this.commandRoundtrip = new Histogram({
      name: "hearth_command_roundtrip_seconds",
      help: "Device command round trip, from publishing it over MQTT to the node's confirmation (or the failure), by outcome. 1 ms resolution.",
      labelNames: ["outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.commandTimeouts = new Counter({
      name: "hearth_command_timeouts_total",
      help: "Device commands the node did not confirm within the deadline.",
      registers,
    });
    this.commandRetries = new Counter({
      name: "hearth_command_retries_total",
      help: "Device commands published a second time (same id) because the first got no answer by half the deadline.",
      registers,
    });

    new Gauge({
      name: "hearth_nodes",
      help: "Registered nodes by state (online, offline).",
      labelNames: ["state"],
      registers,
      collect() {
        const counts = store.nodes.countByState();
        this.set({ state: "online" }, counts.online);
        this.set({ state: "offline" }, counts.offline);
      },
    });
    new Gauge({
      name: "hearth_devices",
      help: "Devices the nodes declare, by the state of their node (online, offline).",
      labelNames: ["state"],
      registers,
      collect() {
        const counts = store.devices.countByState();
        this.set({ state: "online" }, counts.online);
        this.set({ state: "offline" }, counts.offline);
      },
    });
    this.availabilityChanges = new Counter({
      name: "hearth_node_availability_changes_total",
      help: "Nodes coming online or going offline; shows flapping between two scrapes.",
      labelNames: ["state"],
      registers,
    });

    new Gauge({
      name: "hearth_mqtt_connected",
      help: "1 while the bridge's own MQTT connection is up, else 0.",
      registers,
      collect() {
        this.set(options.mqttConnected() ? 1 : 0);
      },
    });
    this.mqttDisconnects = new Counter({
      name: "hearth_mqtt_disconnects_total",
      help: "Times the bridge lost its MQTT connection.",
      registers,
    });

    this.tokenRefreshes = new Counter({
      name: "hearth_token_refreshes_total",
      help: "Refreshes of the tokens Hearth holds for a platform (alexa: Login with Amazon tokens of the event gateway), by outcome.",
      labelNames: ["platform", "outcome"],
      registers,
    });
    this.oauthTokens = new Counter({
      name: "hearth_oauth_token_requests_total",
      help: "Requests to Hearth's own OAuth token endpoint, by the client's platform, grant type and outcome (ok or the OAuth error).",
      labelNames: ["platform", "grant_type", "outcome"],
      registers,
    });
    this.alexaChangeReports = new Counter({
      name: "hearth_alexa_change_reports_total",
      help: "ChangeReports to Alexa's event gateway per linked user, by outcome (sent, dropped, failed).",
      labelNames: ["outcome"],
      registers,
    });
    this.alexaGateway = new Counter({
      name: "hearth_alexa_event_gateway_responses_total",
      help: "Answers of Alexa's event gateway to every event sent (retries included), by HTTP status, or network_error.",
      labelNames: ["status"],
      registers,
    });
    this.googleReportState = new Counter({
      name: "hearth_google_report_state_total",
      help: "Report State calls to Google HomeGraph, by HTTP status, or why there was none (unavailable, not_configured, permission_denied, other).",
      labelNames: ["status"],
      registers,
    });
    this.googleRequestSync = new Counter({
      name: "hearth_google_request_sync_total",
      help: "Request Sync calls to Google HomeGraph, by HTTP status, or why there was none.",
      labelNames: ["status"],
      registers,
    });

    this.webhookDeliveries = new Counter({
      name: "hearth_webhook_deliveries_total",
      help: "Outbound webhook delivery attempts, by what followed (delivered, retry, dead, disabled).",
      labelNames: ["state"],
      registers,
    });
    new Gauge({
      name: "hearth_webhook_outbox_pending",
      help: "Outbound webhook deliveries waiting for their first or next attempt.",
      registers,
      collect() {
        this.set(store.outbox.pendingCount());
      },
    });
    this.otaJobs = new Counter({
      name: "hearth_ota_jobs_total",
      help: "Firmware update jobs that ended, by outcome (success, failed, rejected, timeout).",
      labelNames: ["outcome"],
      registers,
    });
    this.zero();
    // The process metrics keep their usual names, so that existing dashboards for Node.js find them; the same
    // metric objects, so both registries stay live.
    this.registry = Registry.merge([processMetrics(), own]);
  }

  /** Counts from the bus from now on. */
  start(): void {
    const { bus } = this;
    bus.on(OWNER, "command.result", (event) => this.commandResult(event));
    bus.on(OWNER, "device.availability", (event) =>
      this.availabilityChanges.inc({ state: event.online ? "online" : "offline" }),
    );
    bus.on(OWNER, "bridge.link", (event) => {
      if (!event.connected) this.mqttDisconnects.inc();
    });
    bus.on(OWNER, "ota.job", (event) => {
      if (FINAL_OTA_JOB_STATES.has(event.state)) this.otaJobs.inc({ outcome: event.state });
    });
  }

  stop(): void {
    this.bus.removeListeners(OWNER);
  }

  /**
   * The series of fixed label sets start at 0 rather than at their first event: `increase()` and alerts then see
   * the first one, and a dashboard shows 0 instead of "no data".
   */
  private zero(): void {
    for (const state of ["online", "offline"]) this.availabilityChanges.labels(state).inc(0);
    for (const state of ["delivered", "retry", "dead", "disabled"]) this.webhookDeliveries.labels(state).inc(0);
    for (const outcome of FINAL_OTA_JOB_STATES) this.otaJobs.labels(outcome).inc(0);
    for (const outcome of ["sent", "dropped", "failed"]) this.alexaChangeReports.labels(outcome).inc(0);
    for (const outcome of ["ok", "timeout", "offline"]) this.commandRoundtrip.zero({ outcome });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; the gauges read the store now. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  private commandResult(event: CommandResultEvent): void {
    const outcome = event.status === "error" ? bounded(event.errorCode ?? "error") : event.status;
    let child = this.roundtripChildren.get(outcome);
    if (!child) {
      child = this.commandRoundtrip.labels(outcome);
      this.roundtripChildren.set(outcome, child);
    }
    child.observe(event.latencyMs / 1000);
    this.commands.labels(commandSource(event.actor), outcome).inc();
    if (outcome === "timeout") this.commandTimeouts.inc();
    if (event.attempts > 1) this.commandRetries.inc(event.attempts - 1);
  }

  /** A finished HTTP request (request-log.ts). */
  readonly httpRequest = (req: Request, res: Response, seconds: number): void => {
    const route = routeGroup(req.originalUrl);
    const status = statusClass(res.statusCode);
    const platform = platformLabel(res.locals.platform ?? res.locals.principal?.platform);
    let byStatus = this.httpChildren.get(route);
    if (!byStatus) {
      byStatus = new Map();
      this.httpChildren.set(route, byStatus);
    }
    let byPlatform = byStatus.get(status);
    if (!byPlatform) {
      byPlatform = new Map();
      byStatus.set(status, byPlatform);
    }
    let child = byPlatform.get(platform);
    if (!child) {
      child = this.http.labels(route, status, platform);
      byPlatform.set(platform, child);
    }
    child.observe(seconds);
  };

  /** An Alexa directive answered; `namespace` and `name` are already limited to the ones Hearth knows. */
  readonly alexaDirective = (namespace: string, name: string, outcome: string, seconds: number): void => {
    this.alexaDirectives.labels(namespace, name, bounded(outcome)).inc();
    this.alexaDirectiveSeconds.labels(namespace).observe(seconds);
  };

  /** A Google fulfillment request answered; `intent` is SYNC, QUERY, EXECUTE, DISCONNECT or other. */
  readonly googleIntent = (intent: string, outcome: string, seconds: number): void => {
    this.googleIntents.labels(intent, bounded(outcome)).inc();
    this.googleIntentSeconds.labels(intent).observe(seconds);
  };

  /** Hearth's own OAuth token endpoint answered; `grantType` is authorization_code, refresh_token or other. */
  readonly oauthToken = (platform: string | undefined, grantType: string, outcome: string): void => {
    this.oauthTokens.labels(platformLabel(platform), grantType, bounded(outcome)).inc();
  };

  /** An event went (or did not go) to Alexa's event gateway; only ChangeReports are counted by outcome. */
  readonly alexaEventSent = (what: string, outcome: string): void => {
    if (what === "ChangeReport") this.alexaChangeReports.labels(bounded(outcome)).inc();
  };

  /** One answer of Alexa's event gateway: its HTTP status, or `network_error`. */
  readonly alexaGatewayAnswered = (status: number | string): void => {
    this.alexaGateway.labels(statusLabel(status)).inc();
  };

  /** A refresh of a Login with Amazon token of the event gateway: ok, invalid_grant, error, not_configured. */
  readonly alexaTokenRefreshed = (outcome: string): void => {
    this.tokenRefreshes.labels("alexa", bounded(outcome)).inc();
  };

  /** A HomeGraph call's outcome: its HTTP status when HomeGraph answered, the reason otherwise. */
  readonly homegraphCall = (call: HomeGraphCall, outcome: { ok: boolean; status?: number; reason?: string }): void => {
    const status = outcome.ok ? "200" : statusLabel(outcome.status ?? outcome.reason ?? "other");
    (call === "report_state" ? this.googleReportState : this.googleRequestSync).labels(status).inc();
  };

  /** An outbound webhook attempt ended. */
  readonly webhookDelivery = (state: WebhookDeliveryState): void => {
    this.webhookDeliveries.labels(state).inc();
  };
}
