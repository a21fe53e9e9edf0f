/**
 * The Alexa adapter's own rules, on a real SQLite store with the command path replaced: endpoint ids,
 * names, Amazon's 300-endpoint limit, and the errors a node or the bridge can cause, each answered as a
 * schema-valid ErrorResponse that tells Alexa the right thing and the user nothing internal.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, test } from "node:test";
import { endpointIdOfDevice, parseEndpointId, presentDevice, sanitizeFriendlyName } from "../../src/alexa/endpoints.ts";
import { coverModeController } from "../../src/alexa/interfaces/cover-mode.ts";
import { lockController } from "../../src/alexa/interfaces/lock.ts";
import { thermostatController } from "../../src/alexa/interfaces/thermostat.ts";
import { causeOfCommand, causeOfReport } from "../../src/alexa/proactive-reports.ts";
import { AlexaSmartHome } from "../../src/alexa/smart-home.ts";
import { EventBus } from "../../src/bus.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { CommandService } from "../../src/devices/commands.ts";
import { createLogger } from "../../src/log.ts";
import {
  CommandError,
  type CommandErrorCode,
  type DeviceClass,
  hasArrived,
  type ParamSpec,
  type ParamValue,
  resolveDeclaration,
} from "../../src/model/index.ts";
import type { Authenticated } from "../../src/oauth/grants.ts";
import type { SceneService } from "../../src/scenes/index.ts";
import { hashSecret } from "../../src/security/secrets.ts";
import { openDatabase, Store } from "../../src/store/index.ts";
import { directive } from "../helpers/alexa.ts";
import { assertAlexaMessage } from "../helpers/conformance.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-alexa-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let databases = 0;

const principal: Authenticated = { userId: "u1", clientId: "c1", grantId: "g1", scope: "devices", platform: "alexa" };

const light = (devId: string) =>
  resolveDeclaration({
    id: devId,
    type: "light",
    params: [
      { id: "on", type: "bool", rw: "rw" },
      { id: "ct_k", type: "int", rw: "rw", min: 2700, max: 6500 },
    ],
  });

/** A store with nodes of lights, all online, and an adapter whose commands do what `send` says. */
function adapter(options: { nodes?: number; lightsPerNode?: number; send?: CommandService["send"] } = {}) {
  const store = new Store(openDatabase(join(dir, `db-${databases++}.db`)));
  for (let n = 0; n < (options.nodes ?? 1); n++) {
    const nodeId = `node-${n}`;
    store.nodes.add(nodeId, hashSecret("pw"), 1000);
    store.nodes.setOnline(nodeId, true, 1000);
    const lights = Array.from({ length: options.lightsPerNode ?? 1 }, (_, i) => light(`light${i}`));
    store.devices.applyNodeConfig(nodeId, lights, 1000);
  }
  const lines: string[] = [];
  const log = createLogger(
    "info",
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const { config } = loadConfig({ env: {} });
  const smartHome = new AlexaSmartHome({
    config,
    store,
    bus: new EventBus(),
    commands: { send: options.send ?? (async () => Promise.reject(new Error("not used"))) } as CommandService,
    scenes: { list: () => [], get: () => undefined } as unknown as SceneService,
    gateway: { acceptGrant: async () => undefined, recipients: () => [], send: async () => "dropped" as const },
    log,
  });
  return { smartHome, store, lines };
}

describe("endpoint ids and names", () => {
  test("a device id maps to an endpoint id Amazon accepts and back", () => {
    assert.equal(endpointIdOfDevice("kitchen-1.light"), "kitchen-1:light");
    assert.deepEqual(parseEndpointId("kitchen-1:light"), { kind: "device", deviceId: "kitchen-1.light" });
    assert.deepEqual(parseEndpointId("scene@movie_night"), { kind: "scene", sceneId: "movie_night" });
    for (const bad of ["kitchen-1", "a:b:c", ":light", "kitchen-1:"])
      assert.equal(parseEndpointId(bad), undefined, bad);
  });

  test("names lose the characters Alexa handles badly, and never end up empty", () => {
    assert.equal(sanitizeFriendlyName('  Kitchen {main} "light" (2)! ', "x"), "Kitchen main light 2");
    assert.equal(sanitizeFriendlyName("***", "light"), "light");
    assert.equal(sanitizeFriendlyName("a".repeat(300), "x").length, 128);
  });
});

describe("discovery limits", () => {
  test("at most 300 endpoints are discovered, and the cut is logged", async () => {
    const { smartHome, lines, store } = adapter({ nodes: 11, lightsPerNode: 30 });
    const answer = await smartHome.handle(directive("Alexa.Discovery", "Discover", { token: "t" }), principal);
    assertAlexaMessage(answer);
    assert.equal((answer.event.payload.endpoints as unknown[]).length, 300);
    assert.ok(lines.some((line) => line.includes("at most 300 endpoints")));
    store.close();
  });
});

describe("errors a command can meet, in Alexa's terms", () => {
  const cases: Array<[CommandErrorCode, string]> = [
    ["offline", "ENDPOINT_UNREACHABLE"],
    ["timeout", "ENDPOINT_UNREACHABLE"],
    ["expired", "ENDPOINT_UNREACHABLE"],
    ["busy", "ENDPOINT_BUSY"],
    ["node_error", "INTERNAL_ERROR"],
    ["bridge_unavailable", "BRIDGE_UNREACHABLE"],
    ["unknown_device", "NO_SUCH_ENDPOINT"],
  ];
  for (const [code, type] of cases) {
    test(`${code} → ${type}`, async () => {
      const { smartHome, store } = adapter({
        send: async () => Promise.reject(new CommandError(code, `the node said ${code}`)),
      });
      const answer = await smartHome.handle(
        directive("Alexa.PowerController", "TurnOn", {
          token: "t",
          endpointId: "node-0:light0",
          correlationToken: "ct-1",
        }),
        principal,
      );
      assertAlexaMessage(answer);
      assert.equal(answer.event.payload.type, type);
      assert.equal(answer.event.header.correlationToken, "ct-1");
      assert.equal(answer.event.endpoint?.endpointId, "node-0:light0");
      store.close();
    });
  }

  test("an unexpected failure is INTERNAL_ERROR without internals, and logged for the operator", async () => {
    const { smartHome, store, lines } = adapter({
      send: async () => Promise.reject(new Error("SQLITE_IOERR at /var/lib/hearth/hearth.db")),
    });
    const answer = await smartHome.handle(
      directive("Alexa.PowerController", "TurnOn", { token: "t", endpointId: "node-0:light0" }),
      principal,
    );
    assertAlexaMessage(answer);
    assert.equal(answer.event.payload.type, "INTERNAL_ERROR");
    assert.ok(!JSON.stringify(answer).includes("SQLITE"), "nothing internal reaches Alexa");
    assert.ok(
      lines.some((line) => line.includes("SQLITE_IOERR")),
      "the operator sees it in the log",
    );
    store.close();
  });

  test("warmer or cooler without a current white tone is NOT_SUPPORTED_IN_CURRENT_MODE", async () => {
    const { smartHome, store } = adapter();
    const answer = await smartHome.handle(
      directive("Alexa.ColorTemperatureController", "IncreaseColorTemperature", {
        token: "t",
        endpointId: "node-0:light0",
      }),
      principal,
    );
    assertAlexaMessage(answer);
    assert.equal(answer.event.payload.type, "NOT_SUPPORTED_IN_CURRENT_MODE");
    assert.equal(answer.event.payload.currentDeviceMode, "COLOR");
    store.close();
  });
});

describe("the cause of a change", () => {
  test("commands are attributed to who asked, reports to the node", () => {
    assert.equal(causeOfCommand("alexa:u1"), "VOICE_INTERACTION");
    assert.equal(causeOfCommand("hook:doorbell"), "RULE_TRIGGER");
    assert.equal(causeOfCommand("admin:cli"), "APP_INTERACTION");
    assert.equal(causeOfCommand("google:u2"), "APP_INTERACTION");
    assert.equal(causeOfReport(["on"]), "PHYSICAL_INTERACTION");
    assert.equal(causeOfReport(["contact"]), "PHYSICAL_INTERACTION");
    assert.equal(causeOfReport(["temperature_c", "humidity_pct"]), "PERIODIC_POLL");
  });
});

describe("what a device reports while it moves, and where it stops", () => {
  const device = (
    type: "lock" | "cover" | "thermostat",
    params: ParamSpec[],
    state: Record<string, ParamValue>,
    cls?: DeviceClass,
  ) => {
    const definition = resolveDeclaration({ id: type, type, params, ...(cls ? { class: cls } : {}) });
    return presentDevice(
      {
        id: `n-1.${type}`,
        nodeId: "n-1",
        devId: type,
        type,
        name: null,
        room: null,
        present: true,
        online: true,
        definition,
        state,
        stateSeq: 1,
        nodeSeq: 1,
        reportedAt: 1000,
        paramReportedAt: {},
      },
      {},
    );
  };
  const lockParams: ParamSpec[] = [
    { id: "locked", type: "bool", rw: "rw" },
    { id: "lock_state", type: "enum", rw: "r", values: ["locked", "unlocked", "jammed", "locking", "unlocking"] },
  ];

  test("a lock is where its bolt is, not where `locked` says it is heading", () => {
    const value = (state: Record<string, ParamValue>) =>
      lockController.properties(device("lock", lockParams, state))[0]?.value;
    assert.equal(value({ locked: true, lock_state: "locking" }), "UNLOCKED");
    assert.equal(value({ locked: false, lock_state: "unlocking" }), "LOCKED");
    assert.equal(value({ locked: true, lock_state: "jammed" }), "JAMMED");
    assert.equal(value({ locked: true }), "LOCKED");
  });

  test("arrival needs the bolt or the motor to have stopped, not only the commanded value", () => {
    const lock = resolveDeclaration({ id: "lock", type: "lock", params: lockParams });
    assert.equal(hasArrived(lock, { locked: true }, { locked: true, lock_state: "locking" }), false);
    assert.equal(hasArrived(lock, { locked: true }, { locked: true, lock_state: "locked" }), true);
    const cover = resolveDeclaration({
      id: "cover",
      type: "cover",
      params: [
        { id: "position", type: "int", rw: "rw" },
        { id: "moving", type: "enum", rw: "r", values: ["opening", "closing", "stopped"] },
      ],
    });
    assert.equal(hasArrived(cover, { position: 100 }, { position: 100, moving: "opening" }), false);
    assert.equal(hasArrived(cover, { position: 100 }, { position: 100, moving: "stopped" }), true);
  });

  test("a garage door that closes to its lowest declared position is reported closed there", () => {
    const garage = device(
      "cover",
      [{ id: "position", type: "int", rw: "rw", min: 5, max: 100 }],
      { position: 5 },
      "garage",
    );
    assert.equal(coverModeController.properties(garage)[0]?.value, "Position.Down");
    const close = coverModeController.directives.SetMode?.(
      directive("Alexa.ModeController", "SetMode", {
        payload: { mode: "Position.Down" },
        instance: "GarageDoor.Position",
        endpointId: "n-1:cover",
      }).directive as never,
      garage,
    );
    assert.deepEqual(close?.params, { position: 5 });
  });

  test("an integer setpoint is rounded to whole degrees", () => {
    const thermostat = device("thermostat", [{ id: "target_c", type: "int", rw: "rw", min: 5, max: 30 }], {
      target_c: 20,
    });
    const command = thermostatController.directives.SetTargetTemperature?.(
      directive("Alexa.ThermostatController", "SetTargetTemperature", {
        payload: { targetSetpoint: { value: 71, scale: "FAHRENHEIT" } },
        endpointId: "n-1:thermostat",
      }).directive as never,
      thermostat,
    );
    assert.deepEqual(command?.params, { target_c: 22 });
  });
});
