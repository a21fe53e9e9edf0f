/**
 * The event gateway client against a local stand-in for Amazon (Login with Amazon + the gateway), on a
 * real SQLite file. alexa.md §8: "Access tokens valid 60 min; refresh tokens valid until the user removes
 * the app; a refresh may return a new refresh token → store it"; the gateway answers 202 on success,
 * 401 INVALID_ACCESS_TOKEN_EXCEPTION (refresh once, retry once), 403 SKILL_DISABLED_EXCEPTION (the user
 * unlinked), 429/500/503 (retry ≤ 3×), 400/413 (a bug: do not retry).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AcceptGrantError, AlexaEventGateway, EVENT_GATEWAY_URLS } from "../../src/alexa/event-gateway.ts";
import { type Config, ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { addClient } from "../../src/oauth/accounts.ts";
import { GrantService } from "../../src/oauth/grants.ts";
import { Store } from "../../src/store/index.ts";
import { LogCapture } from "../helpers/bridge.ts";
import { FakeAmazon, gatewayException } from "../helpers/fake-amazon.ts";
import { runProcess } from "../helpers/processes.ts";

const CLIENT_ID = "amzn1.application-oa2-client.hearth";
const CLIENT_SECRET = "skill-messaging-secret-0123456789";
const MINUTE = 60_000;

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-alexa-gateway-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

function alexaConfig(amazon: FakeAmazon, settings: Record<string, unknown> = {}): Config["alexa"] {
  return ConfigSchema.shape.alexa.parse({
    lwaTokenUrl: amazon.lwaTokenUrl,
    eventGatewayUrl: amazon.eventsUrl,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...settings,
  });
}

interface Fixture {
  dir: string;
  store: Store;
  amazon: FakeAmazon;
  gateway: AlexaEventGateway;
  clock: { t: number };
  logs: LogCapture;
  userId: string;
  /** Another gateway on the same store and Amazon, e.g. with other settings. */
  gatewayWith(settings: Record<string, unknown>): AlexaEventGateway;
  close(): Promise<void>;
}

interface SetupOptions {
  settings?: Record<string, unknown>;
  retryDelaysMs?: readonly number[];
  /** Makes the retries wait for real (with the default sleep). */
  realSleep?: boolean;
}

/** A user who linked the Alexa skill (so that link health has a row), and a gateway in front of FakeAmazon. */
async function setup(options: SetupOptions = {}): Promise<Fixture> {
  const dir = join(root, `data-${++counter}`);
  const store = Store.open(dir);
  const amazon = await FakeAmazon.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  const user = store.users.add("anna", "scrypt$x", 0);
  assert.ok(user);
  const { client } = addClient(store, { platform: "alexa", vendorId: "M2HEARTHTEST" });
  const linking = new GrantService(store);
  const redirectUri = client.redirectUris[0] as string;
  const code = linking.issueCode({ clientId: client.id, userId: user.id, redirectUri, scope: "smart_home" });
  linking.exchangeCode({ clientId: client.id, code, redirectUri });

  const clock = { t: Date.now() };
  const logs = new LogCapture();
  const log = createLogger("debug", logs);
  const gateways: AlexaEventGateway[] = [];
  const gatewayWith = (settings: Record<string, unknown>) => {
    const gateway = new AlexaEventGateway({
      store,
      config: alexaConfig(amazon, { ...options.settings, ...settings }),
      log,
      now: () => clock.t,
      ...(options.realSleep ? {} : { sleep: async () => undefined }),
      retryDelaysMs: options.retryDelaysMs ?? [10, 20, 40],
    });
    gateways.push(gateway);
    return gateway;
  };
  const gateway = gatewayWith({});
  return {
    dir,
    store,
    amazon,
    gateway,
    clock,
    logs,
    userId: user.id,
    gatewayWith,
    async close() {
      for (const each of gateways) each.stop();
      assertNoSecretsLogged(logs, amazon, store, user.id);
      await amazon.stop();
      store.close();
    },
  };
}

/** Every token and secret that went to Amazon, and what is stored: none of it may be in the log. */
function assertNoSecretsLogged(logs: LogCapture, amazon: FakeAmazon, store: Store, userId: string): void {
  const secrets = new Set<string>([CLIENT_SECRET]);
  for (const { form } of amazon.tokenRequests) {
    for (const key of ["code", "refresh_token"] as const) if (form[key]) secrets.add(form[key]);
  }
  for (const { headers } of amazon.events) {
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
    if (bearer) secrets.add(bearer);
  }
  const grant = store.alexaGrants.get(userId);
  if (grant) for (const token of [grant.accessToken, grant.refreshToken]) secrets.add(token);
  const text = logs.text();
  for (const secret of secrets) assert.ok(!text.includes(secret), "a token or secret reached the log");
}

async function linkSkill(f: Fixture, code = "ANUbUKCJqlBOpMhwYWxU"): Promise<void> {
  f.amazon.issueCode(code);
  await f.gateway.acceptGrant(f.userId, code);
}

/** A ChangeReport-shaped event: the token goes in the body as well as in the header. */
function changeReport(token: string): object {
  return {
    event: {
      header: { namespace: "Alexa", name: "ChangeReport", payloadVersion: "3", messageId: "m-1" },
      endpoint: { scope: { type: "BearerToken", token }, endpointId: "kitchen-light" },
      payload: { change: { cause: { type: "PHYSICAL_INTERACTION" }, properties: [] } },
    },
    context: { properties: [] },
  };
}

function bearerOf(event: { headers: { authorization?: string | undefined } }): string | undefined {
  return /^Bearer (.+)$/.exec(event.headers.authorization ?? "")?.[1];
}

function scopeTokenOf(event: { body: unknown }): unknown {
  return (event.body as { event: { endpoint: { scope: { token: string } } } }).event.endpoint.scope.token;
}

function refreshRequests(amazon: FakeAmazon) {
  return amazon.tokenRequests.filter((request) => request.form.grant_type === "refresh_token");
}

function alexaLink(f: Fixture) {
  return f.store.grants.links().find((link) => link.userId === f.userId && link.platform === "alexa");
}

describe("AcceptGrant", () => {
  test("exchanges the code at LWA with the credentials in the form body, and the tokens outlive a reopen", async () => {
    const f = await setup();
    await linkSkill(f, "grant-code-1");
    assert.equal(f.amazon.tokenRequests.length, 1);
    const [request] = f.amazon.tokenRequests;
    assert.deepEqual(request?.form, {
      grant_type: "authorization_code",
      code: "grant-code-1",
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    assert.match(request?.headers["content-type"] ?? "", /^application\/x-www-form-urlencoded/);
    assert.equal(request?.headers.authorization, undefined, "no Basic header: LWA takes the body credentials");

    assert.deepEqual(f.gateway.recipients(), [f.userId]);
    const [live] = f.amazon.validAccessTokens();
    f.store.close();
    const reopened = Store.open(f.dir);
    const grant = reopened.alexaGrants.get(f.userId);
    assert.equal(grant?.accessToken, live);
    assert.match(grant?.refreshToken ?? "", /^Atzr\|/);
    assert.equal(grant?.state, "active");
    assert.equal(grant?.expiresAt, f.clock.t + 3600_000);
    assert.deepEqual(
      reopened.alexaGrants.list().map(({ userName, state }) => ({ userName, state })),
      [{ userName: "anna", state: "active" }],
    );
    assert.ok(!JSON.stringify(reopened.alexaGrants.list()).includes("Atz"), "views never see the tokens");
    reopened.close();
    await f.amazon.stop();
  });

  test("the tokens are on disk once AcceptGrant is answered, even if the process is killed right after", async () => {
    const amazon = await FakeAmazon.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const dir = join(root, `data-${++counter}`);
    const store = Store.open(dir);
    const user = store.users.add("ben", "scrypt$x", 0);
    assert.ok(user);
    store.close();
    amazon.issueCode("kill-code");
    const src = (file: string) => JSON.stringify(new URL(`../../src/${file}`, import.meta.url).href);
    const script = `
      import { Store } from ${src("store/index.ts")};
      import { AlexaEventGateway } from ${src("alexa/event-gateway.ts")};
      import { createLogger } from ${src("log.ts")};
      const gateway = new AlexaEventGateway({
        store: Store.open(${JSON.stringify(dir)}),
        config: ${JSON.stringify(alexaConfig(amazon))},
        log: createLogger("silent"),
      });
      await gateway.acceptGrant(${JSON.stringify(user.id)}, "kill-code");
      process.stdout.write("answered\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const { signal, stdout, stderr } = await runProcess(process.execPath, [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      script,
    ]);
    assert.equal(signal, "SIGKILL", stderr);
    assert.equal(stdout, "answered\n");
    const reopened = Store.open(dir);
    assert.deepEqual([reopened.alexaGrants.get(user.id)?.accessToken], amazon.validAccessTokens());
    reopened.close();
    await amazon.stop();
  });

  test("without the Skill Messaging credentials it fails with a message saying what to set, and asks nobody", async () => {
    const f = await setup();
    const gateway = f.gatewayWith({ clientId: undefined, clientSecret: undefined });
    assert.equal(gateway.configured, false);
    assert.equal(f.gateway.configured, true);
    f.amazon.issueCode("c");
    await assert.rejects(gateway.acceptGrant(f.userId, "c"), (error: Error) => {
      assert.ok(error instanceof AcceptGrantError);
      assert.equal(error.message, "Send Alexa Events is not configured: set alexa.clientId and alexa.clientSecret");
      return true;
    });
    assert.equal(f.amazon.tokenRequests.length, 0);
    assert.equal(f.store.alexaGrants.get(f.userId), undefined);
    await f.close();
  });

  test("an unknown or reused code, or wrong credentials, fail with a helpful AcceptGrantError and store nothing", async () => {
    const f = await setup();
    await assert.rejects(f.gateway.acceptGrant(f.userId, "never-issued"), (error: Error) => {
      assert.ok(error instanceof AcceptGrantError);
      assert.match(error.message, /invalid_grant/);
      assert.match(error.message, /re-enable the skill/);
      return true;
    });
    assert.equal(f.store.alexaGrants.get(f.userId), undefined);

    await linkSkill(f, "once");
    const stored = f.store.alexaGrants.get(f.userId);
    await assert.rejects(f.gateway.acceptGrant(f.userId, "once"), AcceptGrantError);
    assert.deepEqual(f.store.alexaGrants.get(f.userId), stored, "a failed relink leaves the working grant alone");

    f.amazon.issueCode("good-code");
    const wrong = f.gatewayWith({ clientSecret: "not-the-secret-at-all" });
    await assert.rejects(wrong.acceptGrant(f.userId, "good-code"), (error: Error) => {
      assert.ok(error instanceof AcceptGrantError);
      assert.match(error.message, /invalid_client/);
      assert.match(error.message, /Alexa Skill Messaging credentials/);
      assert.ok(!error.message.includes("not-the-secret-at-all"));
      return true;
    });
    await f.close();
  });

  test("LWA unreachable: AcceptGrantError names the endpoint, not the credentials", async () => {
    const f = await setup();
    const down = await FakeAmazon.start();
    const unreachableUrl = down.lwaTokenUrl;
    await down.stop();
    const gateway = f.gatewayWith({ lwaTokenUrl: unreachableUrl });
    await assert.rejects(gateway.acceptGrant(f.userId, "code"), (error: Error) => {
      assert.ok(error instanceof AcceptGrantError);
      assert.match(error.message, /could not reach Login with Amazon/);
      assert.ok(!error.message.includes(CLIENT_SECRET));
      return true;
    });
    await f.close();
  });
});

describe("sending events", () => {
  test("the access token goes in the Authorization header and, through build(), in the event", async () => {
    const f = await setup();
    await linkSkill(f);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport of kitchen-light"), "sent");
    const [event] = f.amazon.events;
    const [token] = f.amazon.validAccessTokens();
    assert.equal(event?.status, 202);
    assert.equal(bearerOf(event as never), token);
    assert.match(event?.headers["content-type"] ?? "", /^application\/json/);
    assert.equal(scopeTokenOf(event as never), token);
    assert.equal(f.store.alexaGrants.get(f.userId)?.lastEventAt, f.clock.t);
    await f.close();
  });

  test("the region picks Amazon's gateway when no URL is configured", () => {
    assert.equal(EVENT_GATEWAY_URLS.NA, "https://api.amazonalexa.com/v3/events");
    assert.equal(EVENT_GATEWAY_URLS.EU, "https://api.eu.amazonalexa.com/v3/events");
    assert.equal(EVENT_GATEWAY_URLS.FE, "https://api.fe.amazonalexa.com/v3/events");
  });

  test("a user without a grant is dropped without a request", async () => {
    const f = await setup();
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "dropped");
    assert.equal(await f.gateway.send("no-such-user", changeReport, "ChangeReport"), "dropped");
    assert.equal(f.amazon.events.length, 0);
    assert.deepEqual(f.gateway.recipients(), []);
    await f.close();
  });

  test("a token with less than 5 minutes left is refreshed first, and a rotated refresh token is kept on disk", async () => {
    const f = await setup();
    await linkSkill(f);
    const first = f.store.alexaGrants.get(f.userId);
    assert.ok(first);
    f.amazon.refreshTokens = "rotate";
    f.clock.t += 56 * MINUTE;
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    const refreshes = refreshRequests(f.amazon);
    assert.equal(refreshes.length, 1);
    assert.deepEqual(refreshes[0]?.form, {
      grant_type: "refresh_token",
      refresh_token: first.refreshToken,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    const second = f.store.alexaGrants.get(f.userId);
    assert.notEqual(second?.refreshToken, first.refreshToken, "the rotated refresh token replaced the old one");
    assert.equal(second?.expiresAt, f.clock.t + 3600_000);
    assert.equal(bearerOf(f.amazon.events[0] as never), second?.accessToken);

    f.store.close();
    const reopened = Store.open(f.dir);
    assert.equal(reopened.alexaGrants.get(f.userId)?.refreshToken, second?.refreshToken);
    reopened.close();
    await f.amazon.stop();
  });

  test("the refresh token is kept when LWA's answer has none, and still works for the next refresh", async () => {
    const f = await setup();
    await linkSkill(f);
    const refreshToken = f.store.alexaGrants.get(f.userId)?.refreshToken;
    f.amazon.refreshTokens = "omit";
    f.clock.t += 58 * MINUTE;
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    assert.equal(f.store.alexaGrants.get(f.userId)?.refreshToken, refreshToken);
    f.clock.t += 58 * MINUTE;
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    assert.equal(refreshRequests(f.amazon).length, 2);
    await f.close();
  });

  test("sends racing at expiry share one refresh", async () => {
    const f = await setup();
    await linkSkill(f);
    f.amazon.refreshTokens = "rotate";
    f.clock.t += 57 * MINUTE;
    const outcomes = await Promise.all(
      [1, 2, 3, 4].map((n) => f.gateway.send(f.userId, changeReport, `ChangeReport ${n}`)),
    );
    assert.deepEqual(outcomes, ["sent", "sent", "sent", "sent"]);
    assert.equal(refreshRequests(f.amazon).length, 1);
    const token = f.store.alexaGrants.get(f.userId)?.accessToken;
    assert.deepEqual(
      f.amazon.events.map((event) => bearerOf(event)),
      [token, token, token, token],
    );
    await f.close();
  });

  test("401: the token is refreshed and the event sent once more with the new token", async () => {
    const f = await setup();
    await linkSkill(f);
    const before = f.store.alexaGrants.get(f.userId)?.accessToken;
    f.amazon.expireAccessTokens();
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    const after = f.store.alexaGrants.get(f.userId)?.accessToken;
    assert.notEqual(after, before);
    assert.deepEqual(
      f.amazon.events.map((event) => [event.status, bearerOf(event), scopeTokenOf(event)]),
      [
        [401, before, before],
        [202, after, after],
      ],
    );
    assert.equal(refreshRequests(f.amazon).length, 1);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "active");
    await f.close();
  });

  test("401 again after the refresh: the grant becomes unauthorized, link health says so, later sends are dropped", async () => {
    const f = await setup();
    await linkSkill(f);
    f.amazon.queueEventResponse(401);
    f.amazon.queueEventResponse(401);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.equal(f.amazon.events.length, 2);
    assert.equal(refreshRequests(f.amazon).length, 1);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "unauthorized");
    assert.match(alexaLink(f)?.lastError ?? "", /re-enable the skill/);
    assert.deepEqual(f.gateway.recipients(), []);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "dropped");
    assert.equal(f.amazon.events.length, 2);
    await f.close();
  });

  test("403 SKILL_DISABLED_EXCEPTION: the grant is disabled, link health says why, nothing more is sent until a relink", async () => {
    const f = await setup();
    await linkSkill(f, "first-link");
    f.amazon.queueEventResponse(403, gatewayException("SKILL_DISABLED_EXCEPTION", "The skill is disabled."));
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "dropped");
    assert.equal(f.amazon.events.length, 1, "not retried");
    const grant = f.store.alexaGrants.get(f.userId);
    assert.equal(grant?.state, "disabled");
    assert.equal(grant?.lastError, "the user disabled the skill: relink to resume proactive reports");
    const link = alexaLink(f);
    assert.equal(link?.lastError, "the user disabled the skill: relink to resume proactive reports");
    assert.equal(link?.lastErrorAt, f.clock.t);
    assert.deepEqual(f.gateway.recipients(), []);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "dropped");
    assert.equal(f.amazon.events.length, 1);

    await linkSkill(f, "second-link");
    assert.deepEqual(f.gateway.recipients(), [f.userId]);
    assert.equal(f.store.alexaGrants.get(f.userId)?.lastError, null);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    await f.close();
  });

  test("another 403 (Send Alexa Events turned off) fails without a retry and says what to do; the grant stays active", async () => {
    const f = await setup();
    await linkSkill(f);
    f.amazon.queueEventResponse(403, gatewayException("INSUFFICIENT_PERMISSION_EXCEPTION"));
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.equal(f.amazon.events.length, 1);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "active");
    assert.match(alexaLink(f)?.lastError ?? "", /turn on Send Alexa Events/);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    await f.close();
  });

  test("429 then 202: sent after one retry", async () => {
    const f = await setup({ realSleep: true, retryDelaysMs: [10, 20, 40] });
    await linkSkill(f);
    f.amazon.queueEventResponse(429);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    assert.deepEqual(
      f.amazon.events.map((event) => event.status),
      [429, 202],
    );
    await f.close();
  });

  test("500 four times: failed after four attempts, recorded on the grant, which stays active", async () => {
    const f = await setup({ realSleep: true, retryDelaysMs: [10, 20, 40] });
    await linkSkill(f);
    for (let i = 0; i < 4; i++) f.amazon.queueEventResponse(500);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.equal(f.amazon.events.length, 4);
    const grant = f.store.alexaGrants.get(f.userId);
    assert.equal(grant?.state, "active");
    assert.match(grant?.lastError ?? "", /500 INTERNAL_SERVICE_EXCEPTION after 4 attempts/);
    await f.close();
  });

  test("the waits between retries are the configured ones, in order", async () => {
    const f = await setup();
    const waits: number[] = [];
    const gateway = new AlexaEventGateway({
      store: f.store,
      config: alexaConfig(f.amazon),
      log: createLogger("silent"),
      now: () => f.clock.t,
      sleep: async (ms) => {
        waits.push(ms);
      },
      retryDelaysMs: [10, 20, 40],
    });
    await linkSkill(f);
    f.amazon.queueEventResponse(503);
    f.amazon.queueEventResponse(429);
    f.amazon.queueEventResponse(500);
    f.amazon.queueEventResponse(503);
    assert.equal(await gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.deepEqual(waits, [10, 20, 40]);
    await f.close();
  });

  test("an unreachable gateway is retried, then failed, with the reason on the grant", async () => {
    const f = await setup();
    await linkSkill(f);
    const down = await FakeAmazon.start();
    const unreachable = down.eventsUrl;
    await down.stop();
    const gateway = f.gatewayWith({ eventGatewayUrl: unreachable });
    assert.equal(await gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.match(f.store.alexaGrants.get(f.userId)?.lastError ?? "", /could not connect.*after 4 attempts/);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "active");
    await f.close();
  });

  test("400: the event is wrong, so it is not retried; Amazon's code is logged", async () => {
    const f = await setup();
    await linkSkill(f);
    f.amazon.queueEventResponse(400, gatewayException("INVALID_REQUEST_EXCEPTION", "endpointId is missing"));
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport of kitchen-light"), "failed");
    assert.equal(f.amazon.events.length, 1);
    const line = f.logs.find((entry) => entry.msg === "Amazon's event gateway refused an event");
    assert.equal(line?.answer, "HTTP 400 INVALID_REQUEST_EXCEPTION");
    assert.equal(line?.description, "endpointId is missing");
    assert.equal(line?.what, "ChangeReport of kitchen-light");
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "active");
    await f.close();
  });

  test("a refresh token LWA refuses (invalid_grant) makes the grant unauthorized, visible in link health", async () => {
    const f = await setup();
    await linkSkill(f);
    f.amazon.revokeRefreshToken(f.store.alexaGrants.get(f.userId)?.refreshToken as string);
    f.clock.t += 59 * MINUTE;
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.equal(f.amazon.events.length, 0);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "unauthorized");
    assert.match(alexaLink(f)?.lastError ?? "", /invalid_grant/);
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "dropped");
    await f.close();
  });

  test("LWA failing for a passing reason: the token's last minutes are still used", async () => {
    const f = await setup();
    await linkSkill(f);
    const token = f.store.alexaGrants.get(f.userId)?.accessToken;
    const gateway = f.gatewayWith({ lwaTokenUrl: `${f.amazon.baseUrl}/lwa-is-down` });
    f.clock.t += 57 * MINUTE;
    assert.equal(await gateway.send(f.userId, changeReport, "ChangeReport"), "sent");
    assert.equal(bearerOf(f.amazon.events[0] as never), token);
    assert.equal(f.store.alexaGrants.get(f.userId)?.state, "active");
    assert.match(f.store.alexaGrants.get(f.userId)?.lastError ?? "", /could not refresh/);
    await f.close();
  });

  test("stop() during a retry's wait: the send resolves failed at once, and later sends are not attempted", {
    timeout: 20_000,
  }, async () => {
    const f = await setup({ realSleep: true, retryDelaysMs: [60_000] });
    await linkSkill(f);
    f.amazon.queueEventResponse(503);
    const pending = f.gateway.send(f.userId, changeReport, "ChangeReport");
    await f.amazon.waitForEvents(1);
    f.gateway.stop();
    f.gateway.stop();
    assert.equal(await pending, "failed");
    assert.equal(await f.gateway.send(f.userId, changeReport, "ChangeReport"), "failed");
    assert.equal(f.amazon.events.length, 1);
    await f.close();
  });
});
