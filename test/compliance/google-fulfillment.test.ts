/**
 * Google smart-home fulfillment, as Google documents it: "Your fulfillment… receives the SYNC, QUERY,
 * EXECUTE and DISCONNECT intents… validate the access token… If the token is invalid, return HTTP 401";
 * EXECUTE results "should include the state after execution", grouped per outcome, with `challengeNeeded`
 * for secondary user verification; QUERY reports `online` and `status` per device.
 *
 * Every answer comes from the real daemon through `POST /google/fulfillment` with simulated nodes on both
 * brokers, and is validated against Google's published schemas (with the documented 2FA overlay) and
 * against the schema of every trait the device declares.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { TwoFactor } from "../../src/google/two-factor.ts";
import { createLogger } from "../../src/log.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { deviceTemplate, type SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { assertGoogleResponse, assertGoogleTraits } from "../helpers/conformance.ts";
import { addAndConnectNode, Cleanup, waitForNode } from "../helpers/integration.ts";
import { type LinkedAccount, linkAccount } from "../helpers/linking.ts";

const NODE = "google-house-1";
const id = (dev: string) => `${NODE}.${dev}`;
const PIN = "4711";

const garage = deviceTemplate("cover", "garage");
garage.declaration = { ...garage.declaration, class: "garage", name: "Garage door" };
const blind = deviceTemplate("cover", "blind");

type Intent = "sync" | "query" | "execute" | "disconnect";

for (const kind of BROKER_KINDS) {
  describe(`Google fulfillment (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let sim: SimNode;
    let gina: LinkedAccount;
    let requests = 0;
    /** Traits per device id, from the SYNC, to validate states against. */
    const traitsOf = new Map<string, string[]>();

    before(async () => {
      bridge = cleanup.add(
        await TestBridge.start(kind, {
          settings: {
            "google.pinAttempts": 3,
            devices: {
              [id("light")]: { name: "Sofa lamp", room: "Living Room" },
              [id("outlet")]: { twoFactor: "ack" },
            },
            scenes: [
              { id: "evening", name: "Evening", actions: [{ device: id("switch"), params: { on: true } }] },
              { id: "welcome", name: "Welcome", actions: [{ device: id("lock"), params: { locked: false } }] },
            ],
          },
        }),
        (b) => b.stop(),
      );
      ({ sim } = await addAndConnectNode(bridge, NODE, {
        devices: ["light", "switch", "outlet", "lock", blind, garage, "thermostat", "fan", "sensor"],
      }));
      cleanup.add(sim, (s) => s.close());
      gina = await linkAccount(bridge.daemon.store, "gina", "google");
    });

    after(() => cleanup.run());

    afterEach(() => {
      sim.ignoreCommands = false;
      sim.actuationMs = 0;
    });

    /** Posts with gina's token, another one, or none (`null`). */
    async function call(body: unknown, token: string | null = gina.accessToken) {
      const response = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
        method: "POST",
        headers: {
          "content-type": "application/json;charset=UTF-8",
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: JSON.parse(text) as any };
    }

    async function intent(name: Intent, payload?: unknown, token: string = gina.accessToken) {
      const requestId = String(17717872861611125484n + BigInt(++requests));
      const answer = await call(
        { requestId, inputs: [{ intent: `action.devices.${name.toUpperCase()}`, ...(payload ? { payload } : {}) }] },
        token,
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assertGoogleResponse(name, answer.body);
      if (name !== "disconnect") assert.equal(answer.body.requestId, requestId, "the requestId is echoed");
      return answer.body;
    }

    const executeOn = (devices: string[], execution: unknown[], token: string = gina.accessToken) =>
      intent("execute", { commands: [{ devices: devices.map((d) => ({ id: d })), execution }] }, token);

    const cmd = (name: string, params: Record<string, unknown> = {}, challenge?: Record<string, unknown>) => ({
      command: `action.devices.commands.${name}`,
      params,
      ...(challenge ? { challenge } : {}),
    });

    function validateStates(deviceId: string, states: object) {
      assertGoogleTraits(traitsOf.get(deviceId) ?? [], undefined, states);
    }

    test("SYNC lists every device with its type, traits, room and attributes, and the scenes", async () => {
      const body = await intent("sync");
      assert.equal(body.payload.agentUserId, gina.userId);
      const devices = new Map<string, any>(body.payload.devices.map((d: any) => [d.id, d]));
      for (const device of devices.values()) {
        traitsOf.set(device.id, device.traits);
        assertGoogleTraits(device.traits, device.attributes ?? {});
      }
      const type = (dev: string) => devices.get(id(dev))?.type.replace("action.devices.types.", "");
      const traits = (dev: string) =>
        devices.get(id(dev))?.traits.map((t: string) => t.replace("action.devices.traits.", ""));
      assert.equal(type("light"), "LIGHT");
      assert.deepEqual(traits("light"), ["OnOff", "Brightness", "ColorSetting"]);
      assert.equal(devices.get(id("light")).name.name, "Sofa lamp");
      assert.equal(devices.get(id("light")).roomHint, "Living Room");
      assert.equal(devices.get(id("light")).willReportState, true);
      assert.equal(type("switch"), "SWITCH");
      assert.equal(type("outlet"), "OUTLET");
      assert.equal(type("lock"), "LOCK");
      assert.deepEqual(traits("lock"), ["LockUnlock"]);
      assert.equal(devices.get(id("lock")).notificationSupportedByAgent, true);
      assert.equal(type("garage"), "GARAGE");
      assert.equal(devices.get(id("garage")).attributes.discreteOnlyOpenClose, true);
      assert.equal(type("blind"), "BLINDS");
      assert.equal(type("thermostat"), "THERMOSTAT");
      assert.deepEqual(devices.get(id("thermostat")).attributes.availableThermostatModes, [
        "off",
        "heat",
        "cool",
        "auto",
        "eco",
      ]);
      assert.equal(type("fan"), "FAN");
      assert.deepEqual(traits("fan"), ["OnOff", "FanSpeed"]);
      assert.equal(type("sensor"), "SENSOR");
      assert.deepEqual(traits("sensor"), ["OpenClose", "SensorState", "TemperatureControl", "HumiditySetting"]);
      assert.equal(devices.get("scene@evening").type, "action.devices.types.SCENE");
      assert.ok(devices.get(id("light")).deviceInfo.swVersion, "the node's firmware version");
    });

    test("QUERY answers from the store with online, status and every trait's state", async () => {
      if (traitsOf.size === 0) await intent("sync");
      const received = sim.commandsReceived;
      const ids = ["light", "lock", "thermostat", "sensor", "fan", "blind"].map(id);
      const body = await intent("query", { devices: [...ids.map((d) => ({ id: d })), { id: "nobody.here" }] });
      assert.equal(sim.commandsReceived, received, "no node was asked");
      for (const deviceId of ids) {
        const state = body.payload.devices[deviceId];
        assert.equal(state.status, "SUCCESS");
        assert.equal(state.online, true);
        const { status: _, ...states } = state;
        validateStates(deviceId, states);
      }
      assert.equal(body.payload.devices[id("lock")].isLocked, true);
      assert.equal(body.payload.devices[id("thermostat")].thermostatMode, "heat");
      assert.equal(body.payload.devices[id("sensor")].openPercent, 0, "contact closed");
      assert.deepEqual(body.payload.devices["nobody.here"], {
        online: false,
        status: "ERROR",
        errorCode: "deviceNotFound",
      });
    });

    test("EXECUTE: brightness and colour in one request, answered with the state the node confirmed", async () => {
      const body = await executeOn(
        [id("light")],
        [cmd("BrightnessAbsolute", { brightness: 40 }), cmd("ColorAbsolute", { color: { spectrumRGB: 0xff8000 } })],
      );
      const [result] = body.payload.commands;
      assert.equal(result.status, "SUCCESS");
      assert.deepEqual(result.ids, [id("light")]);
      validateStates(id("light"), result.states);
      assert.equal(result.states.brightness, 40);
      assert.equal(result.states.on, true, "setting a level switches the light on");
      assert.equal(result.states.color.spectrumHsv.hue, 30);
      assert.deepEqual([sim.state("light").brightness, sim.state("light").hue, sim.state("light").sat], [40, 30, 100]);
      const white = await executeOn([id("light")], [cmd("ColorAbsolute", { color: { temperature: 4000 } })]);
      assert.deepEqual(
        white.payload.commands[0].states.color,
        { temperatureK: 4000 },
        "the white set last is reported",
      );
    });

    test("EXECUTE on several devices runs them all and groups the results", async () => {
      const body = await executeOn([id("switch"), id("fan")], [cmd("OnOff", { on: true })]);
      assert.equal(body.payload.commands.length, 2, "each device has its own confirmed state");
      for (const result of body.payload.commands) assert.equal(result.status, "SUCCESS");
      assert.deepEqual([sim.state("switch").on, sim.state("fan").on], [true, true]);
      const speed = await executeOn([id("fan")], [cmd("SetFanSpeed", { fanSpeedPercent: 70 })]);
      assert.equal(speed.payload.commands[0].states.currentFanSpeedPercent, 70);
      const thermostat = await executeOn(
        [id("thermostat")],
        [
          cmd("ThermostatTemperatureSetpoint", { thermostatTemperatureSetpoint: 22.5 }),
          cmd("ThermostatSetMode", { thermostatMode: "cool" }),
        ],
      );
      validateStates(id("thermostat"), thermostat.payload.commands[0].states);
      assert.deepEqual([sim.state("thermostat").target_c, sim.state("thermostat").mode], [22.5, "cool"]);
      const blindAnswer = await executeOn([id("blind")], [cmd("OpenClose", { openPercent: 40 })]);
      assert.equal(blindAnswer.payload.commands[0].states.openPercent, 40);
    });

    test("EXECUTE errors: out of range, unsupported, unknown device", async () => {
      const received = sim.commandsReceived;
      const tooHot = await executeOn(
        [id("thermostat")],
        [cmd("ThermostatTemperatureSetpoint", { thermostatTemperatureSetpoint: 45 })],
      );
      assert.deepEqual(tooHot.payload.commands[0], {
        ids: [id("thermostat")],
        status: "ERROR",
        errorCode: "valueOutOfRange",
      });
      const unsupported = await executeOn([id("switch")], [cmd("BrightnessAbsolute", { brightness: 10 })]);
      assert.equal(unsupported.payload.commands[0].errorCode, "functionNotSupported");
      const unknown = await executeOn(["nobody.here"], [cmd("OnOff", { on: true })]);
      assert.equal(unknown.payload.commands[0].errorCode, "deviceNotFound");
      assert.equal(sim.commandsReceived, received, "nothing reached the node");
    });

    test("a node that does not answer is OFFLINE within about three seconds", async () => {
      sim.ignoreCommands = true;
      const started = Date.now();
      const body = await executeOn([id("switch")], [cmd("OnOff", { on: false })]);
      assert.ok(Date.now() - started < 3500, `answered after ${Date.now() - started} ms`);
      assert.deepEqual(body.payload.commands[0], {
        ids: [id("switch")],
        status: "OFFLINE",
        errorCode: "deviceOffline",
        states: { online: false },
      });
    });

    test("unlocking asks for the PIN; wrong PINs, then a lockout; every attempt is audited", async () => {
      const unlock = (challenge?: Record<string, unknown>) =>
        executeOn([id("lock")], [cmd("LockUnlock", { lock: false, followUpToken: "follow-1" }, challenge)]);
      const notSetUp = await unlock();
      assert.equal(notSetUp.payload.commands[0].errorCode, "challengeFailedNotSetup", "no PIN set for the user yet");

      const twoFactor = new TwoFactor({
        store: bridge.daemon.store,
        config: bridge.config,
        hasher: new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } }),
        log: createLogger("silent"),
      });
      await twoFactor.setPin(gina.userId, PIN);
      const asked = await unlock();
      assert.deepEqual(asked.payload.commands[0], {
        ids: [id("lock")],
        status: "ERROR",
        errorCode: "challengeNeeded",
        challengeNeeded: { type: "pinNeeded" },
      });
      const wrong = await unlock({ pin: "0000" });
      assert.equal(wrong.payload.commands[0].challengeNeeded.type, "challengeFailedPinNeeded");
      assert.equal(sim.state("lock").locked, true, "still locked");
      const right = await unlock({ pin: PIN });
      assert.equal(right.payload.commands[0].status, "SUCCESS");
      assert.equal(right.payload.commands[0].states.isLocked, false);
      assert.equal(sim.state("lock").locked, false);
      // Locking needs no PIN.
      const lock = await executeOn([id("lock")], [cmd("LockUnlock", { lock: true })]);
      assert.equal(lock.payload.commands[0].status, "SUCCESS");

      for (let i = 0; i < 3; i++) await unlock({ pin: "9999" });
      const lockedOut = await unlock({ pin: PIN });
      assert.deepEqual(lockedOut.payload.commands[0], {
        ids: [id("lock")],
        status: "ERROR",
        errorCode: "tooManyFailedAttempts",
      });
      assert.equal(sim.state("lock").locked, true);

      const audit = await bridge.api("GET", "/api/v1/audit?action=two_factor&limit=100");
      const outcomes = audit.body.map((e: any) => e.outcome);
      for (const outcome of ["challenged", "wrong_pin", "ok", "locked_out"])
        assert.ok(outcomes.includes(outcome), outcome);
      assert.ok(!JSON.stringify(audit.body).includes(PIN), "the PIN is never written down");
      await twoFactor.setPin(gina.userId, PIN); // a new PIN ends the lockout for the other tests
    });

    test("opening the garage door needs the PIN; an ack policy asks for a yes", async () => {
      const open = await executeOn([id("garage")], [cmd("OpenClose", { openPercent: 100 })]);
      assert.equal(open.payload.commands[0].challengeNeeded.type, "pinNeeded");
      const opened = await executeOn([id("garage")], [cmd("OpenClose", { openPercent: 100 }, { pin: PIN })]);
      assert.equal(opened.payload.commands[0].states.openPercent, 100);
      const close = await executeOn([id("garage")], [cmd("OpenClose", { openPercent: 0 })]);
      assert.equal(close.payload.commands[0].status, "SUCCESS", "closing needs no PIN");

      const ask = await executeOn([id("outlet")], [cmd("OnOff", { on: false })]);
      assert.equal(ask.payload.commands[0].challengeNeeded.type, "ackNeeded");
      assert.equal(typeof ask.payload.commands[0].states.on, "boolean", "the current state goes with the question");
      const yes = await executeOn([id("outlet")], [cmd("OnOff", { on: false }, { ack: true })]);
      assert.equal(yes.payload.commands[0].status, "SUCCESS");
      assert.equal(sim.state("outlet").on, false);
    });

    test("a slow lock past the deadline is PENDING, with the state it reports meanwhile", async () => {
      sim.actuationMs = 4000;
      const body = await executeOn(
        [id("lock")],
        [cmd("LockUnlock", { lock: false, followUpToken: "follow-2" }, { pin: PIN })],
      );
      assert.equal(body.payload.commands[0].status, "PENDING");
      assert.equal(body.payload.commands[0].states.isLocked, true, "the bolt has not moved yet");
      await eventually(() => sim.state("lock").lock_state === "unlocked", 6000, "the lock to arrive");
      sim.actuationMs = 0;
      await executeOn([id("lock")], [cmd("LockUnlock", { lock: true })]);
    });

    test("a scene is activated as a device", async () => {
      await executeOn([id("switch")], [cmd("OnOff", { on: false })]);
      const body = await executeOn(["scene@evening"], [cmd("ActivateScene", { deactivate: false })]);
      assert.deepEqual(body.payload.commands[0], { ids: ["scene@evening"], status: "SUCCESS" });
      assert.equal(sim.state("switch").on, true);
      const deactivate = await executeOn(["scene@evening"], [cmd("ActivateScene", { deactivate: true })]);
      assert.equal(deactivate.payload.commands[0].errorCode, "functionNotSupported");
      // A scene that unlocks the door asks what unlocking it asks.
      const welcome = await executeOn(["scene@welcome"], [cmd("ActivateScene", { deactivate: false })]);
      assert.equal(welcome.payload.commands[0].challengeNeeded?.type, "pinNeeded");
      assert.equal(sim.state("lock").locked, true);
      const welcomed = await executeOn(["scene@welcome"], [cmd("ActivateScene", { deactivate: false }, { pin: PIN })]);
      assert.equal(welcomed.payload.commands[0].status, "SUCCESS");
      assert.equal(sim.state("lock").locked, false);
      await executeOn([id("lock")], [cmd("LockUnlock", { lock: true })]);
    });

    test("an offline node is OFFLINE at once in EXECUTE and QUERY", async () => {
      const other = await addAndConnectNode(bridge, "google-house-2", { devices: ["switch"] });
      await other.sim.close();
      await waitForNode(bridge, other.sim, false);
      const started = Date.now();
      const body = await executeOn(["google-house-2.switch"], [cmd("OnOff", { on: true })]);
      assert.ok(Date.now() - started < 1000);
      assert.equal(body.payload.commands[0].status, "OFFLINE");
      const log = await bridge.api("GET", "/api/v1/commands?device=google-house-2.switch");
      assert.ok(JSON.stringify(log.body).includes("offline"), "the attempt is in the command log, for the replay");
      const query = await intent("query", { devices: [{ id: "google-house-2.switch" }] });
      assert.equal(query.payload.devices["google-house-2.switch"].status, "OFFLINE");
      assert.equal(query.payload.devices["google-house-2.switch"].online, false);
    });

    test("tokens: missing, unknown and Alexa's are 401, so that Google refreshes", async () => {
      const body = { requestId: "1", inputs: [{ intent: "action.devices.SYNC" }] };
      const missing = await call(body, null);
      assert.equal(missing.status, 401);
      assert.equal((await call(body, "not-a-token")).status, 401);
      const alexa = await linkAccount(bridge.daemon.store, "alex", "alexa");
      assert.equal((await call(body, alexa.accessToken)).status, 401);
    });

    test("malformed bodies and unknown intents get protocolError, never a 5xx", async () => {
      for (const body of ["{nope", "[]", JSON.stringify({ inputs: [] }), JSON.stringify({ requestId: 5 })]) {
        const answer = await call(body);
        assert.equal(answer.status, 400, body);
        assert.equal(answer.body.payload.errorCode, "protocolError");
      }
      const unknown = await call({ requestId: "42", inputs: [{ intent: "action.devices.IDENTIFY" }] });
      assert.equal(unknown.status, 200);
      assert.deepEqual(unknown.body, {
        requestId: "42",
        payload: { errorCode: "protocolError", debugString: "unknown intent action.devices.IDENTIFY" },
      });
      const badExecute = await call({ requestId: "43", inputs: [{ intent: "action.devices.EXECUTE", payload: {} }] });
      assert.equal(badExecute.body.payload.errorCode, "protocolError");
    });

    test("all devices belong to the household: a second linked user gets the same SYNC", async () => {
      const other = await linkAccount(bridge.daemon.store, `housemate-${kind}`, "google");
      const mine = await intent("sync");
      const theirs = await intent("sync", undefined, other.accessToken);
      assert.equal(theirs.payload.agentUserId, other.userId, "each user is their own agentUserId");
      assert.deepEqual(
        theirs.payload.devices.map((d: any) => d.id).sort(),
        mine.payload.devices.map((d: any) => d.id).sort(),
      );
    });

    test("DISCONNECT answers {} and ends the link: the token stops working", async () => {
      const leaving = await linkAccount(bridge.daemon.store, `leaver-${kind}`, "google");
      const body = await intent("disconnect", undefined, leaving.accessToken);
      assert.deepEqual(body, {});
      const after = await call({ requestId: "9", inputs: [{ intent: "action.devices.SYNC" }] }, leaving.accessToken);
      assert.equal(after.status, 401);
      const links = await bridge.api("GET", "/api/v1/links");
      const link = links.body.find((l: any) => l.user === `leaver-${kind}`);
      assert.equal(link.active, false);
      assert.match(link.last_error, /unlinked in the Google Home app/);
    });
  });
}
