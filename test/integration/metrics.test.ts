/**
 * `GET /metrics` on a real daemon after real traffic: an admin command, an Alexa directive (and one with a bad
 * token), a Google EXECUTE and QUERY, a command to an offline node, one to a node that does not answer, a
 * webhook delivery and a refused token request. The exposition text is parsed as Prometheus would and the
 * counters, histograms and gauges are checked against what happened; the bearer token is required when set;
 * nothing secret and no device or node id appears in the output; a scrape is not logged at info.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { endpointIdOfDevice } from "../../src/alexa/endpoints.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { directive } from "../helpers/alexa.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, Cleanup, waitForNode } from "../helpers/integration.ts";
import { type LinkedAccount, linkAccount } from "../helpers/linking.ts";
import { parseExposition, type Sample, sampleValue } from "../helpers/metrics.ts";

const TOKEN = "metrics-scrape-token-0123456789";
const NODE = "metrics-house-1";
const ASLEEP = "metrics-house-2";
const MUTE = "metrics-house-3";
const LIGHT = `${NODE}.light`;

interface Scrape {
  status: number;
  type: string;
  text: string;
  samples: Sample[];
}

async function scrape(bridge: TestBridge, authorization: string | undefined = `Bearer ${TOKEN}`): Promise<Scrape> {
  const response = await fetch(`${bridge.httpUrl}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    text,
    samples: response.status === 200 ? parseExposition(text) : [],
  };
}

/** A webhook receiver that accepts everything. */
async function receiver(): Promise<{ server: Server; url: string; received: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hook`, received: () => count };
}

for (const kind of BROKER_KINDS) {
  describe(`metrics after real traffic (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let mute: SimNode;
    let adminToken: string;
    let alexa: LinkedAccount;
    let google: LinkedAccount;
    const secrets: string[] = [TOKEN];
    let hooks: Awaited<ReturnType<typeof receiver>>;

    before(async () => {
      bridge = cleanup.add(
        await TestBridge.start(kind, {
          settings: {
            "metrics.token": TOKEN,
            "commands.timeoutMs": 600,
            "webhooks.allowPrivateDestinations": true,
          },
        }),
        (b) => b.stop(),
      );
      hooks = cleanup.add(await receiver(), (r) => new Promise((resolve) => r.server.close(resolve)));
      const store = bridge.daemon.store;
      adminToken = store.adminTokens.create("metrics-test", Date.now()).token;
      alexa = await linkAccount(store, "alma", "alexa");
      google = await linkAccount(store, "gus", "google");
      secrets.push(adminToken, alexa.accessToken, alexa.refreshToken, google.accessToken, google.refreshToken);

      const main = await addAndConnectNode(bridge, NODE, { devices: ["light"] });
      cleanup.add(main.sim, (s) => s.close());
      secrets.push(main.credentials.password);
      // A node that was online once and is gone: its device exists, its commands fail as offline.
      const asleep = await addAndConnectNode(bridge, ASLEEP, { devices: ["switch"] });
      secrets.push(asleep.credentials.password);
      await asleep.sim.close();
      await waitForNode(bridge, asleep.sim, false);
      // A node that is online but never answers a command.
      const silent = await addAndConnectNode(bridge, MUTE, { devices: ["switch"] });
      mute = cleanup.add(silent.sim, (s) => s.close());
      mute.ignoreCommands = true;
      secrets.push(silent.credentials.password);

      const subscription = await bridge.api(
        "POST",
        "/api/v1/subscriptions",
        { url: hooks.url, events: ["command.result"] },
        adminToken,
      );
      assert.equal(subscription.status, 201, JSON.stringify(subscription.body));
      secrets.push(subscription.body.secret);

      // The traffic the metrics must show.
      const command = await bridge.api(
        "POST",
        `/api/v1/devices/${LIGHT}/commands`,
        { params: { on: true } },
        adminToken,
      );
      assert.equal(command.status, 200, JSON.stringify(command.body));
      const offline = await bridge.api(
        "POST",
        `/api/v1/devices/${ASLEEP}.switch/commands`,
        { params: { on: true } },
        adminToken,
      );
      assert.equal(offline.status, 503);
      const timeout = await bridge.api(
        "POST",
        `/api/v1/devices/${MUTE}.switch/commands`,
        { params: { on: true } },
        adminToken,
      );
      assert.equal(timeout.status, 504);

      const turnOff = directive("Alexa.PowerController", "TurnOff", {
        endpointId: endpointIdOfDevice(LIGHT),
        token: alexa.accessToken,
      });
      const alexaAnswer = await post(bridge, "/alexa/smarthome", turnOff);
      assert.equal(alexaAnswer.status, 200);
      assert.equal(alexaAnswer.body.event.header.name, "Response", JSON.stringify(alexaAnswer.body));
      const refused = directive("Alexa.PowerController", "TurnOn", {
        endpointId: endpointIdOfDevice(LIGHT),
        token: "not-a-token",
      });
      assert.equal((await post(bridge, "/alexa/smarthome", refused)).status, 401);

      const execute = {
        requestId: "1",
        inputs: [
          {
            intent: "action.devices.EXECUTE",
            payload: {
              commands: [
                {
                  devices: [{ id: LIGHT }],
                  execution: [{ command: "action.devices.commands.OnOff", params: { on: true } }],
                },
              ],
            },
          },
        ],
      };
      const googleAnswer = await post(bridge, "/google/fulfillment", execute, google.accessToken);
      assert.equal(googleAnswer.status, 200);
      assert.equal(googleAnswer.body.payload.commands[0].status, "SUCCESS", JSON.stringify(googleAnswer.body));
      const query = {
        requestId: "2",
        inputs: [{ intent: "action.devices.QUERY", payload: { devices: [{ id: LIGHT }] } }],
      };
      assert.equal((await post(bridge, "/google/fulfillment", query, google.accessToken)).status, 200);

      const token = await fetch(`${bridge.httpUrl}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: google.refreshToken,
          client_id: google.clientId,
          client_secret: "not-the-secret",
        }),
      });
      assert.equal(token.status, 401);

      await eventually(() => hooks.received() >= 3, 5000, "the webhook deliveries");
    });

    after(() => cleanup.run());

    test("answers in Prometheus text format with the registry's content type", async () => {
      const { status, type, text } = await scrape(bridge);
      assert.equal(status, 200);
      assert.match(type, /^text\/plain; version=0\.0\.4; charset=utf-8$/);
      assert.match(text, /^# HELP hearth_commands_total /m);
      assert.match(text, /^# TYPE hearth_command_roundtrip_seconds histogram$/m);
      // The event-loop lag and process metrics of prom-client, under their usual names.
      assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
      assert.match(text, /^process_cpu_seconds_total /m);
    });

    test("commands: by source and outcome, their round trip, timeouts and retries", async () => {
      const { samples } = await scrape(bridge);
      const count = (outcome: string) =>
        sampleValue(samples, "hearth_command_roundtrip_seconds_count", { outcome }) ?? 0;
      // The admin command, the Alexa directive and the Google EXECUTE.
      assert.equal(count("ok"), 3);
      assert.equal(count("offline"), 1);
      assert.equal(count("timeout"), 1);
      assert.equal(sampleValue(samples, "hearth_commands_total", { source: "admin", outcome: "ok" }), 1);
      assert.equal(sampleValue(samples, "hearth_commands_total", { source: "alexa", outcome: "ok" }), 1);
      assert.equal(sampleValue(samples, "hearth_commands_total", { source: "google", outcome: "ok" }), 1);
      assert.equal(sampleValue(samples, "hearth_commands_total", { source: "admin", outcome: "offline" }), 1);
      assert.equal(sampleValue(samples, "hearth_command_timeouts_total"), 1);
      // The silent node got the command twice: once, then again with the same id at half the deadline.
      assert.equal(sampleValue(samples, "hearth_command_retries_total"), 1);
      // The buckets count up to the total, and the timeout took at least the deadline.
      const buckets = samples.filter(
        (s) => s.name === "hearth_command_roundtrip_seconds_bucket" && s.labels.outcome === "timeout",
      );
      assert.equal(buckets.find((s) => s.labels.le === "+Inf")?.value, 1);
      assert.equal(buckets.find((s) => s.labels.le === "0.5")?.value, 0);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), "buckets are cumulative");
      }
    });

    test("Alexa directives and Google intents: counted by name and outcome, with their durations", async () => {
      const { samples } = await scrape(bridge);
      const directives = (labels: Record<string, string>) =>
        sampleValue(samples, "hearth_alexa_directives_total", labels);
      assert.equal(directives({ namespace: "Alexa.PowerController", name: "TurnOff", outcome: "ok" }), 1);
      assert.equal(
        directives({ namespace: "Alexa.PowerController", name: "TurnOn", outcome: "INVALID_AUTHORIZATION_CREDENTIAL" }),
        1,
      );
      assert.equal(
        sampleValue(samples, "hearth_alexa_directive_duration_seconds_count", { namespace: "Alexa.PowerController" }),
        2,
      );
      assert.equal(sampleValue(samples, "hearth_google_intents_total", { intent: "EXECUTE", outcome: "ok" }), 1);
      assert.equal(sampleValue(samples, "hearth_google_intents_total", { intent: "QUERY", outcome: "ok" }), 1);
      assert.equal(sampleValue(samples, "hearth_google_intent_duration_seconds_count", { intent: "EXECUTE" }), 1);
      assert.equal(
        sampleValue(samples, "hearth_oauth_token_requests_total", {
          platform: "none",
          grant_type: "refresh_token",
          outcome: "invalid_client",
        }),
        1,
      );
    });

    test("HTTP requests: by route group, status class and platform", async () => {
      const { samples } = await scrape(bridge);
      const count = (labels: Record<string, string>) =>
        sampleValue(samples, "hearth_http_request_duration_seconds_count", labels) ?? 0;
      assert.equal(count({ route: "alexa", status_class: "2xx", platform: "alexa" }), 1);
      assert.equal(count({ route: "alexa", status_class: "4xx", platform: "none" }), 1);
      assert.equal(count({ route: "google", status_class: "2xx", platform: "google" }), 2);
      assert.equal(count({ route: "oauth", status_class: "4xx" }), 1);
      assert.equal(count({ route: "admin", status_class: "5xx" }), 2, "the offline and the timed-out command");
      assert.ok(count({ route: "admin", status_class: "2xx" }) >= 2);
      assert.ok(count({ route: "metrics", status_class: "2xx" }) >= 1, "earlier scrapes are counted too");
      const routes = new Set(
        samples.filter((s) => s.name === "hearth_http_request_duration_seconds_count").map((s) => s.labels.route),
      );
      for (const route of routes) assert.match(route as string, /^(admin|oauth|alexa|google|metrics|healthz|other)$/);
    });

    test("nodes and devices: the gauges match what the API lists; the link is up", async () => {
      const { samples } = await scrape(bridge);
      const nodes = (await bridge.api("GET", "/api/v1/nodes", undefined, adminToken)).body as Array<{
        online: boolean;
      }>;
      const devices = (await bridge.api("GET", "/api/v1/devices", undefined, adminToken)).body as Array<{
        online: boolean;
      }>;
      assert.equal(sampleValue(samples, "hearth_nodes", { state: "online" }), nodes.filter((n) => n.online).length);
      assert.equal(sampleValue(samples, "hearth_nodes", { state: "offline" }), nodes.filter((n) => !n.online).length);
      assert.equal(sampleValue(samples, "hearth_nodes", { state: "online" }), 2);
      assert.equal(sampleValue(samples, "hearth_nodes", { state: "offline" }), 1);
      assert.equal(sampleValue(samples, "hearth_devices", { state: "online" }), devices.filter((d) => d.online).length);
      assert.equal(sampleValue(samples, "hearth_devices", { state: "offline" }), 1);
      assert.equal(sampleValue(samples, "hearth_node_availability_changes_total", { state: "offline" }), 1);
      assert.equal(sampleValue(samples, "hearth_mqtt_connected"), 1);
    });

    test("webhooks: deliveries by state, and nothing left pending", async () => {
      const { samples } = await eventually(async () => {
        const result = await scrape(bridge);
        return (sampleValue(result.samples, "hearth_webhook_deliveries_total", { state: "delivered" }) ?? 0) >= 3
          ? result
          : undefined;
      });
      assert.equal(sampleValue(samples, "hearth_webhook_deliveries_total", { state: "dead" }), 0);
      assert.equal(sampleValue(samples, "hearth_webhook_outbox_pending"), 0);
    });

    test("the bearer token is required: 401 without it or with a wrong one, in the API's error shape", async () => {
      for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${TOKEN}`, TOKEN]) {
        const response = await fetch(`${bridge.httpUrl}/metrics`, {
          headers: authorization === undefined ? {} : { authorization },
        });
        assert.equal(response.status, 401, String(authorization));
        assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /);
        const body = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "unauthorized");
        assert.equal(typeof body.error.message, "string");
        assert.ok(!JSON.stringify(body).includes(TOKEN));
      }
      assert.equal((await scrape(bridge, `bearer ${TOKEN}`)).status, 200, "the scheme is case-insensitive");
    });

    test("no secret and no device, node or user id appears in the output", async () => {
      const { text } = await scrape(bridge);
      for (const secret of secrets) assert.ok(!text.includes(secret), "a secret is in the metrics");
      for (const id of [NODE, ASLEEP, MUTE, LIGHT, alexa.userId, google.userId, alexa.clientId, google.clientId]) {
        assert.ok(!text.includes(id), `${id} is in the metrics`);
      }
    });

    test("a successful scrape is logged at debug, never at info", async () => {
      const from = bridge.logs.lines.length;
      await scrape(bridge);
      await eventually(() =>
        bridge.logs.lines.slice(from).some((line) => line.path === "/metrics" && line.status === 200),
      );
      const lines = bridge.logs.lines.filter((line) => line.path === "/metrics" && line.status === 200);
      assert.ok(lines.length > 0);
      for (const line of lines) assert.equal(line.level, 20, JSON.stringify(line));
    });
  });
}

async function post(bridge: TestBridge, path: string, body: unknown, token?: string) {
  const response = await fetch(`${bridge.httpUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("metrics settings", () => {
  test("without metrics.token the route is open; with metrics.enabled false there is none", async (t) => {
    const open = await TestBridge.start("embedded");
    t.after(() => open.stop());
    const response = await fetch(`${open.httpUrl}/metrics`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^hearth_mqtt_connected 1$/m);

    const off = await TestBridge.start("embedded", { settings: { "metrics.enabled": false } });
    t.after(() => off.stop());
    assert.equal(off.daemon.metrics, undefined);
    const missing = await fetch(`${off.httpUrl}/metrics`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "not_found");
  });
});
