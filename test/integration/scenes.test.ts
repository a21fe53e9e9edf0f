/**
 * Scenes end to end on a real daemon: config scenes are listed and run but never changed through the API;
 * API scenes are created, replaced and removed, checked against the devices, announced on the bus and kept
 * across a restart; activation runs every action through the command service and reports each outcome,
 * partial when some device failed and 502 when all did; `hearth scenes` and `hearth scene activate` show
 * the same to a user.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { SceneRegistryEvent } from "../../src/bus.ts";
import type { NodeCredentials } from "../../src/devices/node-registry.ts";
import type { SceneDefinition } from "../../src/scenes/index.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import {
  addAndConnectNode,
  Cleanup,
  commandLog,
  connectNode,
  getDevice,
  WARN,
  waitForNode,
} from "../helpers/integration.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

const LIVING = "scn-living-1";
const LIGHT = `${LIVING}.light`;
const LAMP = `${LIVING}.switch`;
const PORCH = "scn-porch-1";
const PORCH_LIGHT = `${PORCH}.light`;
/** A device no node ever declares. */
const GARDEN_LIGHT = "scn-garden-1.light";

const CONFIG_SCENES: SceneDefinition[] = [
  {
    id: "movie-night",
    name: "Movie night",
    actions: [
      { device: LIGHT, params: { on: true, brightness: 20 } },
      { device: LAMP, params: { on: false } },
    ],
  },
  { id: "garden", name: "Garden lights", actions: [{ device: GARDEN_LIGHT, params: { on: true } }] },
];

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hearth` as a user does. Never spawnSync: the daemon it talks to runs in this very process. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
}

for (const kind of BROKER_KINDS) {
  describe(`scenes (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let living: SimNode;
    let porch: SimNode;
    let porchCredentials: NodeCredentials;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind, { settings: { scenes: CONFIG_SCENES } }), (b) => b.stop());
      ({ sim: living } = await addAndConnectNode(bridge, LIVING, { devices: ["light", "switch"] }));
      cleanup.add(living, (s) => s.close());
      ({ sim: porch, credentials: porchCredentials } = await addAndConnectNode(bridge, PORCH, { devices: ["light"] }));
      cleanup.add(porch, (s) => s.close());
    });

    after(() => cleanup.run());

    /** Records the scene registry events the daemon's bus carries while `fn` runs. */
    async function registryEvents(fn: () => Promise<void>): Promise<SceneRegistryEvent[]> {
      const events: SceneRegistryEvent[] = [];
      bridge.daemon.bus.on("scenes-test", "scene.registry", (event) => events.push(event));
      try {
        await fn();
      } finally {
        bridge.daemon.bus.removeListeners("scenes-test");
      }
      return events;
    }

    function cliEnv(): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = {};
      for (const key of Object.keys(process.env)) if (key.startsWith("HEARTH_")) env[key] = undefined;
      // The same data dir and config scenes as the daemon, as a user's CLI would have.
      return {
        ...env,
        HEARTH_DATA_DIR: bridge.dataDir,
        HEARTH_SCENES: JSON.stringify(CONFIG_SCENES),
        HEARTH_URL: bridge.httpUrl,
      };
    }

    test("a config scene is listed as from the config and turns its devices to the scene's state", async () => {
      await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { on: false, brightness: 80 } });
      await bridge.api("POST", `/api/v1/devices/${LAMP}/commands`, { params: { on: true } });

      const list = await bridge.api("GET", "/api/v1/scenes");
      assert.equal(list.status, 200);
      const movieNight = list.body.find((scene: { id: string }) => scene.id === "movie-night");
      assert.deepEqual(movieNight, { ...CONFIG_SCENES[0], source: "config" });
      const one = await bridge.api("GET", "/api/v1/scenes/movie-night");
      assert.deepEqual(one.body, movieNight);

      const activated = await bridge.api("POST", "/api/v1/scenes/movie-night/activate");
      assert.equal(activated.status, 200, JSON.stringify(activated.body));
      assert.equal(activated.body.status, "ok");
      assert.deepEqual(
        activated.body.results.map((r: { device: string; status: string }) => [r.device, r.status]),
        [
          [LIGHT, "ok"],
          [LAMP, "ok"],
        ],
      );
      assert.deepEqual(activated.body.results[0].state, living.state("light"), "what the node confirmed");
      assert.equal(living.state("light").on, true);
      assert.equal(living.state("light").brightness, 20);
      assert.equal(living.state("switch").on, false);
      assert.equal((await getDevice(bridge, LAMP)).state.on, false);
      const [entry] = await commandLog(bridge, LIGHT);
      assert.equal(entry?.actor, "admin:test", "the scene's commands are logged under whoever activated it");
    });

    test("a config scene cannot be replaced or removed through the API", async () => {
      const replaced = await bridge.api("PUT", "/api/v1/scenes/movie-night", {
        name: "Mine now",
        actions: [{ device: LIGHT, params: { on: false } }],
      });
      assert.equal(replaced.status, 409, JSON.stringify(replaced.body));
      assert.equal(replaced.body.error.code, "read_only");
      assert.match(replaced.body.error.message, /config file/);
      const removed = await bridge.api("DELETE", "/api/v1/scenes/movie-night");
      assert.equal(removed.status, 409);
      assert.equal(removed.body.error.code, "read_only");
      assert.equal((await bridge.api("GET", "/api/v1/scenes/movie-night")).body.name, "Movie night");
    });

    test("a config scene naming an unknown device is warned about at start and fails when activated", async () => {
      const warning = bridge.logs.find(
        (line) => line.level === WARN && line.scene === "garden" && String(line.msg).includes(GARDEN_LIGHT),
      );
      assert.ok(warning, "a warning names the scene and the device");
      const activated = await bridge.api("POST", "/api/v1/scenes/garden/activate");
      assert.equal(activated.status, 502, JSON.stringify(activated.body));
      assert.equal(activated.body.error.code, "scene_failed");
      assert.deepEqual(
        activated.body.error.results.map((r: { device: string; code: string }) => [r.device, r.code]),
        [[GARDEN_LIGHT, "unknown_device"]],
      );
    });

    test("an API scene is created, listed, run, replaced and removed, each change announced", async () => {
      const events = await registryEvents(async () => {
        const created = await bridge.api("PUT", "/api/v1/scenes/reading", {
          name: "Reading",
          actions: [{ device: LIGHT, params: { on: true, brightness: 90 } }],
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.deepEqual(created.body, {
          id: "reading",
          name: "Reading",
          source: "api",
          actions: [{ device: LIGHT, params: { on: true, brightness: 90 } }],
        });

        const list = await bridge.api("GET", "/api/v1/scenes");
        assert.deepEqual(
          list.body.map((scene: { id: string; source: string }) => [scene.id, scene.source]),
          [
            ["garden", "config"],
            ["movie-night", "config"],
            ["reading", "api"],
          ],
          "sorted by name",
        );

        const ran = await bridge.api("POST", "/api/v1/scenes/reading/activate");
        assert.equal(ran.status, 200, JSON.stringify(ran.body));
        assert.equal(ran.body.status, "ok");
        assert.equal(living.state("light").brightness, 90);

        const replaced = await bridge.api("PUT", "/api/v1/scenes/reading", {
          name: "Reading, then dim",
          actions: [
            { device: LIGHT, params: { brightness: 10 } },
            { device: LIGHT, params: { brightness: 70 } },
          ],
        });
        assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
        assert.equal((await bridge.api("GET", "/api/v1/scenes/reading")).body.name, "Reading, then dim");

        const again = await bridge.api("POST", "/api/v1/scenes/reading/activate");
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.deepEqual(
          again.body.results.map((r: { state: { brightness: number } }) => r.state.brightness),
          [10, 70],
          "actions on one device run in the scene's order",
        );
        assert.equal(living.state("light").brightness, 70);

        const removed = await bridge.api("DELETE", "/api/v1/scenes/reading");
        assert.equal(removed.status, 204);
        const gone = await bridge.api("GET", "/api/v1/scenes/reading");
        assert.equal(gone.status, 404);
        assert.equal(gone.body.error.code, "unknown_scene");
      });
      assert.deepEqual(
        events.map(({ added, removed, changed }) => ({ added, removed, changed })),
        [
          { added: ["reading"], removed: [], changed: [] },
          { added: [], removed: [], changed: ["reading"] },
          { added: [], removed: ["reading"], changed: [] },
        ],
      );
      assert.ok(events.every((event) => typeof event.at === "number"));
    });

    test("a scene with an action its device would refuse is not saved, and the error names the action", async () => {
      const events = await registryEvents(async () => {
        const unknownDevice = await bridge.api("PUT", "/api/v1/scenes/broken", {
          name: "Broken",
          actions: [
            { device: LIGHT, params: { on: true } },
            { device: `${LIVING}.nope`, params: { on: true } },
          ],
        });
        assert.equal(unknownDevice.status, 400, JSON.stringify(unknownDevice.body));
        assert.equal(unknownDevice.body.error.code, "invalid_action");
        assert.equal(unknownDevice.body.error.message, `actions[1]: no device "${LIVING}.nope"`);

        const outOfRange = await bridge.api("PUT", "/api/v1/scenes/broken", {
          name: "Broken",
          actions: [{ device: LIGHT, params: { brightness: 150 } }],
        });
        assert.equal(outOfRange.status, 400);
        assert.equal(outOfRange.body.error.code, "invalid_action");
        assert.match(outOfRange.body.error.message, /^actions\[0\]: "brightness" must be between 0 and 100/);

        const wrongOp = await bridge.api("PUT", "/api/v1/scenes/broken", {
          name: "Broken",
          actions: [{ device: LAMP, op: "stop" }],
        });
        assert.equal(wrongOp.body.error.code, "invalid_action");
        assert.match(wrongOp.body.error.message, /^actions\[0\]: a switch does not support "stop"/);
      });
      assert.equal((await bridge.api("GET", "/api/v1/scenes/broken")).status, 404, "nothing was saved");
      assert.deepEqual(events, []);
    });

    test("malformed scene requests get 400 in the API's error shape", async () => {
      const cases: Array<[string, unknown, string]> = [
        [
          "/api/v1/scenes/Movie%20Night",
          { name: "x", actions: [{ device: LIGHT, params: { on: true } }] },
          "invalid_scene",
        ],
        ["/api/v1/scenes/empty", { name: "Empty", actions: [] }, "invalid_request"],
        ["/api/v1/scenes/nameless", { actions: [{ device: LIGHT, params: { on: true } }] }, "invalid_request"],
        [
          "/api/v1/scenes/extra",
          { id: "other", name: "Extra", actions: [{ device: LIGHT, params: { on: true } }] },
          "invalid_request",
        ],
        ["/api/v1/scenes/bad-json", '{"name": "Bad", "actions": [', "invalid_json"],
      ];
      for (const [path, body, code] of cases) {
        const response = await bridge.api("PUT", path, body);
        assert.equal(response.status, 400, `${path}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, code, path);
        assert.equal(typeof response.body.error.message, "string");
      }
      const list = await bridge.api("GET", "/api/v1/scenes");
      assert.deepEqual(
        list.body.map((scene: { id: string }) => scene.id),
        ["garden", "movie-night"],
      );
    });

    test("an unknown scene is 404 unknown_scene for every route", async () => {
      for (const [method, path] of [
        ["GET", "/api/v1/scenes/nothing-here"],
        ["DELETE", "/api/v1/scenes/nothing-here"],
        ["POST", "/api/v1/scenes/nothing-here/activate"],
      ] as const) {
        const response = await bridge.api(method, path);
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(response.body.error.code, "unknown_scene");
      }
    });

    test("hearth scenes lists every scene and hearth scene activate runs one", async () => {
      const env = cliEnv();
      const created = await bridge.api("PUT", "/api/v1/scenes/all-off", {
        name: "All off",
        actions: [
          { device: LIGHT, params: { on: false } },
          { device: LAMP, params: { on: false } },
        ],
      });
      assert.equal(created.status, 201);

      const json = await runCli(["scenes", "--json"], env);
      assert.equal(json.status, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), (await bridge.api("GET", "/api/v1/scenes")).body);
      const table = await runCli(["scenes"], env);
      assert.equal(table.status, 0, table.stderr);
      assert.match(table.stdout, /^SCENE\s+NAME\s+SOURCE\s+ACTIONS/);
      assert.match(
        table.stdout,
        /all-off\s+All off\s+api\s+scn-living-1\.light on=false; scn-living-1\.switch on=false/,
      );
      assert.match(table.stdout, /movie-night\s+Movie night\s+config\s+/);

      const activated = await runCli(["scene", "activate", "all-off"], env);
      assert.equal(activated.status, 0, activated.stderr);
      assert.match(activated.stdout, /scn-living-1\.light\s+confirmed\s+on=false/);
      assert.equal(living.state("light").on, false);
      assert.equal(living.state("switch").on, false);

      const unknown = await runCli(["scene", "activate", "nothing-here"], env);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /no scene "nothing-here" \(unknown_scene\)/);
      assert.doesNotMatch(unknown.stderr, /at .*\.ts:\d+/, "no stack trace");

      const failed = await runCli(["scene", "activate", "garden"], env);
      assert.equal(failed.status, 1);
      assert.match(failed.stdout, /scn-garden-1\.light\s+error\s+.*unknown_device/);
      assert.match(failed.stderr, /scene_failed/);
      assert.equal((await bridge.api("DELETE", "/api/v1/scenes/all-off")).status, 204);
    });

    test("with one device offline the scene is partial; with all offline it is 502 scene_failed", async () => {
      const evening = await bridge.api("PUT", "/api/v1/scenes/evening", {
        name: "Evening",
        actions: [
          { device: LIGHT, params: { on: true, brightness: 50 } },
          { device: PORCH_LIGHT, params: { on: true } },
        ],
      });
      assert.equal(evening.status, 201, JSON.stringify(evening.body));
      const porchOnly = await bridge.api("PUT", "/api/v1/scenes/porch", {
        name: "Porch",
        actions: [{ device: PORCH_LIGHT, params: { on: true } }],
      });
      assert.equal(porchOnly.status, 201);
      await porch.close();
      await waitForNode(bridge, porch, false);

      const partial = await bridge.api("POST", "/api/v1/scenes/evening/activate");
      assert.equal(partial.status, 200, JSON.stringify(partial.body));
      assert.equal(partial.body.status, "partial");
      assert.deepEqual(partial.body.results[0].state, living.state("light"));
      assert.equal(living.state("light").brightness, 50, "the online device still changed");
      const failure = partial.body.results[1];
      assert.deepEqual([failure.device, failure.status, failure.code], [PORCH_LIGHT, "error", "offline"]);
      assert.match(failure.message, /offline/);

      const all = await bridge.api("POST", "/api/v1/scenes/porch/activate");
      assert.equal(all.status, 502, JSON.stringify(all.body));
      assert.equal(all.body.error.code, "scene_failed");
      assert.match(all.body.error.message, /porch/);
      assert.deepEqual(
        all.body.error.results.map((r: { device: string; status: string; code: string }) => [
          r.device,
          r.status,
          r.code,
        ]),
        [[PORCH_LIGHT, "error", "offline"]],
      );

      const cli = await runCli(["scene", "activate", "evening"], cliEnv());
      assert.equal(cli.status, 1, "a partial scene is a failure to a script");
      assert.match(cli.stdout, /scn-porch-1\.light\s+error\s+.*offline/);
      assert.match(cli.stderr, /1 of 2 actions of scene "evening" failed/);

      porch = await connectNode(bridge, porchCredentials, { devices: ["light"] });
      cleanup.add(porch, (s) => s.close());
      const back = await bridge.api("POST", "/api/v1/scenes/porch/activate");
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.status, "ok");
    });

    test("API scenes survive a restart", async () => {
      const before = (await bridge.api("GET", "/api/v1/scenes")).body;
      assert.ok(before.some((scene: { id: string }) => scene.id === "evening"));

      await bridge.restart();

      assert.deepEqual((await bridge.api("GET", "/api/v1/scenes")).body, before);
      await waitForNode(bridge, living, true, 5000);
      await waitForNode(bridge, porch, true, 5000);
      const activated = await bridge.api("POST", "/api/v1/scenes/evening/activate");
      assert.equal(activated.status, 200, JSON.stringify(activated.body));
      assert.equal(activated.body.status, "ok");
    });

    test("a config scene added with the id of an API scene hides it, with a warning at start", async () => {
      const porchOff = { id: "porch", name: "Porch off", actions: [{ device: PORCH_LIGHT, params: { on: false } }] };
      bridge.config.scenes.push(porchOff);
      const from = bridge.logs.lines.length;

      await bridge.restart();

      const warning = bridge.logs.lines
        .slice(from)
        .find((line) => line.level === WARN && line.scene === "porch" && String(line.msg).includes("hides"));
      assert.ok(warning, "the hidden API scene is named in a warning");
      const scene = await bridge.api("GET", "/api/v1/scenes/porch");
      assert.deepEqual(scene.body, { ...porchOff, source: "config" });
      const list = await bridge.api("GET", "/api/v1/scenes");
      assert.equal(list.body.filter((s: { id: string }) => s.id === "porch").length, 1, "listed once");
    });
  });
}
