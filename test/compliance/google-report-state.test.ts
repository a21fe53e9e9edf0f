/**
 * Google HomeGraph, as Google documents it: "Report State… should be called every time your device's state
 * is changed… and after every EXECUTE", with the complete state of each trait and `online: false` for an
 * unreachable device; "Request Sync… when the user adds or removes a device"; a PENDING command is
 * followed up with a notification carrying its `followUpToken`; a 404 means Google no longer knows the
 * user. A local server plays Google (the service-account token exchange and HomeGraph); every state sent
 * is validated against the schema of the trait it belongs to.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { TwoFactor } from "../../src/google/two-factor.ts";
import { createLogger } from "../../src/log.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { eventually, TestBridge } from "../helpers/bridge.ts";
import { assertGoogleResponse, assertGoogleTraits } from "../helpers/conformance.ts";
import { FakeGoogle, googleError, type HomeGraphRequest } from "../helpers/fake-google.ts";
import { addAndConnectNode, Cleanup } from "../helpers/integration.ts";
import { type LinkedAccount, linkAccount } from "../helpers/linking.ts";

const NODE = "report-house-1";
const id = (dev: string) => `${NODE}.${dev}`;

const statesIn = (request: HomeGraphRequest) => (request.body as any).payload.devices.states as Record<string, any>;

describe("Google Report State and Request Sync", () => {
  const cleanup = new Cleanup();
  const keyDir = mkdtempSync(join(tmpdir(), "hearth-google-key-"));
  let google: FakeGoogle;
  let bridge: TestBridge;
  let sim: SimNode;
  let gina: LinkedAccount;
  const traitsOf = new Map<string, string[]>();

  async function fulfil(intent: string, payload?: unknown) {
    const response = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${gina.accessToken}` },
      body: JSON.stringify({
        requestId: "1234",
        inputs: [{ intent: `action.devices.${intent}`, ...(payload ? { payload } : {}) }],
      }),
    });
    return (await response.json()) as any;
  }

  /** The next report after `from` that carries `deviceId`. */
  const reportOf = (from: number, deviceId: string, what: string, timeoutMs = 3000) =>
    eventually(() => google.reports.slice(from).find((r) => statesIn(r)?.[deviceId]), timeoutMs, what);

  before(async () => {
    google = cleanup.add(await FakeGoogle.start(), (g) => g.stop());
    bridge = cleanup.add(
      await TestBridge.start("embedded", {
        settings: {
          "google.serviceAccountKeyPath": google.writeServiceAccountKey(keyDir),
          "google.homegraphUrl": google.homegraphUrl,
          "google.reportStateDelayMs": 100,
          "google.requestSyncDelayMs": 100,
          "google.executeTimeoutMs": 1000,
        },
      }),
      (b) => b.stop(),
    );
    ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light", "lock", "sensor"] }));
    cleanup.add(sim, (s) => s.close());
    gina = await linkAccount(bridge.daemon.store, "gina", "google");
    google.linkedUsers.add(gina.userId);
    const sync = await fulfil("SYNC");
    assertGoogleResponse("sync", sync);
    for (const device of sync.payload.devices) traitsOf.set(device.id, device.traits);
  });

  after(async () => {
    await cleanup.run();
    rmSync(keyDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await new Promise((resolve) => setTimeout(resolve, 250));
  });

  test("a button on the node reaches HomeGraph with the full state of every trait", async () => {
    const from = google.reports.length;
    await sim.press("light", { on: !sim.state("light").on, brightness: 55 });
    const report = await reportOf(from, id("light"), "the light's report");
    assert.equal((report.body as any).agentUserId, gina.userId);
    const state = statesIn(report)[id("light")];
    assert.equal(state.online, true);
    assert.equal(state.brightness, 55);
    assert.equal(state.on, sim.state("light").on);
    assert.ok(state.color, "the colour trait's state goes with it");
    assert.equal(state.status, undefined, "no status in Report State: HomeGraph refuses it");
    assertGoogleTraits(traitsOf.get(id("light")) ?? [], undefined, state);
    assert.match(String(report.headers.authorization), /^Bearer /, "with the service account's token");
  });

  test("an EXECUTE's result is reported too", async () => {
    const from = google.reports.length;
    const answer = await fulfil("EXECUTE", {
      commands: [
        {
          devices: [{ id: id("light") }],
          execution: [{ command: "action.devices.commands.BrightnessAbsolute", params: { brightness: 20 } }],
        },
      ],
    });
    assert.equal(answer.payload.commands[0].status, "SUCCESS");
    const report = await reportOf(from, id("light"), "the EXECUTE's report");
    assert.equal(statesIn(report)[id("light")].brightness, 20);
  });

  test("sensor readings are reported per trait", async () => {
    const from = google.reports.length;
    await sim.press("sensor", { water_leak: true, temperature_c: 18.5 });
    const report = await reportOf(from, id("sensor"), "the sensor's report");
    const state = statesIn(report)[id("sensor")];
    assertGoogleTraits(traitsOf.get(id("sensor")) ?? [], undefined, state);
    assert.deepEqual(
      state.currentSensorStateData.find((d: any) => d.name === "WaterLeak"),
      { name: "WaterLeak", currentSensorState: "leak" },
    );
    assert.equal(state.temperatureAmbientCelsius, 18.5);
    await sim.press("sensor", { water_leak: false });
  });

  test("a node that goes away is reported offline", async () => {
    const other = await addAndConnectNode(bridge, "report-house-2", { devices: ["switch"] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const from = google.reports.length;
    other.sim.kill();
    const report = await reportOf(from, "report-house-2.switch", "the offline report", 8000);
    assert.deepEqual(statesIn(report)["report-house-2.switch"], { online: false });
  });

  test("new devices and scenes make Google ask for a SYNC, once for a burst", async () => {
    const from = google.syncRequests.length;
    const { sim: third } = await addAndConnectNode(bridge, "report-house-3", { devices: ["light", "switch"] });
    cleanup.add(third, (s) => s.close());
    await bridge.api("PUT", "/api/v1/scenes/night", {
      name: "Night",
      actions: [{ device: id("light"), params: { on: false } }],
    });
    await eventually(() => google.syncRequests.length > from, 3000, "a Request Sync");
    await new Promise((resolve) => setTimeout(resolve, 400));
    const requests = google.syncRequests.slice(from);
    assert.ok(requests.length <= 2, `${requests.length} Request Syncs for one burst`);
    assert.deepEqual(requests[0]?.body, { agentUserId: gina.userId, async: true });
  });

  test("a PENDING unlock is followed up with its token when the lock arrives", async () => {
    await new TwoFactor({
      store: bridge.daemon.store,
      config: bridge.config,
      hasher: new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } }),
      log: createLogger("silent"),
    }).setPin(gina.userId, "4711");
    sim.actuationMs = 2000;
    try {
      const from = google.reports.length;
      const answer = await fulfil("EXECUTE", {
        commands: [
          {
            devices: [{ id: id("lock") }],
            execution: [
              {
                command: "action.devices.commands.LockUnlock",
                params: { lock: false, followUpToken: "follow-up-7" },
                challenge: { pin: "4711" },
              },
            ],
          },
        ],
      });
      assertGoogleResponse("execute", answer);
      assert.equal(answer.payload.commands[0].status, "PENDING");
      const followUp = await eventually(
        () => google.reports.slice(from).find((r) => (r.body as any).payload.devices.notifications),
        5000,
        "the follow-up",
      );
      const body = followUp.body as any;
      assert.ok(body.eventId, "a follow-up carries an event id");
      assert.deepEqual(body.payload.devices.notifications[id("lock")].LockUnlock.followUpResponse, {
        status: "SUCCESS",
        isLocked: false,
        followUpToken: "follow-up-7",
      });
      assert.equal(body.payload.devices.states[id("lock")].isLocked, false);
    } finally {
      sim.actuationMs = 0;
    }
  });

  test("a 404 is answered with a Request Sync; a 404 to that marks the link broken until Google syncs again", async () => {
    const notFound = googleError(404, "NOT_FOUND", "Requested entity was not found.");
    google.queueResponse("report", 404, notFound);
    google.queueResponse("sync", 404, notFound);
    const syncsBefore = google.syncRequests.length;
    const from = google.reports.length;
    await sim.press("light", { brightness: 66 });
    await eventually(() => google.reports.length > from, 3000, "the refused report");
    const broken = await eventually(
      async () => {
        const links = await bridge.api("GET", "/api/v1/links");
        const link = links.body.find((l: any) => l.user === "gina" && l.platform === "google");
        return /link Hearth again/.test(link?.last_error ?? "") ? link : undefined;
      },
      3000,
      "the link marked broken",
    );
    assert.ok(broken);
    assert.equal(google.syncRequests.length, syncsBefore + 1, "one Request Sync asked Google first");
    assert.equal(broken.reports.state, "broken");
    const after = google.reports.length;
    await sim.press("light", { brightness: 67 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(google.reports.length, after, "nothing more is sent to a broken link");
    await fulfil("SYNC");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const resumed = google.reports.length;
    await sim.press("light", { brightness: 68 });
    await reportOf(resumed, id("light"), "reports after the new SYNC");
    const links = await bridge.api("GET", "/api/v1/links");
    const link = links.body.find((l: any) => l.user === "gina" && l.platform === "google");
    assert.equal(link.last_error, null, "the link health is clean again");
    assert.equal(link.reports.state, "active");
  });
});
