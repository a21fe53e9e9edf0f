/**
 * The `hearth` command as a user runs it: real processes, a temp data dir, the daemon started with
 * `hearth start`, a node run by `hearth sim`, and the commands of the quick start in the README.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mqtt from "mqtt";
import { BRIDGE_USERNAME } from "../../src/daemon.ts";
import { generateSecret } from "../../src/security/secrets.ts";
import { eventually } from "../helpers/bridge.ts";
import { type RunningMosquitto, startMosquitto } from "../helpers/mosquitto.ts";
import { freePort } from "../helpers/ports.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    input,
    timeout: 20_000,
  });
}

function spawnHearth(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function cleanEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HEARTH_DATA_DIR: dataDir };
  for (const key of Object.keys(process.env)) if (key.startsWith("HEARTH_")) env[key] = undefined;
  return { ...env, HEARTH_DATA_DIR: dataDir };
}

describe("hearth CLI with the embedded broker", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let daemon: Running;
  let httpUrl: string;
  let mqttUrl: string;
  const children: Running[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hearth-cli-"));
    env = { ...cleanEnv(dataDir), HEARTH_HTTP_PORT: "0", HEARTH_MQTT_PORT: "0", HEARTH_LOG_LEVEL: "warn" };
    daemon = spawnHearth(["start"], env);
    children.push(daemon);
    const banner = await eventually(
      () => /HTTP\s+(http:\S+)[\s\S]*MQTT\s+(mqtt:\S+)/.exec(daemon.stderr()),
      15_000,
      "the start banner",
    );
    httpUrl = banner[1] as string;
    mqttUrl = banner[2] as string;
    env.HEARTH_URL = httpUrl;
  });

  after(async () => {
    for (const c of children.reverse()) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill("SIGTERM");
        await c.exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the start banner says where Hearth listens and what to do next", () => {
    assert.match(daemon.stderr(), /Hearth \S+ is running/);
    assert.match(daemon.stderr(), /hearth node add/);
    assert.match(mqttUrl, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  });

  test("node add, sim, devices and send work end to end", async () => {
    const added = run(["node", "add", "kitchen-1", "--json"], env);
    assert.equal(added.status, 0, added.stderr);
    const credentials = JSON.parse(added.stdout) as {
      node_id: string;
      username: string;
      password: string;
      mqtt_url: string;
    };
    assert.equal(credentials.node_id, "kitchen-1");
    assert.equal(credentials.username, "kitchen-1");
    assert.ok(credentials.password.length >= 24);

    const again = run(["node", "add", "kitchen-1"], env);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists; use --rotate/);

    const sim = spawnHearth(
      ["sim", "--node", "kitchen-1", "--password-stdin", "--url", mqttUrl, "--devices", "light,sensor"],
      env,
    );
    children.push(sim);
    // --password-stdin: the password never appears in the process list.
    sim.child.stdin?.end(credentials.password);
    const listed = await eventually(
      () => {
        const r = run(["devices", "--json"], env);
        const devices = JSON.parse(r.stdout) as Array<{ id: string; online: boolean; state: Record<string, unknown> }>;
        return devices.length === 2 && devices.every((d) => d.online) ? devices : undefined;
      },
      10_000,
      "the simulated node's devices",
    );
    assert.deepEqual(
      listed.map((d) => d.id),
      ["kitchen-1.light", "kitchen-1.sensor"],
    );
    assert.equal(typeof listed[1]?.state.temperature_c, "number");

    const table = run(["devices"], env);
    assert.match(table.stdout, /kitchen-1\.light\s+light\s+.*yes/);

    const sent = run(["send", "kitchen-1.light", "on=true", "brightness=40"], env);
    assert.equal(sent.status, 0, sent.stderr);
    assert.match(sent.stdout, /^confirmed in \d+ ms: kitchen-1\.light on=true brightness=40 /, "declaration order");

    const refused = run(["send", "kitchen-1.light", "brightness=400"], env);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /between 0 and 100.*out_of_range/);

    const nodes = run(["node", "list"], env);
    assert.match(nodes.stdout, /kitchen-1\s+yes/);
  });

  test("bad arguments get one clear message and a non-zero exit", () => {
    const badId = run(["node", "add", "Kitchen_1"], env);
    assert.equal(badId.status, 1);
    assert.match(badId.stderr, /not a valid node id/);
    const badPair = run(["send", "kitchen-1.light", "on"], env);
    assert.match(badPair.stderr, /is not key=value/);
    const unknownCommand = run(["fly"], env);
    assert.notEqual(unknownCommand.status, 0);
    assert.doesNotMatch(unknownCommand.stderr, /at .*\.ts:\d+/, "no stack trace");
  });
});

describe("hearth CLI without a daemon", () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "hearth-cli-"));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test("an invalid configuration lists every problem and exits with 2", () => {
    const result = run(["start"], {
      ...cleanEnv(dataDir),
      HEARTH_HTTP_PORT: "eighty",
      HEARTH_MQTT_PORT: "70000",
      HEARTH_LOG_LEVEL: "loud",
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /HEARTH_HTTP_PORT: expected a number/);
    assert.match(result.stderr, /mqtt\.port/);
    assert.match(result.stderr, /logLevel/);
  });

  test("send says plainly that Hearth is not running", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = run(["send", "x-1.light", "on=true"], { ...cleanEnv(dataDir), HEARTH_URL: url });
    assert.equal(result.status, 1);
    assert.ok(result.stderr.includes(`Hearth is not running at ${url}`), result.stderr);
  });

  test("help lists the commands", () => {
    const result = run(["--help"], cleanEnv(dataDir));
    assert.equal(result.status, 0);
    for (const command of ["start", "node", "devices", "send", "sim", "admin"])
      assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
  });

  test("admin token prints a token once and stores only its hash", () => {
    const result = run(["admin", "token", "--json"], cleanEnv(dataDir));
    assert.equal(result.status, 0, result.stderr);
    const { token } = JSON.parse(result.stdout) as { token: string };
    assert.match(token, /^hth_/);
    const db = spawnSync("grep", ["-rc", token, dataDir], { encoding: "utf8" });
    assert.match(db.stdout.trim() || "0", /^(.*:0\n?)*$|^0$/, "the plain token is nowhere in the data dir");
  });
});

describe("hearth start with an external mosquitto", () => {
  let mosquitto: RunningMosquitto;
  let dataDir: string;
  const bridgePassword = generateSecret();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hearth-cli-"));
    mosquitto = await startMosquitto({
      users: [
        { username: BRIDGE_USERNAME, password: bridgePassword },
        { username: "watcher-1", password: "watch" },
      ],
    });
  });
  after(async () => {
    await mosquitto.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("SIGTERM stops cleanly and leaves the bridge status offline", async () => {
    const env = {
      ...cleanEnv(dataDir),
      HEARTH_HTTP_PORT: "0",
      HEARTH_MQTT_URL: mosquitto.url,
      HEARTH_MQTT_USERNAME: BRIDGE_USERNAME,
      HEARTH_MQTT_PASSWORD: bridgePassword,
      HEARTH_LOG_LEVEL: "info",
    };
    const daemon = spawnHearth(["start"], env);
    await eventually(() => /is running/.test(daemon.stderr()), 15_000, "the daemon to start");
    const watcher = await mqtt.connectAsync(mosquitto.url, {
      username: "watcher-1",
      password: "watch",
      clientId: "watcher-1",
      protocolVersion: 4,
    });
    const seen: string[] = [];
    watcher.on("message", (_topic, payload) => seen.push(payload.toString()));
    await watcher.subscribeAsync("hearth/v1/bridge/status", { qos: 1 });
    await eventually(() => seen.includes("online"), 5000, "the retained online status");
    daemon.child.kill("SIGTERM");
    assert.equal(await daemon.exited, 0);
    await eventually(() => seen.at(-1) === "offline", 5000, "the offline status");
    assert.doesNotMatch(daemon.stdout(), new RegExp(bridgePassword), "the broker password is never logged");
    await watcher.endAsync();
  });

  test("node add prints the line for mosquitto's password_file, and that line works", async () => {
    const env = {
      ...cleanEnv(dataDir),
      HEARTH_MQTT_URL: mosquitto.url,
      HEARTH_MQTT_USERNAME: BRIDGE_USERNAME,
      HEARTH_MQTT_PASSWORD: bridgePassword,
    };
    const result = run(["node", "add", "porch-1", "--json"], env);
    assert.equal(result.status, 0, result.stderr);
    const credentials = JSON.parse(result.stdout) as {
      password: string;
      mosquitto_password_line: string;
      mqtt_url: string;
    };
    assert.match(credentials.mosquitto_password_line, /^porch-1:\$7\$101\$/);
    assert.equal(credentials.mqtt_url, mosquitto.url);
    await mosquitto.addUser({ username: "porch-1", password: credentials.password });
    const node = await mqtt.connectAsync(mosquitto.url, {
      username: "porch-1",
      password: credentials.password,
      clientId: "porch-1",
      protocolVersion: 4,
    });
    assert.equal(node.connected, true);
    await node.endAsync();
  });
});
