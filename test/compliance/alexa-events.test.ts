/**
 * Alexa's event gateway, as Amazon documents it: "To receive permission to send events to the Alexa event
 * gateway, your skill must support the Alexa.Authorization interface… When a customer enables your skill,
 * Alexa sends an AcceptGrant directive… Send a ChangeReport event to proactively report changes in the
 * state of an endpoint… for any reason", "within three seconds", with the changed properties in the payload
 * and the other properties in the context; AddOrUpdateReport and DeleteReport when endpoints change.
 *
 * A local server plays Login with Amazon and the gateway; every event Hearth sends it is checked, and every
 * one but DeleteReport (which Amazon's schema does not describe) is validated against Amazon's schema.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { GrantService } from "../../src/oauth/grants.ts";
import { deviceTemplate, type SimNode } from "../../src/sim/index.ts";
import { type AlexaAccount, callAlexa, directive, errorType, linkAlexaAccount } from "../helpers/alexa.ts";
import { eventually, TestBridge } from "../helpers/bridge.ts";
import { alexaSamplesDir, assertAlexaMessage, readJson } from "../helpers/conformance.ts";
import { type EventRequest, FakeAmazon, gatewayException } from "../helpers/fake-amazon.ts";
import { addAndConnectNode, Cleanup, waitForNode } from "../helpers/integration.ts";

const NODE = "events-house-1";
const at = (dev: string) => `${NODE}:${dev}`;
const CLIENT_ID = "amzn1.application-oa2-client.hearth-tests";
const CLIENT_SECRET = "skill-messaging-secret-for-tests";

const events = (amazon: FakeAmazon, name: string, from = 0) =>
  amazon.events.slice(from).filter((e) => (e.body as any)?.event?.header?.name === name);

/** Waits for an event matching `predicate` among those received after `from`. */
async function nextEvent(
  amazon: FakeAmazon,
  from: number,
  predicate: (event: any) => boolean,
  what: string,
  timeoutMs = 3000,
): Promise<any> {
  const found = await eventually(() => amazon.events.slice(from).find((e) => predicate(e.body)), timeoutMs, what);
  return (found as EventRequest).body;
}

const changeOf = (endpointId: string) => (event: any) =>
  event?.event?.header?.name === "ChangeReport" && event.event.endpoint.endpointId === endpointId;

describe("Alexa event gateway: AcceptGrant and proactive reports", () => {
  const cleanup = new Cleanup();
  let amazon: FakeAmazon;
  let bridge: TestBridge;
  let sim: SimNode;
  let alice: AlexaAccount;

  before(async () => {
    amazon = cleanup.add(await FakeAmazon.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }), (a) => a.stop());
    bridge = cleanup.add(
      await TestBridge.start("embedded", {
        settings: {
          "alexa.clientId": CLIENT_ID,
          "alexa.clientSecret": CLIENT_SECRET,
          "alexa.lwaTokenUrl": amazon.lwaTokenUrl,
          "alexa.eventGatewayUrl": amazon.eventsUrl,
          "alexa.changeReportDelayMs": 200,
          "alexa.commandTimeoutMs": 1000,
        },
      }),
      (b) => b.stop(),
    );
    ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light", "switch", "sensor", "lock"] }));
    cleanup.add(sim, (s) => s.close());
    alice = await linkAlexaAccount(bridge.daemon.store, "alice");
  });

  after(() => cleanup.run());

  beforeEach(async () => {
    // Reports of the previous test's changes are out before this one counts.
    await new Promise((resolve) => setTimeout(resolve, 400));
  });

  test("AcceptGrant exchanges Amazon's grant code and keeps the tokens", async () => {
    amazon.issueCode("ANUbUKCJqlBOpMhwYWxU");
    const sample = structuredClone(
      readJson(join(alexaSamplesDir(), "Authorization/Authorization.AcceptGrant.request.json")),
    ) as any;
    sample.directive.payload.grantee.token = alice.accessToken;
    const answer = await callAlexa(bridge, sample);
    assert.equal(answer.body.event.header.name, "AcceptGrant.Response");
    const exchange = amazon.tokenRequests.at(-1);
    assert.deepEqual(
      {
        grant_type: exchange?.form.grant_type,
        code: exchange?.form.code,
        client_id: exchange?.form.client_id,
        client_secret: exchange?.form.client_secret,
      },
      {
        grant_type: "authorization_code",
        code: "ANUbUKCJqlBOpMhwYWxU",
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      },
    );
    assert.deepEqual(bridge.daemon.alexaGateway.recipients(), [alice.userId]);
    const links = await bridge.api("GET", "/api/v1/links");
    assert.equal(links.body.find((l: any) => l.user === "alice").events.state, "active");
    assert.ok(!bridge.logs.text().includes(CLIENT_SECRET), "the client secret is never logged");

    const reused = await callAlexa(bridge, sample);
    assert.equal(reused.body.event.header.namespace, "Alexa.Authorization");
    assert.equal(errorType(reused), "ACCEPT_GRANT_FAILED");
  });

  test("a button on the node: ChangeReport within 3 s, changed property in the payload, the rest in the context", async () => {
    const from = amazon.events.length;
    const started = Date.now();
    await sim.press("switch", { on: !sim.state("switch").on });
    const report = await nextEvent(amazon, from, changeOf(at("switch")), "the switch's ChangeReport");
    assert.ok(Date.now() - started < 3000, "within Amazon's three seconds");
    assertAlexaMessage(report);
    const request = amazon.events.slice(from).find((e) => e.body === report) as EventRequest;
    const token = report.event.endpoint.scope.token;
    assert.equal(request.headers.authorization, `Bearer ${token}`);
    assert.ok(amazon.validAccessTokens().includes(token), "the LWA access token from AcceptGrant");
    assert.equal(report.event.payload.change.cause.type, "PHYSICAL_INTERACTION");
    const changed = report.event.payload.change.properties.map((p: any) => `${p.namespace}.${p.name}`);
    const unchanged = report.context.properties.map((p: any) => `${p.namespace}.${p.name}`);
    assert.deepEqual(changed, ["Alexa.PowerController.powerState"]);
    assert.deepEqual(unchanged, ["Alexa.EndpointHealth.connectivity"]);
    assert.equal(report.event.payload.change.properties[0].value, sim.state("switch").on ? "ON" : "OFF");
  });

  test("a voice command is reported with VOICE_INTERACTION, one report for everything it changed", async () => {
    await sim.press("light", { on: false, brightness: 80 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const from = amazon.events.length;
    const answer = await callAlexa(
      bridge,
      directive("Alexa.BrightnessController", "SetBrightness", {
        token: alice.accessToken,
        endpointId: at("light"),
        payload: { brightness: 30 },
      }),
    );
    assert.equal(answer.body.event.header.name, "Response");
    const report = await nextEvent(amazon, from, changeOf(at("light")), "the light's ChangeReport");
    assertAlexaMessage(report);
    assert.equal(report.event.payload.change.cause.type, "VOICE_INTERACTION");
    const changed = report.event.payload.change.properties.map((p: any) => p.name).sort();
    assert.deepEqual(
      changed,
      ["brightness", "color", "powerState"],
      "on and brightness changed; colour shows brightness",
    );
    const unchanged = report.context.properties.map((p: any) => p.name);
    for (const name of changed) assert.ok(!unchanged.includes(name), `${name} is in one list only`);
    assert.ok(unchanged.includes("colorTemperatureInKelvin"));
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(events(amazon, "ChangeReport", from).length, 1, "one report for one command");
  });

  test("sensors: an opened door triggers a report, a temperature reading is a periodic one", async () => {
    let from = amazon.events.length;
    await sim.press("sensor", { contact: false });
    const opened = await nextEvent(amazon, from, changeOf(at("sensor")), "the contact sensor's report");
    assertAlexaMessage(opened);
    assert.deepEqual(
      opened.event.payload.change.properties.map((p: any) => [p.namespace, p.value]),
      [["Alexa.ContactSensor", "DETECTED"]],
    );
    assert.equal(opened.event.payload.change.cause.type, "PHYSICAL_INTERACTION");
    await new Promise((resolve) => setTimeout(resolve, 400));
    from = amazon.events.length;
    await sim.press("sensor", { temperature_c: 23.5 });
    const reading = await nextEvent(amazon, from, changeOf(at("sensor")), "the temperature report");
    assert.equal(reading.event.payload.change.cause.type, "PERIODIC_POLL");
    assert.deepEqual(reading.event.payload.change.properties[0].value, { value: 23.5, scale: "CELSIUS" });
    await new Promise((resolve) => setTimeout(resolve, 400));
    from = amazon.events.length;
    await sim.press("sensor", { humidity_pct: 60 });
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(events(amazon, "ChangeReport", from).length, 0, "humidity has no Alexa property: nothing to report");
    await sim.press("sensor", { contact: true });
  });

  test("a node that goes away is reported unreachable, and reachable when it is back", async () => {
    const second = await addAndConnectNode(bridge, "events-house-2", { devices: ["outlet"] });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const from = amazon.events.length;
    second.sim.kill();
    const gone = await nextEvent(amazon, from, changeOf("events-house-2:outlet"), "the unreachable report", 8000);
    assertAlexaMessage(gone);
    assert.deepEqual(gone.event.payload.change.properties, [
      {
        ...gone.event.payload.change.properties[0],
        namespace: "Alexa.EndpointHealth",
        name: "connectivity",
        value: { value: "UNREACHABLE" },
      },
    ]);
    const back = amazon.events.length;
    const returned = cleanup.add(
      await (await import("../helpers/integration.ts")).connectNode(bridge, second.credentials, {
        devices: ["outlet"],
      }),
      (s) => s.close(),
    );
    await waitForNode(bridge, returned, true);
    const reachable = await nextEvent(amazon, back, changeOf("events-house-2:outlet"), "the reachable report");
    assert.deepEqual(reachable.event.payload.change.properties.find((p: any) => p.name === "connectivity").value, {
      value: "OK",
    });
  });

  test("devices that appear or go away are added to and removed from the Alexa app", async () => {
    let from = amazon.events.length;
    const humidity = deviceTemplate("sensor", "humidity");
    humidity.declaration = {
      ...humidity.declaration,
      params: humidity.declaration.params.filter((p) => p.id === "humidity_pct"),
    };
    const { sim: third } = await addAndConnectNode(bridge, "events-house-3", { devices: ["light", "lock", humidity] });
    cleanup.add(third, (s) => s.close());
    const added = await nextEvent(
      amazon,
      from,
      (e) => e?.event?.header?.name === "AddOrUpdateReport",
      "the AddOrUpdateReport",
    );
    assertAlexaMessage(added);
    assert.deepEqual(added.event.payload.endpoints.map((e: any) => e.endpointId).sort(), [
      "events-house-3:light",
      "events-house-3:lock",
    ]);
    assert.ok(amazon.validAccessTokens().includes(added.event.payload.scope.token));
    assert.equal(events(amazon, "DeleteReport", from).length, 0, "a device Alexa cannot use was never there to delete");

    from = amazon.events.length;
    const removed = await bridge.api("DELETE", "/api/v1/nodes/events-house-3");
    assert.equal(removed.status, 204);
    const deleted = await nextEvent(amazon, from, (e) => e?.event?.header?.name === "DeleteReport", "the DeleteReport");
    // A removed node's devices are gone from the store before Alexa is told, so every one of them is named;
    // Amazon ignores an endpoint id it does not know.
    const ids = deleted.event.payload.endpoints.map((e: any) => e.endpointId);
    for (const id of ["events-house-3:light", "events-house-3:lock"]) assert.ok(ids.includes(id), id);
    assert.equal(deleted.event.header.namespace, "Alexa.Discovery");
    assert.equal(deleted.event.payload.scope.type, "BearerToken");
  });

  test("scenes created and deleted through the API are added and removed too", async () => {
    let from = amazon.events.length;
    const created = await bridge.api("PUT", "/api/v1/scenes/reading", {
      name: "Reading",
      actions: [{ device: `${NODE}.light`, params: { on: true, brightness: 60 } }],
    });
    assert.equal(created.status, 201);
    const added = await nextEvent(
      amazon,
      from,
      (e) => e?.event?.header?.name === "AddOrUpdateReport",
      "the scene's report",
    );
    assertAlexaMessage(added);
    assert.deepEqual(
      added.event.payload.endpoints.map((e: any) => [e.endpointId, e.friendlyName]),
      [["scene@reading", "Reading"]],
    );
    from = amazon.events.length;
    assert.equal((await bridge.api("DELETE", "/api/v1/scenes/reading")).status, 204);
    const deleted = await nextEvent(
      amazon,
      from,
      (e) => e?.event?.header?.name === "DeleteReport",
      "the scene's removal",
    );
    assert.deepEqual(deleted.event.payload.endpoints, [{ endpointId: "scene@reading" }]);
  });

  test("a slow lock: DeferredResponse now, the confirmed Response through the gateway when it arrives", async () => {
    sim.actuationMs = 2000;
    try {
      await sim.press("lock", { locked: false, lock_state: "unlocked" });
      await new Promise((resolve) => setTimeout(resolve, 400));
      const from = amazon.events.length;
      const lock = directive("Alexa.LockController", "Lock", { token: alice.accessToken, endpointId: at("lock") });
      const deferred = await callAlexa(bridge, lock);
      assert.equal(deferred.body.event.header.name, "DeferredResponse");
      assert.equal(deferred.body.event.header.correlationToken, lock.directive.header.correlationToken);
      assert.ok(deferred.body.event.payload.estimatedDeferralInSeconds > 0);
      const late = await nextEvent(
        amazon,
        from,
        (e) => e?.event?.header?.name === "Response",
        "the deferred Response",
        5000,
      );
      assertAlexaMessage(late);
      assert.equal(late.event.header.correlationToken, lock.directive.header.correlationToken);
      assert.ok(amazon.validAccessTokens().includes(late.event.endpoint.scope.token));
      const lockState = late.context.properties.find((p: any) => p.name === "lockState");
      assert.equal(lockState.value, "LOCKED", "the state the lock reported on arrival");
      assert.equal(sim.state("lock").locked, true);
      const arrival = await nextEvent(
        amazon,
        from,
        (e) =>
          changeOf(at("lock"))(e) &&
          e.event.payload.change.properties.some((p: any) => p.name === "lockState" && p.value === "LOCKED"),
        "the lock's arrival report",
      );
      assert.equal(arrival.event.payload.change.cause.type, "VOICE_INTERACTION", "still the voice command's doing");
    } finally {
      sim.actuationMs = 0;
    }
  });

  test("a slow lock that arrives within the deadline is answered directly; without event permission, now", async () => {
    sim.actuationMs = 300;
    try {
      await sim.press("lock", { locked: false, lock_state: "unlocked" });
      const quick = await callAlexa(
        bridge,
        directive("Alexa.LockController", "Lock", { token: alice.accessToken, endpointId: at("lock") }),
      );
      assert.equal(quick.body.event.header.name, "Response");
      assert.equal(quick.body.context.properties.find((p: any) => p.name === "lockState").value, "LOCKED");

      sim.actuationMs = 2000;
      const bob = await linkAlexaAccount(bridge.daemon.store, "bob");
      const now = await callAlexa(
        bridge,
        directive("Alexa.LockController", "Unlock", { token: bob.accessToken, endpointId: at("lock") }),
      );
      assert.equal(now.body.event.header.name, "Response", "bob never granted event permission: no deferral");
      assert.equal(
        now.body.context.properties.find((p: any) => p.name === "lockState").value,
        "LOCKED",
        "the bolt has not moved yet, and Alexa is told so",
      );
      await eventually(() => sim.state("lock").locked === false, 4000, "the lock to arrive");
    } finally {
      sim.actuationMs = 0;
    }
  });

  test("a user whose link was ended is told nothing more, whatever Amazon's tokens still allow", async () => {
    const carol = await linkAlexaAccount(bridge.daemon.store, "carol");
    amazon.issueCode("carol-grant-code");
    const granted = await callAlexa(
      bridge,
      directive("Alexa.Authorization", "AcceptGrant", {
        payload: {
          grant: { type: "OAuth2.AuthorizationCode", code: "carol-grant-code" },
          grantee: { type: "BearerToken", token: carol.accessToken },
        },
      }),
    );
    assert.equal(granted.body.event.header.name, "AcceptGrant.Response");
    assert.ok(bridge.daemon.alexaGateway.recipients().includes(carol.userId));
    new GrantService(bridge.daemon.store).revokeUser(carol.userId);
    assert.ok(!bridge.daemon.alexaGateway.recipients().includes(carol.userId));
    const from = amazon.events.length;
    await sim.press("switch", { on: !sim.state("switch").on });
    await nextEvent(amazon, from, changeOf(at("switch")), "alice's report");
    await new Promise((resolve) => setTimeout(resolve, 400));
    const tokens = amazon.events.slice(from).map((e) => (e.body as any).event.endpoint?.scope?.token);
    const carolToken = bridge.daemon.store.alexaGrants.get(carol.userId)?.accessToken;
    assert.ok(!tokens.includes(carolToken), "no report went to carol's Amazon account");
  });

  test("a user who disabled the skill gets no more reports, and the link says why", async () => {
    const from = amazon.events.length;
    amazon.queueEventResponse(403, gatewayException("SKILL_DISABLED_EXCEPTION"));
    await sim.press("switch", { on: !sim.state("switch").on });
    await nextEvent(amazon, from, changeOf(at("switch")), "the refused report");
    await eventually(() => bridge.daemon.alexaGateway.recipients().length === 0, 3000, "the grant to be disabled");
    const links = await bridge.api("GET", "/api/v1/links");
    assert.match(JSON.stringify(links.body), /disabled the skill/);
    assert.equal(links.body.find((l: any) => l.user === "alice").events.state, "disabled");
    const after = amazon.events.length;
    await sim.press("switch", { on: !sim.state("switch").on });
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(amazon.events.length, after, "nothing is sent for a disabled skill");
  });
});
