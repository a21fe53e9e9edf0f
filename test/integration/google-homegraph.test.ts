/**
 * The HomeGraph client against a local stand-in for Google (token endpoint + HomeGraph). google.md §2:
 * a service-account JWT is exchanged for an access token with the homegraph scope; Report State, Request
 * Sync (`async: true`) and agentUsers.delete carry it as a bearer token; HomeGraph answers 404 for a user
 * it does not know, 400 for a wrong body, 403 for a key of another project, 429/5xx when busy. Nothing
 * is retried by the client: the caller decides.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Config, ConfigSchema } from "../../src/config/schema.ts";
import { HOMEGRAPH_SCOPE, HomeGraph, type HomeGraphOutcome } from "../../src/google/homegraph.ts";
import { createLogger } from "../../src/log.ts";
import { LogCapture } from "../helpers/bridge.ts";
import { conformanceDir, readJson } from "../helpers/conformance.ts";
import { FakeGoogle, JWT_BEARER_GRANT } from "../helpers/fake-google.ts";
import { freePort } from "../helpers/ports.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The agentUserId of the hand-written fixtures. */
const FIXTURE_USER = "user-7f3c2a";

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-homegraph-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

interface ReportBody {
  requestId: string;
  agentUserId: string;
  eventId?: string;
  payload: { devices: { states: Record<string, unknown>; notifications?: Record<string, unknown> } };
}

function fixture<T>(name: string): T {
  return readJson(join(conformanceDir(), "google", "fixtures", name)) as T;
}

interface Fixture {
  dir: string;
  google: FakeGoogle;
  keyPath: string;
  homegraph: HomeGraph;
  logs: LogCapture;
  clock: { t: number };
  /** Another client on the same fake and log, e.g. with another key path. */
  clientWith(settings: Record<string, unknown>): HomeGraph;
  close(): Promise<void>;
}

async function setup(): Promise<Fixture> {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir);
  const google = await FakeGoogle.start();
  const keyPath = google.writeServiceAccountKey(dir);
  google.linkedUsers.add(FIXTURE_USER);
  const logs = new LogCapture();
  const log = createLogger("debug", logs);
  const clock = { t: Date.now() };
  const clientWith = (settings: Record<string, unknown>) =>
    new HomeGraph({
      config: googleConfig({ homegraphUrl: google.homegraphUrl, ...settings }),
      log,
      now: () => clock.t,
    });
  const homegraph = clientWith({ serviceAccountKeyPath: keyPath });
  return {
    dir,
    google,
    keyPath,
    homegraph,
    logs,
    clock,
    clientWith,
    async close() {
      assertNoSecretsLogged(logs, google, dir);
      await google.stop();
    },
  };
}

function googleConfig(settings: Record<string, unknown>): Config["google"] {
  return ConfigSchema.shape.google.parse(settings);
}

/** The private keys written for the test, the JWTs signed with them, the access tokens: none may be logged. */
function assertNoSecretsLogged(logs: LogCapture, google: FakeGoogle, dir: string): void {
  const secrets = new Set<string>();
  const key = JSON.parse(readFileSync(join(dir, "service-account.json"), "utf8")) as { private_key: string };
  for (const line of key.private_key.split("\n")) if (line.length > 20 && !line.startsWith("-----")) secrets.add(line);
  for (const { form } of google.tokenRequests) if (form.assertion) secrets.add(form.assertion);
  for (const { headers } of [...google.reports, ...google.syncRequests, ...google.deletes]) {
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
    if (bearer) secrets.add(bearer);
  }
  for (const token of google.validAccessTokens()) secrets.add(token);
  const text = logs.text();
  for (const secret of secrets) assert.ok(!text.includes(secret), "key material or a token reached the log");
}

function bearerOf(request: { headers: { authorization?: string | undefined } }): string | undefined {
  return /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
}

function failure(outcome: HomeGraphOutcome): Extract<HomeGraphOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, "the call was expected to fail");
  return outcome as Extract<HomeGraphOutcome, { ok: false }>;
}

function requestCount(google: FakeGoogle): number {
  return google.tokenRequests.length + google.reports.length + google.syncRequests.length + google.deletes.length;
}

describe("Report State", () => {
  test("reaches HomeGraph with the bearer token of a verified JWT-bearer exchange, in Google's body shape", async () => {
    const f = await setup();
    const expected = fixture<ReportBody>("homegraph.reportStateAndNotification.request.json");
    const outcome = await f.homegraph.reportState(FIXTURE_USER, expected.payload.devices.states as never);
    assert.deepEqual(outcome, { ok: true });

    assert.equal(f.google.tokenRequests.length, 1);
    const [exchange] = f.google.tokenRequests;
    const key = JSON.parse(readFileSync(f.keyPath, "utf8")) as { client_email: string };
    assert.equal(exchange?.verified, true, "the JWT's RS256 signature checks out with the key's public half");
    assert.equal(exchange?.form.grant_type, JWT_BEARER_GRANT);
    assert.equal(exchange?.claims?.iss, key.client_email);
    assert.equal(exchange?.claims?.aud, f.google.tokenUrl, "aud is the key file's token_uri");
    assert.ok(String(exchange?.claims?.scope).split(" ").includes(HOMEGRAPH_SCOPE));
    assert.equal(exchange?.status, 200);

    assert.equal(f.google.reports.length, 1);
    const [report] = f.google.reports;
    assert.equal(report?.status, 200);
    assert.deepEqual(f.google.validAccessTokens(), [bearerOf(report ?? { headers: {} })]);
    assert.match(report?.headers["content-type"] ?? "", /^application\/json/);
    const body = report?.body as ReportBody;
    assert.match(body.requestId, UUID);
    assert.deepEqual(Object.keys(body).sort(), ["agentUserId", "payload", "requestId"], "no eventId unless given");
    assert.deepEqual(body, { ...expected, requestId: body.requestId });
    for (const [deviceId, states] of Object.entries(body.payload.devices.states)) {
      assert.ok(typeof states === "object" && states !== null && !Array.isArray(states), `states of ${deviceId}`);
    }
    await f.close();
  });

  test("a follow-up carries the eventId and the notifications next to the states", async () => {
    const f = await setup();
    const expected = fixture<ReportBody>("homegraph.reportStateAndNotification.followUp.request.json");
    const outcome = await f.homegraph.reportState(FIXTURE_USER, expected.payload.devices.states as never, {
      eventId: expected.eventId as string,
      notifications: expected.payload.devices.notifications as never,
    });
    assert.deepEqual(outcome, { ok: true });
    const offline = fixture<ReportBody>("homegraph.reportStateAndNotification.offline.request.json");
    assert.deepEqual(await f.homegraph.reportState(FIXTURE_USER, { "lock-1": { online: false } }), { ok: true });

    const [followUp, wentOffline] = f.google.reports.map((report) => report.body as ReportBody);
    assert.deepEqual(followUp, { ...expected, requestId: followUp?.requestId });
    assert.deepEqual(wentOffline, { ...offline, requestId: wentOffline?.requestId });
    assert.notEqual(followUp?.requestId, wentOffline?.requestId, "each report has a requestId of its own");
    await f.close();
  });

  test("one token serves many calls, also when they start together", async () => {
    const f = await setup();
    const states = { "light-1": { online: true, on: true } };
    const first = await Promise.all([
      f.homegraph.reportState(FIXTURE_USER, states),
      f.homegraph.reportState(FIXTURE_USER, states),
      f.homegraph.reportState(FIXTURE_USER, states),
    ]);
    assert.deepEqual(first, [{ ok: true }, { ok: true }, { ok: true }]);
    assert.deepEqual(await f.homegraph.reportState(FIXTURE_USER, states), { ok: true });
    assert.deepEqual(await f.homegraph.requestSync(FIXTURE_USER), { ok: true });
    assert.equal(f.google.tokenRequests.length, 1, "the access token is cached until near its expiry");
    const bearers = new Set([...f.google.reports, ...f.google.syncRequests].map(bearerOf));
    assert.equal(bearers.size, 1);
    await f.close();
  });
});

describe("Request Sync and agentUsers.delete", () => {
  test("Request Sync asks for an asynchronous SYNC of the user", async () => {
    const f = await setup();
    assert.deepEqual(await f.homegraph.requestSync(FIXTURE_USER), { ok: true });
    const [request] = f.google.syncRequests;
    assert.deepEqual(request?.body, fixture("homegraph.requestSync.request.json"));
    assert.deepEqual(request?.body, { agentUserId: FIXTURE_USER, async: true });
    assert.equal(request?.status, 200);
    await f.close();
  });

  test("deleteAgentUser sends an empty DELETE with a requestId, and the user's id survives odd characters", async () => {
    const f = await setup();
    const odd = "user/with?odd#chars %";
    f.google.linkedUsers.add(odd);
    assert.deepEqual(await f.homegraph.deleteAgentUser(FIXTURE_USER), { ok: true });
    assert.deepEqual(await f.homegraph.deleteAgentUser(odd), { ok: true });
    assert.deepEqual(
      f.google.deletes.map(({ agentUserId, body, status }) => ({ agentUserId, body, status })),
      [
        { agentUserId: FIXTURE_USER, body: undefined, status: 200 },
        { agentUserId: odd, body: undefined, status: 200 },
      ],
    );
    assert.match(f.google.deletes[0]?.query.requestId ?? "", UUID);
    assert.equal(f.google.linkedUsers.size, 0);

    const again = failure(await f.homegraph.deleteAgentUser(FIXTURE_USER));
    assert.equal(again.reason, "not_found");
    await f.close();
  });
});

describe("what HomeGraph answers becomes an outcome, and nothing is retried", () => {
  test("404 for a user Google does not know is not_found, with Google's words", async () => {
    const f = await setup();
    const outcome = failure(await f.homegraph.reportState("never-linked", { "light-1": { online: true } }));
    assert.equal(outcome.reason, "not_found");
    assert.equal(outcome.status, 404);
    assert.match(outcome.message, /404 NOT_FOUND \(Requested entity was not found\.\)/);
    const sync = failure(await f.homegraph.requestSync("never-linked"));
    assert.equal(sync.reason, "not_found");
    await f.close();
  });

  const cases = [
    { status: 400, reason: "invalid_argument", google: "INVALID_ARGUMENT" },
    { status: 403, reason: "permission_denied", google: "PERMISSION_DENIED" },
    { status: 429, reason: "unavailable", google: "RESOURCE_EXHAUSTED" },
    { status: 500, reason: "unavailable", google: "INTERNAL" },
    { status: 503, reason: "unavailable", google: "UNAVAILABLE" },
  ] as const;
  for (const { status, reason, google } of cases) {
    test(`${status} is ${reason}, after exactly one request of each kind`, async () => {
      const f = await setup();
      f.google.linkedUsers.add("anna");
      for (const kind of ["report", "sync", "delete"] as const) f.google.queueResponse(kind, status);
      const outcomes = [
        await f.homegraph.reportState(FIXTURE_USER, { "light-1": { online: true } }),
        await f.homegraph.requestSync(FIXTURE_USER),
        await f.homegraph.deleteAgentUser("anna"),
      ];
      for (const outcome of outcomes) {
        const refused = failure(outcome);
        assert.equal(refused.reason, reason);
        assert.equal(refused.status, status);
        assert.match(refused.message, new RegExp(`${status} ${google}`));
      }
      assert.equal(f.google.reports.length, 1);
      assert.equal(f.google.syncRequests.length, 1);
      assert.equal(f.google.deletes.length, 1, "a DELETE is not retried either (Gaxios would by default)");
      assert.ok(f.google.linkedUsers.has("anna"));
      await f.close();
    });
  }

  test("a HomeGraph that cannot be reached is unavailable", async () => {
    const f = await setup();
    const closed = f.clientWith({
      serviceAccountKeyPath: f.keyPath,
      homegraphUrl: `http://127.0.0.1:${await freePort()}`,
    });
    const outcome = failure(await closed.reportState(FIXTURE_USER, { "light-1": { online: true } }));
    assert.equal(outcome.reason, "unavailable");
    assert.equal(outcome.status, undefined);
    assert.match(outcome.message, /did not reach HomeGraph .* \(connection failed\)/);
    await f.close();
  });

  test("a 401 drops the token: the next call fetches a new one", async () => {
    const f = await setup();
    assert.deepEqual(await f.homegraph.requestSync(FIXTURE_USER), { ok: true });
    f.google.expireAccessTokens();
    const refused = failure(await f.homegraph.reportState(FIXTURE_USER, { "light-1": { online: true } }));
    assert.equal(refused.reason, "permission_denied");
    assert.equal(refused.status, 401);
    assert.equal(f.google.reports.length, 1, "not retried");
    assert.deepEqual(await f.homegraph.reportState(FIXTURE_USER, { "light-1": { online: true } }), { ok: true });
    assert.equal(f.google.tokenRequests.length, 2);
    assert.equal(f.google.reports[1]?.status, 200);
    await f.close();
  });
});

describe("the token exchange", () => {
  test("a refused key is permission_denied, says what to check, and HomeGraph is not called", async () => {
    const f = await setup();
    f.google.queueResponse("token", 400, { error: "invalid_grant", error_description: "Invalid JWT Signature." });
    const outcome = failure(await f.homegraph.reportState(FIXTURE_USER, { "light-1": { online: true } }));
    assert.equal(outcome.reason, "permission_denied");
    assert.equal(outcome.status, undefined, "status is HomeGraph's, and HomeGraph was never asked");
    assert.match(outcome.message, /google\.serviceAccountKeyPath .*invalid_grant: Invalid JWT Signature\./);
    assert.match(outcome.message, /clock/);
    assert.equal(f.google.reports.length, 0);
    assert.ok(f.logs.find((line) => line.level === 40 && String(line.msg).includes("invalid_grant")));

    assert.deepEqual(await f.homegraph.reportState(FIXTURE_USER, { "light-1": { online: true } }), { ok: true });
    assert.equal(f.google.tokenRequests.length, 2);
    await f.close();
  });

  test("a token endpoint in trouble is unavailable after one attempt (the library would retry POSTs three times)", async () => {
    const f = await setup();
    f.google.queueResponse("token", 503);
    const outcome = failure(await f.homegraph.requestSync(FIXTURE_USER));
    assert.equal(outcome.reason, "unavailable");
    assert.match(outcome.message, /token endpoint .* answered internal_failure/);
    assert.equal(f.google.tokenRequests.length, 1);
    assert.equal(f.google.syncRequests.length, 0);
    await f.close();
  });
});

describe("the service-account key", () => {
  test("without a key path nothing is asked and the outcome says which setting to set", async () => {
    const f = await setup();
    const unset = f.clientWith({});
    assert.equal(unset.configured, false);
    assert.equal(f.homegraph.configured, true);
    for (const outcome of [
      await unset.reportState(FIXTURE_USER, { "light-1": { online: true } }),
      await unset.requestSync(FIXTURE_USER),
      await unset.deleteAgentUser(FIXTURE_USER),
    ]) {
      assert.deepEqual(outcome, {
        ok: false,
        reason: "not_configured",
        message: "HomeGraph is not configured: set google.serviceAccountKeyPath to the service-account JSON key",
      });
    }
    assert.equal(requestCount(f.google), 0);
    await f.close();
  });

  test("a missing key file is not_configured, names the setting and the path, and is read again a minute later", async () => {
    const f = await setup();
    const path = join(f.dir, "later.json");
    const client = f.clientWith({ serviceAccountKeyPath: path });
    assert.equal(client.configured, true, "configured means a path is set; the file is read at the first call");
    const outcome = failure(await client.reportState(FIXTURE_USER, { "light-1": { online: true } }));
    assert.equal(outcome.reason, "not_configured");
    assert.equal(
      outcome.message,
      `google.serviceAccountKeyPath (${path}): the file does not exist; HomeGraph calls are skipped until it is fixed`,
    );
    assert.equal(requestCount(f.google), 0);

    writeFileSync(path, readFileSync(f.keyPath));
    assert.equal(failure(await client.requestSync(FIXTURE_USER)).reason, "not_configured", "not read again at once");
    f.clock.t += 61_000;
    assert.deepEqual(await client.requestSync(FIXTURE_USER), { ok: true });
    const warnings = f.logs.lines.filter((line) => line.level === 40 && String(line.msg).includes(path));
    assert.equal(warnings.length, 1, "the problem is logged once, not at every call");
    await f.close();
  });

  test("a key file that is not a usable service-account key gets a message saying what is wrong, without its content", async () => {
    const f = await setup();
    const key = JSON.parse(readFileSync(f.keyPath, "utf8")) as Record<string, string>;
    const garbledKey =
      "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n-----END PRIVATE KEY-----\n";
    const cases: Array<{ name: string; content: string; says: RegExp }> = [
      { name: "not-json.json", content: `${key.private_key}`, says: /the file is not JSON/ },
      { name: "array.json", content: "[]", says: /it is not a JSON object/ },
      {
        name: "user-credentials.json",
        content: JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "s", refresh_token: "r" }),
        says: /it is not a service-account key \("type" is not "service_account"\)/,
      },
      {
        name: "no-private-key.json",
        content: JSON.stringify({ ...key, private_key: undefined }),
        says: /it lacks a valid private_key/,
      },
      {
        name: "garbled-key.json",
        content: JSON.stringify({ ...key, private_key: garbledKey }),
        says: /its private_key is not a PEM private key/,
      },
    ];
    for (const { name, content, says } of cases) {
      const path = join(f.dir, name);
      writeFileSync(path, content);
      const outcome = failure(await f.clientWith({ serviceAccountKeyPath: path }).reportState(FIXTURE_USER, {}));
      assert.equal(outcome.reason, "not_configured", name);
      assert.match(outcome.message, says, name);
      assert.ok(outcome.message.startsWith(`google.serviceAccountKeyPath (${path}): `), name);
      assert.ok(!outcome.message.includes("TUlJRXZR") && !outcome.message.includes("PRIVATE KEY"), name);
    }
    const folder = failure(await f.clientWith({ serviceAccountKeyPath: f.dir }).requestSync(FIXTURE_USER));
    assert.equal(folder.reason, "not_configured");
    assert.match(folder.message, /the file cannot be read \(EISDIR\)/);

    assert.equal(requestCount(f.google), 0);
    assert.ok(!f.logs.text().includes("TUlJRXZR"), "nothing of a broken key reaches the log either");
    await f.close();
  });
});
