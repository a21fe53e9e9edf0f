/**
 * No secret reaches the log. A real daemon logs at `trace`, its most verbose level, while the test drives
 * every part of Hearth that handles a secret, the way each is really used: admin tokens (good and wrong),
 * `hearth user add` and the linking pages (a wrong password, then the right one), the authorization code,
 * its exchange and a refresh, Alexa's AcceptGrant and the event gateway with Login with Amazon (a refresh
 * included) behind the forwarder's secret, Google's fulfillment with a PIN and HomeGraph with a service
 * account key, signed, GitHub-signed and token hooks, outbound deliveries (one failing) to URLs with a
 * token, node passwords and MQTT logins (a wrong password, and one typed into the user name field), a claim
 * token and the password it buys, a firmware download URL, the metrics token, and the bridge's own broker
 * password. Every secret the test made or received is collected, and none may appear anywhere in the log
 * text (nor in what /metrics serves).
 *
 * Also: the request log writes paths without query strings and without a download's token; the list
 * commands' `--json` output holds no secret; and `logLevel` (HEARTH_LOG_LEVEL) decides what `hearth start`
 * writes on standard output.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FORWARDER_SECRET_HEADER } from "../../src/alexa/route.ts";
import { generateSecret } from "../../src/security/secrets.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { signGithub, signStandard } from "../../src/webhooks/signature.ts";
import { directive } from "../helpers/alexa.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { FakeAmazon } from "../helpers/fake-amazon.ts";
import { FakeGoogle } from "../helpers/fake-google.ts";
import { addAndConnectNode, Cleanup, closeRawClient, connectRawClient, refusal } from "../helpers/integration.ts";
import {
  authorizeThroughPages,
  type PageClient,
  signIn,
  startAuthorization,
  tokenRequest,
} from "../helpers/oauth-pages.ts";
import { OtaNode } from "../helpers/ota-node.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const LWA_CLIENT_ID = "amzn1.application-oa2-client.redaction";

/** Every secret of a run, with what it is, so that a failure names the leak without printing it. */
class Secrets {
  private readonly values = new Map<string, string>();

  add(what: string, value: unknown): void {
    assert.equal(typeof value, "string", `${what} is not a string`);
    assert.ok((value as string).length >= 8, `${what} is too short to search for`);
    this.values.set(value as string, what);
  }

  /** What leaked into `text`, by name. PINs are digits: found only as a whole number, not inside another. */
  foundIn(text: string): string[] {
    const found: string[] = [];
    for (const [value, what] of this.values) {
      const hit = /^\d+$/.test(value) ? new RegExp(`(?<!\\d)${value}(?!\\d)`).test(text) : text.includes(value);
      if (hit) found.push(what);
    }
    return found;
  }

  get size(): number {
    return this.values.size;
  }
}

/** A webhook receiver on 127.0.0.1 that answers 204 on /ok and 500 anywhere else. */
class Receiver {
  readonly requests: Array<{ path: string; headers: IncomingMessage["headers"] }> = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        receiver?.requests.push({ path: req.url ?? "", headers: req.headers });
        res.writeHead(req.url?.startsWith("/ok") ? 204 : 500).end();
      });
    });
    receiver = new Receiver(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function cliEnv(bridge: TestBridge): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("HEARTH_")) delete env[key];
  return { ...env, HEARTH_DATA_DIR: bridge.dataDir, HEARTH_URL: bridge.httpUrl };
}

async function cli(bridge: TestBridge, args: string[], input?: string): Promise<string> {
  const result = await runProcess(process.execPath, [BIN, ...args], {
    env: cliEnv(bridge),
    ...(input === undefined ? {} : { input }),
  });
  assert.equal(result.status, 0, `hearth ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function cliJson(bridge: TestBridge, args: string[], input?: string): Promise<any> {
  return JSON.parse(await cli(bridge, [...args, "--json"], input));
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** An image with ESP-IDF's magic byte; the version comes with the push. */
function image(): Buffer {
  const bytes = randomBytes(20_000);
  bytes[0] = 0xe9;
  return bytes;
}

for (const kind of BROKER_KINDS) {
  describe(`no secret reaches the log (${kind})`, () => {
    const cleanup = new Cleanup();
    const secrets = new Secrets();
    /** Secrets the admin chose to put in a URL: shown by the lists that show the URL, but never logged. */
    const urlSecrets = new Secrets();
    let bridge: TestBridge;
    let amazon: FakeAmazon;
    let google: FakeGoogle;
    let receiver: Receiver;
    let sim: SimNode;
    let adminToken: string;
    let forwarderSecret: string;
    let metricsToken: string;
    const NODE = `redact-${kind === "embedded" ? "e" : "m"}-1`;
    const LIGHT = `${NODE}.light`;

    before(async () => {
      const lwaSecret = generateSecret();
      secrets.add("the Alexa Skill Messaging client secret", lwaSecret);
      amazon = cleanup.add(await FakeAmazon.start({ clientId: LWA_CLIENT_ID, clientSecret: lwaSecret }), (a) =>
        a.stop(),
      );
      google = cleanup.add(await FakeGoogle.start(), (g) => g.stop());
      const keyDir = cleanup.add(mkdtempSync(join(tmpdir(), "hearth-redaction-key-")), (dir) =>
        rmSync(dir, { recursive: true, force: true }),
      );
      const keyPath = google.writeServiceAccountKey(keyDir);
      const key = JSON.parse(readFileSync(keyPath, "utf8")) as { private_key: string };
      for (const line of key.private_key.split("\n")) {
        if (line.length > 20 && !line.startsWith("-----"))
          secrets.add("a line of the Google service-account key", line);
      }
      receiver = cleanup.add(await Receiver.start(), (r) => r.stop());
      forwarderSecret = generateSecret();
      secrets.add("alexa.forwarderSecret", forwarderSecret);
      metricsToken = generateSecret();
      secrets.add("metrics.token", metricsToken);
      bridge = cleanup.add(
        await TestBridge.start(kind, {
          brokerAccounts: true,
          settings: {
            logLevel: "trace",
            "alexa.clientId": LWA_CLIENT_ID,
            "alexa.clientSecret": lwaSecret,
            "alexa.lwaTokenUrl": amazon.lwaTokenUrl,
            "alexa.eventGatewayUrl": amazon.eventsUrl,
            "alexa.changeReportDelayMs": 50,
            "alexa.forwarderSecret": forwarderSecret,
            "google.serviceAccountKeyPath": keyPath,
            "google.homegraphUrl": google.homegraphUrl,
            "google.reportStateDelayMs": 50,
            "webhooks.allowPrivateDestinations": true,
            "metrics.token": metricsToken,
          },
        }),
        (b) => b.stop(),
      );
      assert.ok(bridge.daemon.log.isLevelEnabled("trace"));
      // The bridge's own broker password: from the config with mosquitto, made at start with the embedded one.
      const linkOptions = (bridge.daemon.link as unknown as { options: { password: string } }).options;
      secrets.add("the bridge's MQTT password", linkOptions.password);
    });

    after(() => cleanup.run());

    test("admin tokens: from the CLI, and a wrong one", async () => {
      const issued = await cliJson(bridge, ["admin", "token", "--label", "redaction"]);
      adminToken = issued.token;
      secrets.add("an admin token", adminToken);
      assert.equal((await bridge.api("GET", "/api/v1/nodes", undefined, adminToken)).status, 200);
      const wrong = `hth_${generateSecret()}`;
      secrets.add("a wrong admin token", wrong);
      assert.equal((await bridge.api("GET", "/api/v1/nodes", undefined, wrong)).status, 401);
    });

    test("nodes: a registration password, MQTT logins, a claim token and the password it buys", async () => {
      const connected = await addAndConnectNode(bridge, NODE, { devices: ["light", "switch", "lock"] });
      sim = cleanup.add(connected.sim, (s) => s.close());
      secrets.add("a node's password", connected.credentials.password);

      const wrong = generateSecret();
      secrets.add("a wrong node password", wrong);
      assert.notEqual(await refusal(bridge.mqttUrl, { username: NODE, password: wrong, clientId: NODE }), undefined);
      // A node set up with its password in the user name field (and the node id as the password).
      assert.notEqual(
        await refusal(bridge.mqttUrl, { username: connected.credentials.password, password: NODE, clientId: NODE }),
        undefined,
      );

      const claim = await cliJson(bridge, ["node", "claim-token"]);
      secrets.add("a claim token", claim.claim_token);
      const claimUrl = `${bridge.httpUrl}/api/v1/claim`;
      const badToken = `hct_${generateSecret()}`;
      secrets.add("a wrong claim token", badToken);
      const refused = await fetch(claimUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ node_id: `${NODE}-claimed`, claim_token: badToken }),
      });
      assert.equal(refused.status, 401);
      const claimed = await fetch(claimUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ node_id: `${NODE}-claimed`, claim_token: claim.claim_token }),
      });
      assert.equal(claimed.status, 200);
      const credentials = (await claimed.json()) as { password: string };
      secrets.add("a claimed node's password", credentials.password);
      await closeRawClient(
        await connectRawClient(bridge.mqttUrl, { username: `${NODE}-claimed`, password: credentials.password }),
      );
    });

    let bobId: string;
    let alexaAccess: string;
    let googleAccess: string;
    let alexaClient: PageClient;

    test("accounts: hearth user add, the linking pages, the code, its exchange and a refresh", async () => {
      const password = `bob ${generateSecret()}`;
      secrets.add("a user's password", password);
      bobId = (await cliJson(bridge, ["user", "add", "bob", "--password-stdin"], `${password}\n`)).id;
      const alexa = await cliJson(bridge, ["client", "add", "alexa", "--vendor-id", "M2REDACTION"]);
      secrets.add("the Alexa OAuth client's secret", alexa.client_secret);
      alexaClient = { id: alexa.client_id, secret: alexa.client_secret, redirectUri: alexa.redirect_uris[0] };
      const google = await cliJson(bridge, ["client", "add", "google", "--project-id", "redaction-home"]);
      secrets.add("the Google OAuth client's secret", google.client_secret);
      const googleClient = { id: google.client_id, secret: google.client_secret, redirectUri: google.redirect_uris[0] };

      const guess = `bob ${generateSecret()}`;
      secrets.add("a wrong user password", guess);
      const session = await startAuthorization(bridge.httpUrl, alexaClient);
      assert.equal((await signIn(bridge.httpUrl, session, "bob", guess)).status, 401);

      for (const [client, keep] of [
        [alexaClient, (token: string) => (alexaAccess = token)],
        [googleClient, (token: string) => (googleAccess = token)],
      ] as const) {
        const { code, session } = await authorizeThroughPages(bridge.httpUrl, client, "bob", password);
        secrets.add("an authorization code", code);
        secrets.add("a linking page's session cookie", (session.cookie ?? "").replace(/^[^=]*=/, ""));
        secrets.add("a linking page's CSRF token", session.csrf);
        const issued = await tokenRequest(bridge.httpUrl, client, {
          grant_type: "authorization_code",
          code,
          redirect_uri: client.redirectUri,
        });
        assert.equal(issued.status, 200, JSON.stringify(issued.body));
        secrets.add("an access token", issued.body?.access_token);
        secrets.add("a refresh token", issued.body?.refresh_token);
        const refreshed = await tokenRequest(bridge.httpUrl, client, {
          grant_type: "refresh_token",
          refresh_token: String(issued.body?.refresh_token),
        });
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        secrets.add("a refreshed access token", refreshed.body?.access_token);
        keep(String(refreshed.body?.access_token));
      }
      const wrongSecret = generateSecret();
      secrets.add("a wrong client secret", wrongSecret);
      const refused = await tokenRequest(
        bridge.httpUrl,
        { ...alexaClient, secret: wrongSecret },
        { grant_type: "refresh_token", refresh_token: generateSecret() },
      );
      assert.equal(refused.status, 401);
    });

    test("Alexa: AcceptGrant with Login with Amazon, directives behind the forwarder's secret, events and a refresh", async () => {
      const grantCode = `ANU${generateSecret()}`;
      secrets.add("Alexa's grant code", grantCode);
      amazon.issueCode(grantCode);
      const alexa = (body: unknown, secret = forwarderSecret) =>
        fetch(`${bridge.httpUrl}/alexa/smarthome`, {
          method: "POST",
          headers: { "content-type": "application/json", [FORWARDER_SECRET_HEADER]: secret },
          body: JSON.stringify(body),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));
      const granted = await alexa(
        directive("Alexa.Authorization", "AcceptGrant", {
          payload: {
            grant: { type: "OAuth2.AuthorizationCode", code: grantCode },
            grantee: { type: "BearerToken", token: alexaAccess },
          },
        }),
      );
      assert.equal(granted.body.event.header.name, "AcceptGrant.Response", JSON.stringify(granted.body));
      const wrongSecret = generateSecret();
      secrets.add("a wrong forwarder secret", wrongSecret);
      assert.equal(
        (await alexa(directive("Alexa.Discovery", "Discover", { token: alexaAccess }), wrongSecret)).status,
        403,
      );
      const wrongToken = generateSecret(32);
      secrets.add("a wrong bearer token", wrongToken);
      assert.equal((await alexa(directive("Alexa.Discovery", "Discover", { token: wrongToken }))).status, 401);
      const turnOn = await alexa(
        directive("Alexa.PowerController", "TurnOn", { token: alexaAccess, endpointId: `${NODE}:light` }),
      );
      assert.equal(turnOn.body.event.header.name, "Response", JSON.stringify(turnOn.body));

      await sim.press("switch", { on: true });
      await amazon.waitForEvents(1);
      // Amazon's access token ends: Hearth refreshes it with the refresh token, then sends again.
      amazon.expireAccessTokens();
      const sent = amazon.events.length;
      await sim.press("switch", { on: false });
      await eventually(
        () => amazon.events.slice(sent).some((e) => e.status === 202),
        5000,
        "an event after the refresh",
      );
      assert.ok(
        amazon.tokenRequests.some((r) => r.form.grant_type === "refresh_token"),
        "the token was refreshed",
      );

      for (const { form } of amazon.tokenRequests) {
        if (form.refresh_token) secrets.add("an LWA refresh token", form.refresh_token);
      }
      for (const { headers } of amazon.events) {
        const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
        if (bearer) secrets.add("an LWA access token", bearer);
      }
      const grant = bridge.daemon.store.alexaGrants.get(bobId);
      secrets.add("the stored LWA access token", grant?.accessToken);
      secrets.add("the stored LWA refresh token", grant?.refreshToken);
    });

    test("Google: fulfillment with a PIN, Report State through HomeGraph with the service account", async () => {
      const pin = String(randomInt(10_000_000, 99_999_999));
      secrets.add("a PIN", pin);
      await cli(bridge, ["user", "pin", "bob", "--pin-stdin"], `${pin}\n`);
      google.linkedUsers.add(bobId);
      let requests = 0;
      const fulfill = async (inputs: unknown[]) => {
        const response = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${googleAccess}` },
          body: JSON.stringify({ requestId: String(++requests), inputs }),
        });
        assert.equal(response.status, 200);
        return (await response.json()) as any;
      };
      const unlock = (challenge?: object) =>
        fulfill([
          {
            intent: "action.devices.EXECUTE",
            payload: {
              commands: [
                {
                  devices: [{ id: `${NODE}.lock` }],
                  execution: [
                    {
                      command: "action.devices.commands.LockUnlock",
                      params: { lock: false },
                      ...(challenge ? { challenge } : {}),
                    },
                  ],
                },
              ],
            },
          },
        ]);
      // A SYNC makes the link active: from then on Google hears of every change.
      assert.equal((await fulfill([{ intent: "action.devices.SYNC" }])).payload.agentUserId, bobId);
      let wrong = String(randomInt(10_000_000, 99_999_999));
      if (wrong === pin) wrong = String(Number(pin) + 1);
      secrets.add("a wrong PIN", wrong);
      assert.equal(
        (await unlock({ pin: wrong })).payload.commands[0].challengeNeeded?.type,
        "challengeFailedPinNeeded",
      );
      assert.equal((await unlock({ pin })).payload.commands[0].status, "SUCCESS");

      const reports = google.reports.length;
      await sim.press("switch", { on: true });
      await eventually(() => google.reports.length > reports, 5000, "a Report State");
      for (const { form } of google.tokenRequests)
        if (form.assertion) secrets.add("a service-account JWT", form.assertion);
      for (const token of google.validAccessTokens()) secrets.add("a HomeGraph access token", token);
    });

    test("webhooks: signed, GitHub-signed and token hooks, a rotation, and deliveries to URLs with a token", async () => {
      const body = JSON.stringify({ actions: [{ device: LIGHT, params: { on: true } }] });
      const signed = await cliJson(bridge, ["hook", "add", "redaction", "--devices", LIGHT]);
      secrets.add("a hook's signing secret", signed.secret);
      const hookUrl = `${bridge.httpUrl}/hooks/${signed.id}`;
      const standard = (secret: string) => {
        const id = `msg_${generateSecret()}`;
        const timestamp = Math.floor(Date.now() / 1000);
        return post(hookUrl, body, {
          "webhook-id": id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signStandard(secret, id, timestamp, body),
        });
      };
      assert.equal(await standard(signed.secret), 200);
      assert.equal(await post(hookUrl, body, { "x-hub-signature-256": signGithub(signed.secret, body) }), 200);
      const wrong = `whsec_${randomBytes(32).toString("base64")}`;
      secrets.add("a wrong signing secret", wrong);
      assert.equal(await standard(wrong), 401);
      const rotated = await cliJson(bridge, ["hook", "rotate-secret", "redaction"]);
      secrets.add("a rotated signing secret", rotated.secret);
      assert.equal(await standard(rotated.secret), 200);

      const unsigned = await cliJson(bridge, ["hook", "add", "redaction-token", "--devices", LIGHT, "--unsigned"]);
      secrets.add("a hook's URL token", unsigned.token);
      const tokenUrl = `${bridge.httpUrl}/hooks/${unsigned.id}`;
      assert.equal(await post(`${tokenUrl}?token=${unsigned.token}`, body, {}), 200);
      const wrongToken = generateSecret(32);
      secrets.add("a wrong hook token", wrongToken);
      assert.equal(await post(`${tokenUrl}?token=${wrongToken}`, body, {}), 401);

      for (const path of ["/ok", "/fail"]) {
        const token = generateSecret();
        urlSecrets.add(`a token in a subscription's URL (${path})`, token);
        const created = await bridge.api(
          "POST",
          "/api/v1/subscriptions",
          { url: receiver.url(`${path}?token=${token}`), events: ["device.state"] },
          adminToken,
        );
        assert.equal(created.status, 201, JSON.stringify(created.body));
        secrets.add("a subscription's signing secret", created.body.secret);
      }
      await sim.press("switch", { on: false });
      await eventually(
        () => ["/ok", "/fail"].every((path) => receiver.requests.some((r) => r.path.startsWith(path))),
        5000,
        "a delivery to each receiver",
      );
      await eventually(
        () => bridge.logs.find((line) => line.msg === "webhook failed; retrying later"),
        3000,
        "the failed delivery's log line",
      );
    });

    test("firmware: a download URL with its token, and a wrong token", async () => {
      const nodeId = `${NODE}-ota`;
      const credentials = await bridge.addNode(nodeId);
      secrets.add("a node's password", credentials.password);
      const node = cleanup.add(
        await OtaNode.start({ url: bridge.mqttUrl, nodeId, password: credentials.password, version: "1.0.0" }),
        (n) => n.close(),
      );
      await eventually(() => bridge.daemon.store.nodes.isOnline(nodeId), 3000, `${nodeId} online`);
      const response = await fetch(`${bridge.httpUrl}/api/v1/nodes/${nodeId}/ota?version=1.1.0`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/octet-stream" },
        body: new Uint8Array(image()),
      });
      assert.equal(response.status, 202, await response.text());
      await eventually(() => node.version === "1.1.0", 8000, "the update");
      const url = node.commands.at(-1)?.url as string;
      const token = url.split("/").at(-1) as string;
      secrets.add("a firmware download token", token);
      const guessed = `${url.slice(0, -token.length)}${generateSecret(24)}`;
      secrets.add("a wrong firmware download token", guessed.split("/").at(-1));
      assert.equal((await fetch(guessed)).status, 404);
      await eventually(
        () => bridge.logs.find((line) => line.msg === "firmware update succeeded"),
        3000,
        "the update's log line",
      );
    });

    test("metrics: a scrape with the token, and one with a wrong token", async () => {
      const scrape = (token: string) =>
        fetch(`${bridge.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      const wrong = generateSecret();
      secrets.add("a wrong metrics token", wrong);
      assert.equal((await scrape(wrong)).status, 401);
      const answer = await scrape(metricsToken);
      assert.equal(answer.status, 200);
      // What Prometheus keeps holds no secret either.
      assert.deepEqual(secrets.foundIn(await answer.text()), [], "secrets in /metrics");
    });

    test("none of the secrets appears anywhere in the log", () => {
      // The helpers' own admin token (TestBridge.api without a token) is a secret too.
      const helperToken = (bridge as unknown as { adminToken?: string }).adminToken;
      if (helperToken) secrets.add("the test's admin token", helperToken);
      const text = bridge.logs.text();
      assert.ok(bridge.logs.lines.length > 50, "the daemon logged");
      assert.ok(secrets.size > 40, `${secrets.size} secrets collected`);
      assert.deepEqual(secrets.foundIn(text), [], "secrets in the log");
      assert.deepEqual(urlSecrets.foundIn(text), [], "URL tokens in the log");
      if (kind === "embedded") {
        // The login with the password in the user name field is logged, without the user name.
        const refused = bridge.logs.find(
          (line) => line.msg === "mqtt connection refused" && line.reason === "not a valid node id",
        );
        assert.equal(refused?.username, "(not a node id)");
        assert.equal(refused?.clientId, NODE);
      }
      // What the daemon logged proves each part ran.
      const messages = new Set(bridge.logs.lines.map((line) => line.msg));
      for (const expected of [
        "node claimed",
        "claim refused",
        "hook call",
        "Alexa event-gateway tokens stored: proactive reports are on for this user",
        "an Alexa directive arrived without the forwarder's secret",
        "webhook failed; retrying later",
        "firmware update succeeded",
        ...(kind === "embedded" ? ["mqtt connection refused"] : []),
      ]) {
        assert.ok(messages.has(expected), `nothing logged "${expected}"`);
      }
    });

    test("the request log writes paths only: no query string, no download token", () => {
      const requests = bridge.logs.lines.filter((line) => line.msg === "request");
      const paths = requests.map((line) => String(line.path));
      for (const prefix of [
        "/oauth/authorize",
        "/oauth/token",
        "/alexa/smarthome",
        "/google/fulfillment",
        "/hooks/",
        "/ota/",
        "/api/v1/claim",
      ]) {
        assert.ok(
          paths.some((path) => path.startsWith(prefix)),
          `no request to ${prefix} was logged`,
        );
      }
      for (const path of paths) {
        assert.doesNotMatch(path, /[?&]|token=|code=/, `a logged path has a query: ${path.replace(/=.*/, "=…")}`);
        if (path.startsWith("/ota/")) assert.match(path, /^\/ota\/[^/]+\/…$/);
      }
    });

    test("the lists' and the backup's --json output hold no secret", async () => {
      const outputs = await Promise.all(
        [
          ["node", "list"],
          ["devices"],
          ["user", "list"],
          ["client", "list"],
          ["links"],
          ["hook", "list"],
          ["subscription", "list"],
          ["ota", "list"],
        ].map((args) => cli(bridge, [...args, "--json"])),
      );
      const backups = cleanup.add(mkdtempSync(join(tmpdir(), "hearth-redaction-backup-")), (dir) =>
        rmSync(dir, { recursive: true, force: true }),
      );
      outputs.push(await cli(bridge, ["backup", join(backups, "hearth.db"), "--json"]));
      const audit = await bridge.api("GET", "/api/v1/audit?limit=1000", undefined, adminToken);
      assert.equal(audit.status, 200);
      assert.deepEqual(secrets.foundIn([...outputs, JSON.stringify(audit.body)].join("\n")), []);
    });
  });
}

describe("logLevel decides what hearth start writes on standard output", () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "hearth-log-level-"));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Starts Hearth with HEARTH_LOG_LEVEL, makes one ordinary request and one refused, stops it; its stdout. */
  async function run(level: string): Promise<Array<Record<string, unknown>>> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith("HEARTH_")) delete env[key];
    const child: ChildProcess = spawn(process.execPath, [BIN, "start"], {
      env: { ...env, HEARTH_DATA_DIR: dataDir, HEARTH_HTTP_PORT: "0", HEARTH_MQTT_PORT: "0", HEARTH_LOG_LEVEL: level },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const url = (await eventually(() => /HTTP\s+(http:\S+)/.exec(stderr), 15_000, "the start banner"))[1];
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/api/v1/nodes`)).status, 401);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    return stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  test("info: JSON lines, successful requests included", async () => {
    const lines = await run("info");
    assert.ok(lines.some((line) => line.level === 30 && line.msg === "request" && line.path === "/healthz"));
    assert.ok(lines.some((line) => line.level === 40 && line.msg === "request" && line.status === 401));
    assert.ok(lines.every((line) => line.service === "hearth" && typeof line.time === "number"));
  });

  test("warn: the refusal, no info line", async () => {
    const lines = await run("warn");
    assert.ok(lines.some((line) => line.msg === "request" && line.status === 401));
    assert.deepEqual(
      lines.filter((line) => (line.level as number) < 40),
      [],
    );
  });

  test("silent: nothing at all", async () => {
    assert.deepEqual(await run("silent"), []);
  });
});
