/**
 * The Alexa Lambda forwarder, run in-process against a local HTTP server playing Hearth: what it sends
 * (path, token, secret, the event as it came) and what Alexa gets back — Hearth's answer untouched, or an
 * ErrorResponse that passes Amazon's schema when Hearth cannot give one.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, type TestContext, test } from "node:test";
import { type AlexaAnswer, handler, type LambdaContext } from "../../skills/alexa-smarthome/lambda/index.mjs";
import { alexaSamplesDir, assertAlexaMessage, readJson } from "../helpers/conformance.ts";

const SKILL_DIR = new URL("../../skills/alexa-smarthome/", import.meta.url);
const SETTINGS = ["HEARTH_URL", "HEARTH_FORWARDER_SECRET", "HEARTH_TIMEOUT_MS"] as const;
const SECRET = "forwarder-secret-4f1c9a7be2d05c38";

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** What the fake Hearth does with the next request: answer, or keep the connection open forever. */
type Reply = { status: number; body: string; contentType?: string } | "hang";

/** Plays the daemon's POST /alexa/smarthome: records every request, answers as scripted. */
class FakeHearth {
  readonly received: Received[] = [];
  reply: Reply = { status: 500, body: "" };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeHearth> {
    let hearth: FakeHearth | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const fake = hearth as FakeHearth;
        fake.received.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: JSON.parse(text),
        });
        if (fake.reply === "hang") return;
        res.writeHead(fake.reply.status, { "content-type": fake.reply.contentType ?? "application/json" });
        res.end(fake.reply.body);
      });
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    hearth = new FakeHearth(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return hearth;
  }

  answer(status: number, body: unknown): void {
    this.reply = { status, body: JSON.stringify(body) };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** One of Amazon's sample directives, with its user token replaced so that each test knows which it sent. */
function sampleDirective(file: string, token: string): any {
  const event = readJson(join(alexaSamplesDir(), file)) as any;
  const { directive } = event;
  if (directive.endpoint?.scope) directive.endpoint.scope.token = token;
  if (directive.payload?.grantee) directive.payload.grantee.token = token;
  if (directive.payload?.scope) directive.payload.scope.token = token;
  return event;
}

const turnOn = (token = "control-token-1") =>
  sampleDirective("PowerController/PowerController.TurnOn.request.json", token);
const discover = (token = "discover-token-2") => sampleDirective("Discovery/Discovery.request.json", token);
const acceptGrant = (token = "grantee-token-3") =>
  sampleDirective("Authorization/Authorization.AcceptGrant.request.json", token);

/** Runs the handler as the Lambda runtime would and collects what it logged. */
async function invoke(t: TestContext, event: unknown, context?: LambdaContext) {
  const logged: string[] = [];
  t.mock.method(console, "log", (...args: unknown[]) => logged.push(args.map(String).join(" ")));
  const answer: AlexaAnswer = await handler(event, context);
  return { answer: answer as any, logged };
}

/** An ErrorResponse the forwarder built: schema-valid, fresh id, the given type. */
function assertForwarderError(answer: any, namespace: string, type: string): void {
  assertAlexaMessage(answer);
  assert.equal(answer.event.header.namespace, namespace);
  assert.equal(answer.event.header.name, "ErrorResponse");
  assert.equal(answer.event.payload.type, type);
  assert.match(answer.event.header.messageId, /^[0-9a-f-]{36}$/);
}

describe("Alexa Lambda forwarder", () => {
  let hearth: FakeHearth;
  let saved: Record<string, string | undefined>;

  beforeEach(async () => {
    saved = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]]));
    for (const name of SETTINGS) delete process.env[name];
    hearth = await FakeHearth.start();
    process.env.HEARTH_URL = hearth.url;
  });
  afterEach(async () => {
    await hearth.close();
    for (const name of SETTINGS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  test("a control directive is POSTed whole to /alexa/smarthome with the endpoint's token, and Hearth's answer returned as is", async (t) => {
    const reply = readJson(join(alexaSamplesDir(), "PowerController/PowerController.TurnOn.response.json"));
    hearth.answer(200, reply);
    const event = turnOn();
    const { answer, logged } = await invoke(t, event);

    assert.deepEqual(answer, reply);
    assert.equal(hearth.received.length, 1);
    const [request] = hearth.received as [Received];
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/alexa/smarthome");
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers.authorization, "Bearer control-token-1");
    assert.equal(request.headers["x-hearth-forwarder-secret"], undefined, "no secret configured, none sent");
    assert.deepEqual(request.body, event);
    assert.equal(logged.length, 1);
    assert.match(logged[0] as string, /Alexa\.PowerController TurnOn status=200 ms=\d+/);
  });

  test("Discover carries the token in payload.scope; a base URL with a path and a trailing slash keeps the path", async (t) => {
    process.env.HEARTH_URL = `${hearth.url}/hearth/`;
    hearth.answer(200, { event: { header: { name: "Discover.Response" }, payload: { endpoints: [] } } });
    const { answer } = await invoke(t, discover());

    assert.equal(answer.event.header.name, "Discover.Response");
    assert.equal(hearth.received[0]?.path, "/hearth/alexa/smarthome");
    assert.equal(hearth.received[0]?.headers.authorization, "Bearer discover-token-2");
  });

  test("AcceptGrant carries the token in payload.grantee", async (t) => {
    const reply = readJson(join(alexaSamplesDir(), "Authorization/Authorization.AcceptGrant.response.json"));
    hearth.answer(200, reply);
    const { answer } = await invoke(t, acceptGrant());

    assert.deepEqual(answer, reply);
    assert.equal(hearth.received[0]?.headers.authorization, "Bearer grantee-token-3");
  });

  test("the forwarder secret goes in X-Hearth-Forwarder-Secret when set", async (t) => {
    process.env.HEARTH_FORWARDER_SECRET = SECRET;
    hearth.answer(200, { event: { header: { name: "Response" }, payload: {} } });
    await invoke(t, turnOn());

    assert.equal(hearth.received[0]?.headers["x-hearth-forwarder-secret"], SECRET);
  });

  test("Hearth's own ErrorResponse under a 401 reaches Alexa verbatim", async (t) => {
    const refusal = {
      event: {
        header: {
          namespace: "Alexa",
          name: "ErrorResponse",
          payloadVersion: "3",
          messageId: "0b7d6f1e-9a4c-4e2b-8d3f-5c6a7b8e9f01",
        },
        payload: { type: "EXPIRED_AUTHORIZATION_CREDENTIAL", message: "the access token has expired" },
      },
    };
    hearth.answer(401, refusal);
    const { answer, logged } = await invoke(t, turnOn());

    assert.deepEqual(answer, refusal);
    assert.match(logged[0] as string, /status=401 error=EXPIRED_AUTHORIZATION_CREDENTIAL/);
  });

  test("Hearth that never answers: BRIDGE_UNREACHABLE after HEARTH_TIMEOUT_MS, with the directive's correlationToken and endpointId", async (t) => {
    process.env.HEARTH_TIMEOUT_MS = "200";
    hearth.reply = "hang";
    const event = turnOn();
    const { answer, logged } = await invoke(t, event);

    assertForwarderError(answer, "Alexa", "BRIDGE_UNREACHABLE");
    assert.equal(answer.event.header.correlationToken, event.directive.header.correlationToken);
    assert.deepEqual(answer.event.endpoint, { endpointId: event.directive.endpoint.endpointId });
    assert.match(answer.event.payload.message, /did not answer within 200 ms/);
    assert.equal(hearth.received.length, 1);
    assert.match(logged[0] as string, /status=- error=BRIDGE_UNREACHABLE/);
  });

  test("a Lambda about to time out answers BRIDGE_UNREACHABLE before it does, and says to raise the Lambda timeout", async (t) => {
    hearth.reply = "hang";
    const { answer } = await invoke(t, turnOn(), { getRemainingTimeInMillis: () => 450 });

    assertForwarderError(answer, "Alexa", "BRIDGE_UNREACHABLE");
    assert.match(answer.event.payload.message, /within 200 ms .*raise it to 10 s/);
  });

  test("nothing listening at HEARTH_URL: BRIDGE_UNREACHABLE naming the cause", async (t) => {
    await hearth.close();
    const { answer } = await invoke(t, turnOn());

    assertForwarderError(answer, "Alexa", "BRIDGE_UNREACHABLE");
    assert.match(answer.event.payload.message, /ECONNREFUSED/);
    hearth = await FakeHearth.start();
  });

  test("a 502 HTML page from a proxy: INTERNAL_ERROR", async (t) => {
    hearth.reply = { status: 502, body: "<html><body>Bad Gateway</body></html>", contentType: "text/html" };
    const event = turnOn();
    const { answer } = await invoke(t, event);

    assertForwarderError(answer, "Alexa", "INTERNAL_ERROR");
    assert.match(answer.event.payload.message, /HTTP 502/);
    assert.equal(answer.event.header.correlationToken, event.directive.header.correlationToken);
  });

  test("a JSON answer without an event object is not passed on", async (t) => {
    hearth.answer(200, { error: "something else" });
    const { answer } = await invoke(t, turnOn());

    assertForwarderError(answer, "Alexa", "INTERNAL_ERROR");
  });

  test("401 or 403 without an event body: INVALID_AUTHORIZATION_CREDENTIAL", async (t) => {
    for (const status of [401, 403]) {
      hearth.reply = { status, body: "" };
      const { answer } = await invoke(t, discover());

      assertForwarderError(answer, "Alexa", "INVALID_AUTHORIZATION_CREDENTIAL");
      assert.equal(answer.event.endpoint, undefined, "Discover has no endpoint to name");
      assert.equal(answer.event.header.correlationToken, undefined, "Discover has no correlationToken");
    }
  });

  test("AcceptGrant that Hearth cannot answer: Alexa.Authorization ACCEPT_GRANT_FAILED", async (t) => {
    hearth.reply = { status: 502, body: "Bad Gateway", contentType: "text/plain" };
    const failed = await invoke(t, acceptGrant());
    assertForwarderError(failed.answer, "Alexa.Authorization", "ACCEPT_GRANT_FAILED");

    await hearth.close();
    const unreachable = await invoke(t, acceptGrant());
    assertForwarderError(unreachable.answer, "Alexa.Authorization", "ACCEPT_GRANT_FAILED");
    hearth = await FakeHearth.start();
  });

  test("an event that is not a directive: INVALID_DIRECTIVE, and Hearth is not called", async (t) => {
    const notDirectives = [
      undefined,
      null,
      "TurnOn",
      {},
      { directive: null },
      { directive: { header: { namespace: "Alexa.PowerController" } } },
      { version: "1.0", request: { type: "LaunchRequest" } },
    ];
    for (const event of notDirectives) {
      const { answer } = await invoke(t, event);
      assertForwarderError(answer, "Alexa", "INVALID_DIRECTIVE");
    }
    assert.equal(hearth.received.length, 0);
  });

  test("HEARTH_URL missing, malformed or plain http to another host: INTERNAL_ERROR saying what to set", async (t) => {
    for (const url of [undefined, "", "hearth.example.org", "http://hearth.example.org", "http://127.evil.example"]) {
      if (url === undefined) delete process.env.HEARTH_URL;
      else process.env.HEARTH_URL = url;
      const { answer } = await invoke(t, turnOn());

      assertForwarderError(answer, "Alexa", "INTERNAL_ERROR");
      assert.match(answer.event.payload.message, /HEARTH_URL .*https:\/\//);
    }
    assert.equal(hearth.received.length, 0);
  });

  test("neither the token nor the secret appears in an error answer or in the log", async (t) => {
    process.env.HEARTH_FORWARDER_SECRET = SECRET;
    const token = "Atza-user-token-7c1e0f";
    const outcomes: Array<{ answer: unknown; logged: string[] }> = [];
    hearth.reply = { status: 401, body: "" };
    outcomes.push(await invoke(t, turnOn(token)));
    hearth.answer(200, { event: { header: { name: "Response" }, payload: {} } });
    outcomes.push(await invoke(t, turnOn(token)));
    await hearth.close();
    outcomes.push(await invoke(t, turnOn(token)));
    hearth = await FakeHearth.start();

    for (const { answer, logged } of outcomes) {
      const seen = JSON.stringify(answer) + logged.join("\n");
      assert.ok(!seen.includes(token), seen);
      assert.ok(!seen.includes(SECRET), seen);
    }
  });
});

describe("skill package files", () => {
  const read = (name: string): any => JSON.parse(readFileSync(new URL(name, SKILL_DIR), "utf8"));

  test("skill.json is a Smart Home manifest with a Lambda per region and the event-gateway permission", () => {
    const { manifest } = read("skill.json");
    const smartHome = manifest.apis.smartHome;
    assert.equal(smartHome.protocolVersion, "3");
    assert.equal(smartHome.endpoint.uri, "arn:aws:lambda:us-east-1:ACCOUNT_ID:function:hearth-alexa");
    assert.deepEqual(Object.keys(smartHome.regions).sort(), ["EU", "FE", "NA"]);
    assert.match(smartHome.regions.NA.endpoint.uri, /^arn:aws:lambda:us-east-1:/);
    assert.match(smartHome.regions.EU.endpoint.uri, /^arn:aws:lambda:eu-west-1:/);
    assert.match(smartHome.regions.FE.endpoint.uri, /^arn:aws:lambda:us-west-2:/);
    assert.deepEqual(manifest.permissions, [{ name: "alexa::async_event:write" }]);
    assert.equal(manifest.publishingInformation.category, "SMART_HOME");
    assert.deepEqual(Object.keys(manifest.publishingInformation.locales), ["en-US", "en-GB", "de-DE"]);
    assert.ok(manifest.privacyAndCompliance);
  });

  test("account-linking.json asks for an auth-code grant against Hearth's OAuth endpoints", () => {
    assert.deepEqual(read("account-linking.json"), {
      accountLinkingRequest: {
        type: "AUTH_CODE",
        authorizationUrl: "https://YOUR-HEARTH/oauth/authorize",
        accessTokenUrl: "https://YOUR-HEARTH/oauth/token",
        clientId: "HEARTH_CLIENT_ID",
        clientSecret: "HEARTH_CLIENT_SECRET",
        accessTokenScheme: "HTTP_BASIC",
        scopes: ["devices"],
        domains: [],
        defaultTokenExpirationInSeconds: 3600,
      },
    });
  });

  test("test-event.json is a Discover directive the forwarder passes on with its token", async (t) => {
    const event = read("test-event.json");
    assert.equal(event.directive.header.namespace, "Alexa.Discovery");
    assert.equal(event.directive.header.name, "Discover");
    assert.equal(event.directive.header.payloadVersion, "3");

    const hearth = await FakeHearth.start();
    const saved = process.env.HEARTH_URL;
    process.env.HEARTH_URL = hearth.url;
    try {
      hearth.answer(200, { event: { header: { name: "Discover.Response" }, payload: { endpoints: [] } } });
      await invoke(t, event);
      assert.equal(hearth.received[0]?.headers.authorization, `Bearer ${event.directive.payload.scope.token}`);
    } finally {
      if (saved === undefined) delete process.env.HEARTH_URL;
      else process.env.HEARTH_URL = saved;
      await hearth.close();
    }
  });
});
