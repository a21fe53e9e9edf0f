/**
 * Alexa Smart Home Skill API v3, as Amazon documents it: "Alexa sends directives to your skill… your skill
 * must respond with the appropriate event… If your skill can't complete the request, respond with an
 * Alexa.ErrorResponse event." Responses carry "the state of all the retrievable properties in the
 * context", ReportState is answered with a StateReport, and "you must reply within 8 seconds".
 *
 * Every answer here comes from the real daemon through `POST /alexa/smarthome`, with simulated nodes on
 * both brokers, and is validated against Amazon's published schema before it is looked at.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { hashSecret as hashOf } from "../../src/security/secrets.ts";
import { deviceTemplate, type SimNode } from "../../src/sim/index.ts";
import {
  type AlexaAccount,
  type AlexaAnswer,
  callAlexa,
  directive,
  errorType,
  linkAlexaAccount,
  property,
} from "../helpers/alexa.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, Cleanup, waitForNode } from "../helpers/integration.ts";
import { linkAccount } from "../helpers/linking.ts";

const NODE = "alexa-house-1";
const at = (dev: string) => `${NODE}:${dev}`;
const FORWARDER_SECRET = "forwarder-secret-for-tests-0123";

const garage = deviceTemplate("cover", "garage");
garage.declaration = { ...garage.declaration, class: "garage", name: "Garage door" };
const blind = deviceTemplate("cover", "blind");
blind.declaration = { ...blind.declaration, name: "Bedroom blind" };

for (const kind of BROKER_KINDS) {
  describe(`Alexa Smart Home directives (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let sim: SimNode;
    let alice: AlexaAccount;
    const secret = { "x-hearth-forwarder-secret": FORWARDER_SECRET };

    before(async () => {
      bridge = cleanup.add(
        await TestBridge.start(kind, {
          settings: {
            "alexa.commandTimeoutMs": 1500,
            "alexa.forwarderSecret": FORWARDER_SECRET,
            devices: { [`${NODE}.light`]: { name: "Kitchen (main) light!" } },
            scenes: [
              {
                id: "welcome",
                name: "Welcome home",
                actions: [{ device: `${NODE}.lock`, params: { locked: false } }],
              },
              {
                id: "movie_night",
                name: "Movie night",
                actions: [
                  { device: `${NODE}.light`, params: { on: true, brightness: 20 } },
                  { device: `${NODE}.fan`, params: { on: false } },
                ],
              },
            ],
          },
        }),
        (b) => b.stop(),
      );
      ({ sim } = await addAndConnectNode(bridge, NODE, {
        devices: ["light", "switch", "outlet", "lock", blind, garage, "thermostat", "fan", "sensor"],
      }));
      cleanup.add(sim, (s) => s.close());
      alice = await linkAlexaAccount(bridge.daemon.store, "alice");
    });

    after(() => cleanup.run());

    afterEach(() => {
      sim.ignoreCommands = false;
      sim.latencyMs = 0;
    });

    const send = (
      namespace: string,
      name: string,
      endpoint?: string,
      payload?: Record<string, unknown>,
      instance?: string,
    ) =>
      callAlexa(
        bridge,
        directive(namespace, name, {
          token: alice.accessToken,
          ...(endpoint ? { endpointId: at(endpoint) } : {}),
          ...(payload ? { payload } : {}),
          ...(instance ? { instance } : {}),
        }),
        secret,
      );

    function assertResponse(answer: AlexaAnswer, endpointId: string): void {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.event.header.name, "Response", JSON.stringify(answer.body.event.payload));
      assert.equal(answer.body.event.endpoint.endpointId, endpointId);
      assert.deepEqual(property(answer, "Alexa.EndpointHealth", "connectivity")?.value, { value: "OK" });
    }

    test("Discover lists every device with its icon, interfaces and names, and the scenes", async () => {
      const answer = await send("Alexa.Discovery", "Discover");
      assert.equal(answer.body.event.header.name, "Discover.Response");
      const endpoints = new Map<string, any>(answer.body.event.payload.endpoints.map((e: any) => [e.endpointId, e]));
      const interfaces = (id: string) => endpoints.get(id)?.capabilities.map((c: any) => c.interface);
      const categories = (id: string) => endpoints.get(id)?.displayCategories;

      assert.deepEqual(categories(at("light")), ["LIGHT"]);
      assert.deepEqual(interfaces(at("light")), [
        "Alexa",
        "Alexa.PowerController",
        "Alexa.BrightnessController",
        "Alexa.ColorController",
        "Alexa.ColorTemperatureController",
        "Alexa.EndpointHealth",
      ]);
      assert.equal(endpoints.get(at("light")).friendlyName, "Kitchen main light", "the config's name, cleaned");
      assert.deepEqual(categories(at("switch")), ["SWITCH"]);
      assert.deepEqual(categories(at("outlet")), ["SMARTPLUG"]);
      assert.deepEqual(categories(at("lock")), ["SMARTLOCK"]);
      assert.ok(interfaces(at("lock")).includes("Alexa.LockController"));
      assert.deepEqual(categories(at("blind")), ["INTERIOR_BLIND"]);
      const range = endpoints.get(at("blind")).capabilities.find((c: any) => c.interface === "Alexa.RangeController");
      assert.equal(range.instance, "Cover.Position");
      assert.ok(range.semantics.actionMappings.some((m: any) => m.actions.includes("Alexa.Actions.Open")));
      assert.deepEqual(categories(at("garage")), ["GARAGE_DOOR"]);
      assert.equal(endpoints.get(at("garage")).friendlyName, "Garage door", "the node's own name");
      const mode = endpoints.get(at("garage")).capabilities.find((c: any) => c.interface === "Alexa.ModeController");
      assert.equal(mode.instance, "GarageDoor.Position");
      assert.deepEqual(categories(at("thermostat")), ["THERMOSTAT", "TEMPERATURE_SENSOR"]);
      const thermostat = endpoints
        .get(at("thermostat"))
        .capabilities.find((c: any) => c.interface === "Alexa.ThermostatController");
      assert.deepEqual(thermostat.configuration.supportedModes, ["AUTO", "COOL", "HEAT", "ECO", "OFF"]);
      assert.deepEqual(categories(at("fan")), ["FAN"]);
      assert.ok(interfaces(at("fan")).includes("Alexa.PercentageController"));
      assert.deepEqual(categories(at("sensor")), ["CONTACT_SENSOR", "MOTION_SENSOR", "TEMPERATURE_SENSOR"]);
      assert.deepEqual(categories("scene@movie_night"), ["SCENE_TRIGGER"]);
      assert.equal(endpoints.get("scene@movie_night").friendlyName, "Movie night");

      for (const endpoint of endpoints.values()) {
        assert.equal(endpoint.manufacturerName, "Hearth");
        for (const capability of endpoint.capabilities) {
          if (!capability.properties) continue;
          // Every property is answered from the store and pushed on change: both flags, always.
          assert.equal(capability.properties.retrievable, true, `${endpoint.endpointId} ${capability.interface}`);
          assert.equal(capability.properties.proactivelyReported, true);
        }
      }
      assert.equal(endpoints.get(at("light")).additionalAttributes.customIdentifier, `${NODE}.light`);
      assert.ok(endpoints.get(at("light")).additionalAttributes.firmwareVersion, "the node's firmware version");

      const again = await send("Alexa.Discovery", "Discover");
      assert.deepEqual(
        again.body.event.payload.endpoints.map((e: any) => e.endpointId),
        answer.body.event.payload.endpoints.map((e: any) => e.endpointId),
        "endpoint ids are stable across discoveries",
      );
    });

    test("TurnOn and TurnOff answer with the power state the node confirmed", async () => {
      const on = await send("Alexa.PowerController", "TurnOn", "switch");
      assertResponse(on, at("switch"));
      assert.equal(property(on, "Alexa.PowerController", "powerState").value, "ON");
      assert.equal(sim.state("switch").on, true);
      const off = await send("Alexa.PowerController", "TurnOff", "switch");
      assert.equal(property(off, "Alexa.PowerController", "powerState").value, "OFF");
      assert.equal(sim.state("switch").on, false);
      assert.equal(off.body.event.header.correlationToken.startsWith("ct-"), true, "the correlation token is echoed");
    });

    test("brightness: set switches the light on, adjust stays inside 0–100", async () => {
      await send("Alexa.PowerController", "TurnOff", "light");
      const set = await send("Alexa.BrightnessController", "SetBrightness", "light", { brightness: 40 });
      assertResponse(set, at("light"));
      assert.equal(property(set, "Alexa.BrightnessController", "brightness").value, 40);
      assert.equal(property(set, "Alexa.PowerController", "powerState").value, "ON");
      assert.deepEqual([sim.state("light").brightness, sim.state("light").on], [40, true]);
      const brighter = await send("Alexa.BrightnessController", "AdjustBrightness", "light", { brightnessDelta: 75 });
      assert.equal(property(brighter, "Alexa.BrightnessController", "brightness").value, 100);
      const dimmer = await send("Alexa.BrightnessController", "AdjustBrightness", "light", { brightnessDelta: -25 });
      assert.equal(property(dimmer, "Alexa.BrightnessController", "brightness").value, 75);
    });

    test("colour and colour temperature", async () => {
      const color = await send("Alexa.ColorController", "SetColor", "light", {
        color: { hue: 240, saturation: 0.5, brightness: 1 },
      });
      assertResponse(color, at("light"));
      const reported = property(color, "Alexa.ColorController", "color").value;
      assert.deepEqual([reported.hue, reported.saturation], [240, 0.5]);
      assert.deepEqual([sim.state("light").hue, sim.state("light").sat], [240, 50]);

      const white = await send("Alexa.ColorTemperatureController", "SetColorTemperature", "light", {
        colorTemperatureInKelvin: 4000,
      });
      assert.equal(property(white, "Alexa.ColorTemperatureController", "colorTemperatureInKelvin").value, 4000);
      const cooler = await send("Alexa.ColorTemperatureController", "IncreaseColorTemperature", "light");
      assert.equal(property(cooler, "Alexa.ColorTemperatureController", "colorTemperatureInKelvin").value, 4500);
      const warmer = await send("Alexa.ColorTemperatureController", "DecreaseColorTemperature", "light");
      assert.equal(property(warmer, "Alexa.ColorTemperatureController", "colorTemperatureInKelvin").value, 4000);
      assert.equal(sim.state("light").ct_k, 4000);
    });

    test("fan speed as a percentage", async () => {
      const set = await send("Alexa.PercentageController", "SetPercentage", "fan", { percentage: 60 });
      assertResponse(set, at("fan"));
      assert.equal(property(set, "Alexa.PercentageController", "percentage").value, 60);
      const adjusted = await send("Alexa.PercentageController", "AdjustPercentage", "fan", { percentageDelta: -20 });
      assert.equal(property(adjusted, "Alexa.PercentageController", "percentage").value, 40);
      assert.equal(sim.state("fan").speed_pct, 40);
    });

    test("a blind is a range: set, adjust by a default step, and open through the semantics", async () => {
      const set = await send("Alexa.RangeController", "SetRangeValue", "blind", { rangeValue: 30 }, "Cover.Position");
      assertResponse(set, at("blind"));
      const range = property(set, "Alexa.RangeController", "rangeValue");
      assert.deepEqual([range.instance, range.value], ["Cover.Position", 30]);
      const raised = await send(
        "Alexa.RangeController",
        "AdjustRangeValue",
        "blind",
        { rangeValueDelta: 1, rangeValueDeltaDefault: true },
        "Cover.Position",
      );
      assert.equal(property(raised, "Alexa.RangeController", "rangeValue").value, 50);
      assert.equal(sim.state("blind").position, 50);
      const wrongInstance = await send(
        "Alexa.RangeController",
        "SetRangeValue",
        "blind",
        { rangeValue: 30 },
        "Fan.Speed",
      );
      assert.equal(errorType(wrongInstance), "INVALID_DIRECTIVE");
    });

    test("a garage door opens and closes as a mode", async () => {
      const open = await send(
        "Alexa.ModeController",
        "SetMode",
        "garage",
        { mode: "Position.Up" },
        "GarageDoor.Position",
      );
      assertResponse(open, at("garage"));
      assert.equal(property(open, "Alexa.ModeController", "mode").value, "Position.Up");
      assert.equal(sim.state("garage").position, 100);
      const closed = await send(
        "Alexa.ModeController",
        "SetMode",
        "garage",
        { mode: "Position.Down" },
        "GarageDoor.Position",
      );
      assert.equal(property(closed, "Alexa.ModeController", "mode").value, "Position.Down");
      assert.equal(sim.state("garage").position, 0);
    });

    test("thermostat: setpoints in any scale are stored in °C, modes map both ways", async () => {
      const celsius = await send("Alexa.ThermostatController", "SetTargetTemperature", "thermostat", {
        targetSetpoint: { value: 22.5, scale: "CELSIUS" },
      });
      assertResponse(celsius, at("thermostat"));
      assert.deepEqual(property(celsius, "Alexa.ThermostatController", "targetSetpoint").value, {
        value: 22.5,
        scale: "CELSIUS",
      });
      assert.deepEqual(property(celsius, "Alexa.TemperatureSensor", "temperature").value.scale, "CELSIUS");
      const fahrenheit = await send("Alexa.ThermostatController", "SetTargetTemperature", "thermostat", {
        targetSetpoint: { value: 68, scale: "FAHRENHEIT" },
      });
      assert.equal(property(fahrenheit, "Alexa.ThermostatController", "targetSetpoint").value.value, 20);
      const warmer = await send("Alexa.ThermostatController", "AdjustTargetTemperature", "thermostat", {
        targetSetpointDelta: { value: 2, scale: "CELSIUS" },
      });
      assert.equal(property(warmer, "Alexa.ThermostatController", "targetSetpoint").value.value, 22);
      assert.equal(sim.state("thermostat").target_c, 22);
      const cool = await send("Alexa.ThermostatController", "SetThermostatMode", "thermostat", {
        thermostatMode: { value: "COOL" },
      });
      assert.equal(property(cool, "Alexa.ThermostatController", "thermostatMode").value, "COOL");
      assert.equal(sim.state("thermostat").mode, "cool");
      await send("Alexa.ThermostatController", "SetThermostatMode", "thermostat", {
        thermostatMode: { value: "HEAT" },
      });
    });

    test("thermostat errors use Amazon's thermostat and temperature error types", async () => {
      const tooHot = await send("Alexa.ThermostatController", "SetTargetTemperature", "thermostat", {
        targetSetpoint: { value: 40, scale: "CELSIUS" },
      });
      assert.equal(errorType(tooHot), "TEMPERATURE_VALUE_OUT_OF_RANGE");
      assert.deepEqual(tooHot.body.event.payload.validRange, {
        minimumValue: { value: 5, scale: "CELSIUS" },
        maximumValue: { value: 30, scale: "CELSIUS" },
      });
      const dual = await send("Alexa.ThermostatController", "SetTargetTemperature", "thermostat", {
        lowerSetpoint: { value: 68, scale: "FAHRENHEIT" },
        upperSetpoint: { value: 78, scale: "FAHRENHEIT" },
      });
      assert.equal(dual.body.event.header.namespace, "Alexa.ThermostatController");
      assert.equal(errorType(dual), "DUAL_SETPOINTS_UNSUPPORTED");
      const unknownMode = await send("Alexa.ThermostatController", "SetThermostatMode", "thermostat", {
        thermostatMode: { value: "CUSTOM" },
      });
      assert.equal(errorType(unknownMode), "UNSUPPORTED_THERMOSTAT_MODE");
      await send("Alexa.ThermostatController", "SetThermostatMode", "thermostat", { thermostatMode: { value: "OFF" } });
      const whileOff = await send("Alexa.ThermostatController", "AdjustTargetTemperature", "thermostat", {
        targetSetpointDelta: { value: 1, scale: "CELSIUS" },
      });
      assert.equal(errorType(whileOff), "THERMOSTAT_IS_OFF");
      await send("Alexa.ThermostatController", "SetThermostatMode", "thermostat", {
        thermostatMode: { value: "HEAT" },
      });
    });

    test("locks lock and unlock with the state the node confirmed", async () => {
      const unlocked = await send("Alexa.LockController", "Unlock", "lock");
      assertResponse(unlocked, at("lock"));
      assert.equal(property(unlocked, "Alexa.LockController", "lockState").value, "UNLOCKED");
      assert.equal(sim.state("lock").locked, false);
      const locked = await send("Alexa.LockController", "Lock", "lock");
      assert.equal(property(locked, "Alexa.LockController", "lockState").value, "LOCKED");
    });

    test("ReportState answers from the store with every retrievable property and the sample time", async () => {
      await sim.press("sensor", { contact: false, motion: true, temperature_c: 19.5 });
      const expected = await eventually(
        () => bridge.daemon.store.devices.get(`${NODE}.sensor`)?.state.motion === true,
        3000,
        "the sensor's report",
      );
      assert.ok(expected);
      const received = sim.commandsReceived;
      const report = await send("Alexa", "ReportState", "sensor");
      assert.equal(report.body.event.header.name, "StateReport");
      assert.equal(sim.commandsReceived, received, "the node was not asked");
      assert.equal(property(report, "Alexa.ContactSensor", "detectionState").value, "DETECTED", "open");
      assert.equal(property(report, "Alexa.MotionSensor", "detectionState").value, "DETECTED");
      assert.deepEqual(property(report, "Alexa.TemperatureSensor", "temperature").value, {
        value: 19.5,
        scale: "CELSIUS",
      });
      const reportedAt = bridge.daemon.store.devices.get(`${NODE}.sensor`)?.reportedAt as number;
      assert.equal(
        property(report, "Alexa.MotionSensor", "detectionState").timeOfSample,
        new Date(reportedAt).toISOString(),
      );
      assert.deepEqual(property(report, "Alexa.EndpointHealth", "connectivity").value, { value: "OK" });
      await sim.press("sensor", { contact: true, motion: false });
    });

    test("a scene runs its commands and answers ActivationStarted", async () => {
      const answer = await callAlexa(
        bridge,
        directive("Alexa.SceneController", "Activate", { token: alice.accessToken, endpointId: "scene@movie_night" }),
        secret,
      );
      assert.equal(answer.body.event.header.name, "ActivationStarted");
      assert.equal(answer.body.event.payload.cause.type, "VOICE_INTERACTION");
      assert.deepEqual([sim.state("light").on, sim.state("light").brightness, sim.state("fan").on], [true, 20, false]);
      const deactivate = await callAlexa(
        bridge,
        directive("Alexa.SceneController", "Deactivate", { token: alice.accessToken, endpointId: "scene@movie_night" }),
        secret,
      );
      assert.equal(errorType(deactivate), "INVALID_DIRECTIVE");
      const welcome = await callAlexa(
        bridge,
        directive("Alexa.SceneController", "Activate", { token: alice.accessToken, endpointId: "scene@welcome" }),
        secret,
      );
      assert.equal(errorType(welcome), "INVALID_DIRECTIVE", "a scene that unlocks a door would bypass the PIN");
      assert.match(welcome.body.event.payload.message, /PIN/);
      assert.equal(sim.state("lock").locked, true);
    });

    test("values out of range name the valid range; malformed values and directives are refused", async () => {
      const received = sim.commandsReceived;
      const tooBright = await send("Alexa.BrightnessController", "SetBrightness", "light", { brightness: 150 });
      assert.equal(errorType(tooBright), "VALUE_OUT_OF_RANGE");
      assert.deepEqual(tooBright.body.event.payload.validRange, { minimumValue: 0, maximumValue: 100 });
      assert.equal(tooBright.body.event.endpoint.endpointId, at("light"));
      const tooWarm = await send("Alexa.ColorTemperatureController", "SetColorTemperature", "light", {
        colorTemperatureInKelvin: 9000,
      });
      assert.deepEqual(tooWarm.body.event.payload.validRange, { minimumValue: 2700, maximumValue: 6500 });
      assert.equal(
        errorType(await send("Alexa.BrightnessController", "SetBrightness", "light", { brightness: "x" })),
        "INVALID_VALUE",
      );
      assert.equal(errorType(await send("Alexa.PowerController", "TurnOn", "sensor")), "INVALID_DIRECTIVE");
      assert.equal(errorType(await send("Alexa.Speaker", "SetVolume", "light", { volume: 5 })), "INVALID_DIRECTIVE");
      assert.equal(errorType(await send("Alexa.PowerController", "TurnOn", "nothing")), "NO_SUCH_ENDPOINT");
      // Without an endpoint the token can only come from the forwarder's Authorization header.
      const noEndpoint = await callAlexa(bridge, directive("Alexa.PowerController", "TurnOn"), {
        ...secret,
        authorization: `Bearer ${alice.accessToken}`,
      });
      assert.equal(errorType(noEndpoint), "INVALID_DIRECTIVE");
      assert.equal(sim.commandsReceived, received, "nothing reached the node");
    });

    test("garbage bodies get an INVALID_DIRECTIVE ErrorResponse, never a 5xx", async () => {
      const bodies: unknown[] = [
        "{not json",
        "[]",
        "null",
        { directive: { header: { namespace: "Alexa", name: "ReportState", payloadVersion: "2" } } },
        { directive: { header: { namespace: 5 } } },
        { event: {} },
      ];
      for (const body of bodies) {
        const answer = await callAlexa(bridge, typeof body === "string" ? body : JSON.stringify(body), secret);
        assert.ok(answer.status < 500, `${JSON.stringify(body)} → ${answer.status}`);
        assert.ok(
          ["INVALID_DIRECTIVE", "INVALID_AUTHORIZATION_CREDENTIAL"].includes(errorType(answer) as string),
          JSON.stringify(answer.body),
        );
      }
      const versioned = await callAlexa(
        bridge,
        {
          directive: {
            ...directive("Alexa", "ReportState", { token: alice.accessToken, endpointId: at("light") }).directive,
            header: {
              namespace: "Alexa",
              name: "ReportState",
              payloadVersion: "2",
              messageId: "m-1",
              correlationToken: "ct-v2",
            },
          },
        },
        secret,
      );
      assert.equal(errorType(versioned), "INVALID_DIRECTIVE");
      assert.equal(versioned.body.event.header.correlationToken, "ct-v2");
    });

    test("an offline node is unreachable at once and ReportState says so", async () => {
      const other = await addAndConnectNode(bridge, "alexa-house-2", { devices: ["switch"] });
      await other.sim.close();
      await waitForNode(bridge, other.sim, false);
      const started = Date.now();
      const answer = await callAlexa(
        bridge,
        directive("Alexa.PowerController", "TurnOn", { token: alice.accessToken, endpointId: "alexa-house-2:switch" }),
        secret,
      );
      assert.equal(errorType(answer), "ENDPOINT_UNREACHABLE");
      assert.ok(Date.now() - started < 1000, "answered without waiting for a deadline");
      const report = await callAlexa(
        bridge,
        directive("Alexa", "ReportState", { token: alice.accessToken, endpointId: "alexa-house-2:switch" }),
        secret,
      );
      assert.equal(report.body.event.header.name, "StateReport");
      assert.deepEqual(property(report, "Alexa.EndpointHealth", "connectivity").value, { value: "UNREACHABLE" });
    });

    test("a node that does not answer is ENDPOINT_UNREACHABLE well inside Alexa's 8 seconds", async () => {
      sim.ignoreCommands = true;
      const started = Date.now();
      const answer = await send("Alexa.PowerController", "TurnOn", "outlet");
      const elapsed = Date.now() - started;
      assert.equal(errorType(answer), "ENDPOINT_UNREACHABLE");
      assert.ok(elapsed < 8000, `answered after ${elapsed} ms`);
    });

    test("tokens: unknown, expired, another platform's and missing ones are refused in Alexa's terms", async () => {
      const unknown = await callAlexa(
        bridge,
        directive("Alexa", "ReportState", { token: "nope", endpointId: at("light") }),
        secret,
      );
      assert.equal(unknown.status, 401);
      assert.equal(errorType(unknown), "INVALID_AUTHORIZATION_CREDENTIAL");

      const store = bridge.daemon.store;
      const grant = store.grants.token(hashOf(alice.accessToken));
      const expiredToken = "expired-access-token-for-tests-0123456789";
      store.grants.insertToken({
        tokenHash: hashOf(expiredToken),
        kind: "access",
        grantId: grant?.grantId as string,
        createdAt: Date.now() - 7200_000,
        expiresAt: Date.now() - 3600_000,
      });
      const expired = await callAlexa(
        bridge,
        directive("Alexa", "ReportState", { token: expiredToken, endpointId: at("light") }),
        secret,
      );
      assert.equal(errorType(expired), "EXPIRED_AUTHORIZATION_CREDENTIAL");

      const google = (await linkAccount(bridge.daemon.store, "gina", "google")).accessToken;
      const wrongPlatform = await callAlexa(
        bridge,
        directive("Alexa", "ReportState", { token: google, endpointId: at("light") }),
        secret,
      );
      assert.equal(errorType(wrongPlatform), "INVALID_AUTHORIZATION_CREDENTIAL");

      const bare = directive("Alexa", "ReportState", { endpointId: at("light") });
      (bare.directive as any).endpoint.scope = undefined;
      assert.equal(errorType(await callAlexa(bridge, bare, secret)), "INVALID_AUTHORIZATION_CREDENTIAL");
    });

    test("without the forwarder's secret nothing is answered but an error", async () => {
      const body = directive("Alexa", "ReportState", { token: alice.accessToken, endpointId: at("light") });
      const missing = await callAlexa(bridge, body);
      assert.equal(missing.status, 403);
      assert.equal(errorType(missing), "INTERNAL_ERROR");
      assert.equal(missing.body.event.header.correlationToken, body.directive.header.correlationToken);
      const wrong = await callAlexa(bridge, body, { "x-hearth-forwarder-secret": "not-the-secret" });
      assert.equal(wrong.status, 403);
      const right = await callAlexa(bridge, body, secret);
      assert.equal(right.body.event.header.name, "StateReport");
    });

    test("all devices belong to the household: a second linked user sees and controls the same ones", async () => {
      const bob = await linkAlexaAccount(bridge.daemon.store, "bob");
      const aliceSees = await send("Alexa.Discovery", "Discover");
      const bobSees = await callAlexa(
        bridge,
        directive("Alexa.Discovery", "Discover", { token: bob.accessToken }),
        secret,
      );
      assert.deepEqual(
        bobSees.body.event.payload.endpoints.map((e: any) => e.endpointId).sort(),
        aliceSees.body.event.payload.endpoints.map((e: any) => e.endpointId).sort(),
      );
      const answer = await callAlexa(
        bridge,
        directive("Alexa.PowerController", "TurnOn", { token: bob.accessToken, endpointId: at("switch") }),
        secret,
      );
      assert.equal(answer.body.event.header.name, "Response");
      const log = await bridge.api("GET", `/api/v1/commands?device=${NODE}.switch`);
      assert.ok(JSON.stringify(log.body).includes(`alexa:${bob.userId}`), "the command log says which user asked");
    });
  });
}
