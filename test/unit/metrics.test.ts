/**
 * The metrics' labels stay a bounded set whatever the traffic: device, node and user ids, tokens and paths never
 * become label values, however they reach the metrics (bus events, request paths, directive and intent names,
 * error codes). And the documentation matches the registry: docs/metrics.md describes every metric, and the
 * Grafana dashboard and the PromQL examples query only metrics that exist.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { Request, Response } from "express";
import { directiveName, directiveNamespace, directiveOutcome } from "../../src/alexa/route.ts";
import { EventBus } from "../../src/bus.ts";
import { intentLabel, intentOutcome } from "../../src/google/route.ts";
import {
  bounded,
  commandSource,
  Metrics,
  ROUTE_GROUPS,
  routeGroup,
  statusClass,
  statusLabel,
} from "../../src/metrics/index.ts";
import { resolveDeclaration } from "../../src/model/index.ts";
import { openDatabase, Store } from "../../src/store/index.ts";
import { familyOf, metricNamesIn, parseExposition } from "../helpers/metrics.ts";

const NODE = "kitchen-7";
const DEVICE = `${NODE}.light`;
const USER = "usr_Zq81bXk2";

function harness() {
  const store = new Store(openDatabase(":memory:"));
  const bus = new EventBus();
  const metrics = new Metrics({ bus, store, mqttConnected: () => true, version: "1.2.3" });
  metrics.start();
  return { store, bus, metrics };
}

/** What the HTTP observer reads of a finished request. */
function request(originalUrl: string, statusCode: number, locals: Record<string, unknown> = {}) {
  return [{ originalUrl } as Request, { statusCode, locals } as unknown as Response] as const;
}

describe("label values", () => {
  test("route groups, status classes and command sources come from fixed sets", () => {
    assert.equal(routeGroup(`/api/v1/devices/${DEVICE}/commands`), "admin");
    assert.equal(routeGroup("/api/v1/claim"), "claim");
    assert.equal(routeGroup("/ota/job-1/secret-token"), "ota");
    assert.equal(routeGroup("/hooks/doorbell"), "hooks");
    assert.equal(routeGroup("/oauth/token?grant_type=refresh_token"), "oauth");
    assert.equal(routeGroup("/alexa/smarthome"), "alexa");
    assert.equal(routeGroup("/google/fulfillment"), "google");
    assert.equal(routeGroup("/metrics?x=1"), "metrics");
    assert.equal(routeGroup("/metricsfoo"), "other");
    assert.equal(routeGroup("/healthz"), "healthz");
    assert.equal(routeGroup(`/${DEVICE}`), "other");
    assert.equal(statusClass(204), "2xx");
    assert.equal(statusClass(504), "5xx");
    assert.equal(statusClass(42), "other");
    assert.equal(commandSource(`alexa:${USER}`), "alexa");
    assert.equal(commandSource("admin:cli"), "admin");
    assert.equal(commandSource(`node:${NODE}`), "other");
    assert.equal(commandSource(USER), "other");
  });

  test("codes pass, anything shaped like an id or a token becomes other", () => {
    for (const code of ["ENDPOINT_UNREACHABLE", "deviceOffline", "invalid_grant", "ok", "timeout"]) {
      assert.equal(bounded(code), code);
    }
    for (const id of [
      DEVICE,
      NODE,
      USER,
      "abc123",
      "f0e4c2f76c58916ec258f246851bea091d14d4247a2fc3e18694461b1816e13b",
      "",
    ]) {
      assert.equal(bounded(id), "other", id);
    }
    assert.equal(statusLabel(404), "404");
    assert.equal(statusLabel(99), "other");
    assert.equal(statusLabel("network_error"), "network_error");
  });

  test("directive and intent names only as Hearth knows them", () => {
    const body = (namespace: unknown, name: unknown) => ({ directive: { header: { namespace, name } } });
    assert.equal(directiveNamespace(body("Alexa.PowerController", "TurnOn")), "Alexa.PowerController");
    assert.equal(directiveName(body("Alexa.PowerController", "TurnOn"), "Alexa.PowerController"), "TurnOn");
    assert.equal(directiveName(body("Alexa.PowerController", DEVICE), "Alexa.PowerController"), "other");
    assert.equal(directiveNamespace(body(`Alexa.${DEVICE}`, "TurnOn")), "other");
    assert.equal(directiveNamespace(undefined), "other");
    assert.equal(directiveNamespace(body("Alexa", "ReportState")), "Alexa");
    assert.equal(
      directiveOutcome({ event: { header: header("ErrorResponse"), payload: { type: "NO_SUCH_ENDPOINT" } } }),
      "NO_SUCH_ENDPOINT",
    );
    assert.equal(directiveOutcome({ event: { header: header("DeferredResponse"), payload: {} } }), "deferred");
    assert.equal(intentLabel({ inputs: [{ intent: "action.devices.EXECUTE" }] }), "EXECUTE");
    assert.equal(intentLabel({ inputs: [{ intent: `action.devices.${DEVICE}` }] }), "other");
    assert.equal(intentLabel(null), "other");
    assert.equal(
      intentOutcome({
        payload: { commands: [{ status: "SUCCESS" }, { status: "OFFLINE", errorCode: "deviceOffline" }] },
      }),
      "deviceOffline",
    );
    assert.equal(intentOutcome({ payload: { commands: [{ status: "PENDING" }] } }), "pending");
    assert.equal(intentOutcome({ payload: { errorCode: "authExpired" } }), "authExpired");
  });

  test("a device, node or user id never appears as a label value, whatever reaches the metrics", async () => {
    const { store, bus, metrics } = harness();
    const now = Date.now();
    store.nodes.add(NODE, "sha256:x", now);
    store.devices.applyNodeConfig(
      NODE,
      [resolveDeclaration({ id: "light", type: "light", params: [{ id: "on", type: "bool", rw: "rw" }] })],
      now,
    );
    store.nodes.setOnline(NODE, true, now);

    for (const [status, errorCode] of [
      ["ok", undefined],
      ["accepted", undefined],
      ["error", "timeout"],
      ["error", DEVICE],
    ] as const) {
      bus.emit("command.result", {
        commandId: "c1",
        deviceId: DEVICE,
        actor: `google:${USER}`,
        status,
        ...(errorCode ? { errorCode } : {}),
        latencyMs: 12,
        attempts: 2,
        at: now,
      });
    }
    bus.emit("device.availability", { nodeId: NODE, deviceIds: [DEVICE], online: false, at: now });
    bus.emit("ota.job", { jobId: "j1", nodeId: NODE, version: "1.0.1", state: "success", progress: 100, at: now });
    metrics.httpRequest(...request(`/api/v1/devices/${DEVICE}/commands`, 200, { platform: NODE }), 0.002);
    metrics.httpRequest(...request(`/hooks/${DEVICE}?token=${USER}`, 404), 0.001);
    metrics.httpRequest(
      ...request(`/google/fulfillment`, 200, { principal: { platform: "google", userId: USER } }),
      0.01,
    );
    metrics.alexaDirective("other", "other", `ENDPOINT_UNREACHABLE`, 0.3);
    metrics.alexaDirective("Alexa", "ReportState", DEVICE, 0.01);
    metrics.googleIntent("EXECUTE", USER, 0.2);
    metrics.oauthToken(NODE, "refresh_token", "invalid_grant");
    metrics.alexaEventSent("ChangeReport", "sent");
    metrics.alexaGatewayAnswered(403);
    metrics.alexaTokenRefreshed("invalid_grant");
    metrics.homegraphCall("report_state", { ok: false, status: 404, reason: "not_found" });
    metrics.homegraphCall("request_sync", { ok: false, reason: "unavailable" });
    metrics.webhookDelivery("retry");

    const text = await metrics.scrape();
    const samples = parseExposition(text);
    for (const sample of samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        for (const id of [NODE, DEVICE, USER]) {
          assert.ok(!value.includes(id), `${sample.name}{${label}="${value}"} carries an id`);
        }
      }
    }
    const values = (name: string, label: string) =>
      new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label]));
    for (const route of values("hearth_http_request_duration_seconds_count", "route")) {
      assert.ok((ROUTE_GROUPS as readonly unknown[]).includes(route), String(route));
    }
    assert.deepEqual(values("hearth_http_request_duration_seconds_count", "platform"), new Set(["none", "google"]));
    assert.deepEqual(values("hearth_commands_total", "source"), new Set(["google"]));
    assert.deepEqual(
      values("hearth_command_roundtrip_seconds_count", "outcome"),
      new Set(["ok", "accepted", "timeout", "offline", "other"]),
    );
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(value("hearth_command_retries_total"), 4);
    assert.equal(value("hearth_command_timeouts_total"), 1);
    assert.equal(value("hearth_nodes", { state: "online" }), 1);
    assert.equal(value("hearth_devices", { state: "online" }), 1);
    assert.equal(value("hearth_ota_jobs_total", { outcome: "success" }), 1);
    assert.equal(value("hearth_google_report_state_total", { status: "404" }), 1);
    assert.equal(value("hearth_google_request_sync_total", { status: "unavailable" }), 1);
    assert.equal(value("hearth_build_info", { version: "1.2.3" }), 1);
    metrics.stop();
    store.close();
  });

  test("each daemon has its own registry", async () => {
    const a = harness();
    const b = harness();
    a.metrics.webhookDelivery("delivered");
    const delivered = (text: string) => /^hearth_webhook_deliveries_total\{state="delivered"\} (\d+)$/m.exec(text)?.[1];
    assert.equal(delivered(await a.metrics.scrape()), "1");
    assert.equal(delivered(await b.metrics.scrape()), "0");
    for (const { metrics, store } of [a, b]) {
      metrics.stop();
      store.close();
    }
  });
});

function header(name: string) {
  return { namespace: "Alexa", name, messageId: "m", payloadVersion: "3" as const };
}

describe("documentation against the registry", async () => {
  const { metrics, store } = harness();
  const registered = await metrics.registry.getMetricsAsJSON();
  metrics.stop();
  store.close();
  const names = new Set(registered.map((m) => m.name));
  const histograms = new Set(registered.filter((m) => String(m.type) === "histogram").map((m) => m.name));
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

  test("docs/metrics.md has a row for every hearth_ metric, and names no metric that does not exist", () => {
    const doc = read("docs/metrics.md");
    for (const name of names) {
      if (!name.startsWith("hearth_")) continue;
      assert.match(doc, new RegExp(`^\\| \`${name}\` \\|`, "m"), `${name} has no row in docs/metrics.md`);
    }
    for (const name of metricNamesIn(doc)) {
      assert.ok(names.has(familyOf(name, histograms)), `docs/metrics.md names ${name}, which does not exist`);
    }
  });

  test("the Grafana dashboard is valid JSON and queries only metrics that exist", () => {
    const dashboard = JSON.parse(read("docs/grafana/hearth-dashboard.json")) as { panels?: unknown[] };
    const expressions: string[] = [];
    const walk = (value: unknown) => {
      if (Array.isArray(value)) for (const item of value) walk(item);
      else if (value && typeof value === "object") {
        for (const [key, child] of Object.entries(value)) {
          // Panels query in `expr`, template variables in `definition`.
          if ((key === "expr" || key === "definition") && typeof child === "string") expressions.push(child);
          else walk(child);
        }
      }
    };
    walk(dashboard);
    assert.ok((dashboard.panels?.length ?? 0) >= 6, "at least six panels");
    assert.ok(expressions.length >= 6, "every panel has a query");
    for (const expression of expressions) {
      const used = metricNamesIn(expression);
      assert.ok(used.length > 0, `no metric in ${expression}`);
      for (const name of used) assert.ok(names.has(familyOf(name, histograms)), `${name} in: ${expression}`);
    }
  });
});
