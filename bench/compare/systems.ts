/**
 * The three systems of the comparison, each started as processes of its own against one mosquitto, linked the
 * way Google links them, and handed to the load generator as a `Target`:
 *
 *   hearth  `node <build>/dist/main.js start`: Hearth compiled as `npm run build` compiles it, in external-broker
 *           mode, with its simulated nodes in a process of their own (devices.ts).
 *   peer    Node-RED 4.1 with node-red-contrib-google-smarthome 0.6.0, installed from the npm registry into a
 *           cache outside the repository; one LIGHT (OnOff + Brightness) per light whose output goes to a core
 *           `mqtt out` node, and the responder (responder.ts) acknowledging each command.
 *   floor   floor-server.ts: a bare HTTP server that publishes each command and waits for its acknowledgement.
 *
 * Each server is started with the loop probe (loop-probe.mjs) and, for Hearth on request, with --cpu-prof.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { appendFile, copyFile, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import { dirname, join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { MqttConnection } from "../../src/devices/mqtt-connection.ts";
import type { RunningMosquitto } from "../../test/helpers/mosquitto.ts";
import { linkThroughPages } from "../../test/helpers/oauth-pages.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { runProcess } from "../../test/helpers/processes.ts";
import { httpRequest, jsonOf } from "../common.ts";
import { type AckWaiter, type Light, sync, type Target } from "./load.ts";
import { Child, idleRss, waitForHttp } from "./procs.ts";

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, "..", "..");
const PROBE = pathToFileURL(join(HERE, "loop-probe.mjs")).href;
const READY_TIMEOUT_MS = 60_000;
const ONLINE_TIMEOUT_MS = 60_000;
/** How long a restarted Hearth gets to see every device online from the broker's retained messages. */
export const RESTART_ONLINE_MS = 15_000;
/** Lights per simulated node: a realistic LED controller, and its config (about 390 bytes a light) inside 4 KB. */
export const LIGHTS_PER_NODE = 10;
/** The Google project id both systems are linked for. */
const PROJECT_ID = "bench-home";
const REDIRECT_URI = `https://oauth-redirect.googleusercontent.com/r/${PROJECT_ID}`;

export const PEER_PACKAGES = { "node-red": "~4.1.0", "node-red-contrib-google-smarthome": "0.6.0" };

/** MQTT accounts besides Hearth's bridge and nodes, each confined to its own topic tree by the ACL. */
export const ACCOUNTS = {
  floorServer: { username: "floor_srv", tree: "floor" },
  floorDevices: { username: "floor_dev", tree: "floor" },
  peer: { username: "nodered", tree: "nodered" },
  peerDevices: { username: "nodered_dev", tree: "nodered" },
  observer: { username: "bench_observer", tree: "nodered" },
} as const;
export type AccountName = keyof typeof ACCOUNTS;

export interface RunContext {
  /** Temp dir of this run: data dirs, Node-RED's user dir, logs. */
  dir: string;
  mosquitto: RunningMosquitto;
  passwords: Record<AccountName | "bridge", string>;
  /** Starts of each server for its start-to-ready time (the last one stays up). */
  starts: number;
}

/** What a system's start-up cost, in ms and MiB. */
export interface Startup {
  /** Spawn to the first 200 of its health check, for each start. */
  readyMs: number[];
  /** Spawn to the line the server prints once it listens (Hearth's banner), when there is one. */
  bannerMs: number[];
  /** Resident memory of the idle server with every device online. */
  idleRssMiB: number;
  /** Hearth: the same right after its first start, before any node had connected. */
  idleRssEmptyMiB?: number;
  /** Link through the OAuth pages and the token endpoint. */
  linkMs?: number;
  /** process.memoryUsage() of the idle server with every device online, in MiB: heap against native. */
  memory?: { rssMiB: number; heapTotalMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number };
}

async function memoryOf(child: Child): Promise<Startup["memory"]> {
  const usage = await child.memory();
  if (!usage) return undefined;
  return {
    rssMiB: mib(usage.rss),
    heapTotalMiB: mib(usage.heapTotal),
    heapUsedMiB: mib(usage.heapUsed),
    externalMiB: mib(usage.external),
    arrayBuffersMiB: mib(usage.arrayBuffers),
  };
}

export interface StartedSystem {
  target: Target;
  startup: Startup;
  /** Stops its processes (not mosquitto). */
  stop(): Promise<void>;
  /** Extra facts for the results file: versions, build, paths. */
  facts: Record<string, unknown>;
}

const MIB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;

/** Mosquitto's ACL for the floor and the peer: their servers, devices and the observer, each in its tree. */
export async function extendAcl(mosquitto: RunningMosquitto): Promise<void> {
  const lines = Object.values(ACCOUNTS).flatMap(({ username, tree }) => [
    `user ${username}`,
    `topic readwrite ${tree}/#`,
  ]);
  await appendFile(join(mosquitto.dir, "acl"), `\n${lines.join("\n")}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Hearth

/** The compiled Hearth: `dist/` as `npm run build` makes it, in a cache keyed by the sources. */
export interface HearthBuild {
  dir: string;
  main: string;
  key: string;
  reused: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : [path];
  });
}

/**
 * Compiles the working tree's src/ with tsconfig.build.json into `<cache>/hearth-<hash of the sources>/dist`,
 * not into the repository's dist/, which others may be using; reused while the sources are unchanged. The
 * package.json beside it is what version.ts reads, and node_modules links to the repository's.
 */
export async function buildHearth(cacheDir: string): Promise<HearthBuild> {
  const hash = createHash("sha256");
  const inputs = [
    ...sourceFiles(join(REPO, "src")).sort(),
    join(REPO, "package.json"),
    join(REPO, "tsconfig.json"),
    join(REPO, "tsconfig.build.json"),
  ];
  for (const file of inputs) hash.update(relative(REPO, file)).update("\0").update(readFileSync(file)).update("\0");
  const key = hash.digest("hex").slice(0, 16);
  const dir = join(cacheDir, `hearth-${key}`);
  const main = join(dir, "dist", "main.js");
  if (existsSync(main)) return { dir, main, key, reused: true };
  const building = `${dir}.${process.pid}.tmp`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  try {
    await run(process.execPath, [tsc, "-p", join(REPO, "tsconfig.build.json"), "--outDir", join(building, "dist")], {
      cwd: REPO,
      maxBuffer: 16 * MIB,
    });
  } catch (error) {
    // Type errors still emit JavaScript (noEmitOnError is off); a build without main.js is what fails.
    if (!existsSync(join(building, "dist", "main.js"))) throw error;
    const output = (error as { stdout?: string }).stdout ?? "";
    process.stderr.write(
      `warning: tsc reported errors in src/; measuring what it emitted:\n${output.slice(0, 2000)}\n`,
    );
  }
  await copyFile(join(REPO, "package.json"), join(building, "package.json"));
  await symlink(join(REPO, "node_modules"), join(building, "node_modules"), "dir");
  await rm(dir, { recursive: true, force: true });
  await rename(building, dir);
  await pruneBuilds(cacheDir, KEPT_BUILDS);
  return { dir, main, key, reused: false };
}

/** Builds kept in the cache: every change to src/ makes a new one. */
const KEPT_BUILDS = 3;

async function pruneBuilds(cacheDir: string, keep: number): Promise<void> {
  const builds = readdirSync(cacheDir)
    .filter((name) => /^hearth-[0-9a-f]{16}$/.test(name))
    .map((name) => ({ path: join(cacheDir, name), mtime: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(keep)) await rm(old.path, { recursive: true, force: true });
}

function hearthEnv(dataDir: string, httpPort: number, ctx: RunContext): NodeJS.ProcessEnv {
  // Only this run's settings: a HEARTH_* variable of the caller's shell must not change what is measured.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HEARTH_")));
  return {
    ...env,
    HEARTH_DATA_DIR: dataDir,
    HEARTH_HTTP_HOST: "127.0.0.1",
    HEARTH_HTTP_PORT: String(httpPort),
    HEARTH_MQTT_URL: ctx.mosquitto.url,
    HEARTH_MQTT_USERNAME: "hearth_bridge",
    HEARTH_MQTT_PASSWORD: ctx.passwords.bridge,
    // warn: a request logged at info would cost more than the request itself, on any system.
    HEARTH_LOG_LEVEL: "warn",
  };
}

async function cli(build: HearthBuild, env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<string> {
  const result = await runProcess(process.execPath, [build.main, ...args], { env, ...(input ? { input } : {}) });
  if (result.status !== 0) throw new Error(`hearth ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** Lights in an order that spreads consecutive ones over different nodes, as a room's lights would be. */
function interleaved(devices: Array<{ id: string; customData?: unknown }>): Light[] {
  const byNode = new Map<string, Array<{ id: string; customData?: unknown }>>();
  for (const device of devices) {
    const node = (device.customData as { nodeId?: string } | undefined)?.nodeId ?? device.id;
    byNode.set(node, [...(byNode.get(node) ?? []), device]);
  }
  const columns = [...byNode.values()];
  const out: Light[] = [];
  for (let row = 0; out.length < devices.length; row++) {
    for (const column of columns) {
      const device = column[row];
      if (device) out.push({ id: device.id, customData: device.customData, on: false, brightness: 80 });
    }
  }
  return out;
}

export async function startHearth(build: HearthBuild, devices: number, ctx: RunContext): Promise<StartedSystem> {
  const dataDir = join(ctx.dir, "hearth-data");
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const env = hearthEnv(dataDir, port, ctx);
  const base = new URL(`http://127.0.0.1:${port}`);
  const userPassword = randomBytes(18).toString("hex");

  // The accounts as an administrator makes them, with the CLI.
  await cli(build, env, ["user", "add", "bench", "--password-stdin"], `${userPassword}\n`);
  const client = JSON.parse(
    await cli(build, env, ["client", "add", "google", "--project-id", PROJECT_ID, "--json"]),
  ) as {
    client_id: string;
    client_secret: string;
  };
  const adminToken = (JSON.parse(await cli(build, env, ["admin", "token", "--json"])) as { token: string }).token;

  const logFile = join(ctx.dir, "hearth.log");
  const nodeArgs = ["--import", PROBE, build.main, "start"];
  const startup: Startup = { readyMs: [], bannerMs: [], idleRssMiB: 0 };
  let server: Child | undefined;
  let simulated: Child | undefined;
  const launch = async () => {
    const child = Child.spawn("hearth", process.execPath, nodeArgs, { env, ipc: true, logFile });
    server = child;
    // When the banner's line was handled here: an upper bound of when Hearth printed it.
    const banner = child.waitForLine(/is running\./, READY_TIMEOUT_MS).then(() => performance.now());
    banner.catch(() => undefined);
    startup.readyMs.push(Math.round((await waitForHttp(`${base}healthz`, READY_TIMEOUT_MS, child)) - child.spawnedAt));
    startup.bannerMs.push(Math.round((await banner) - child.spawnedAt));
    return child;
  };
  const stop = async () => {
    await simulated?.stop();
    await server?.stop();
  };

  try {
    let child = await launch();
    await sleep(1_000);
    startup.idleRssEmptyMiB = mib(await idleRss(child.pid));

    // Nodes registered through the admin API, as a provisioning script would; mosquitto learns each account.
    // A connection per request: Hearth is restarted below, and a kept-alive socket would then be a dead one.
    const agent = new http.Agent({ keepAlive: false });
    const nodes = Math.ceil(devices / LIGHTS_PER_NODE);
    const credentials: Array<{ node_id: string; password: string; lights: number }> = [];
    for (let i = 0; i < nodes; i++) {
      const nodeId = `house-${String(i + 1).padStart(3, "0")}`;
      const answer = await httpRequest(agent, base, {
        method: "POST",
        path: "/api/v1/nodes",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ node_id: nodeId }),
      });
      if (answer.status !== 201) throw new Error(`POST /api/v1/nodes answered ${answer.status}: ${answer.text}`);
      const { password } = JSON.parse(answer.text) as { password: string };
      credentials.push({ node_id: nodeId, password, lights: Math.min(LIGHTS_PER_NODE, devices - i * LIGHTS_PER_NODE) });
      await ctx.mosquitto.addUser({ username: nodeId, password });
    }
    const credentialsFile = join(ctx.dir, "hearth-nodes.json");
    await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
    const startDevices = async () => {
      simulated = Child.spawn(
        "hearth's simulated nodes",
        process.execPath,
        ["--import", "tsx", join(HERE, "devices.ts"), "--url", ctx.mosquitto.url, "--credentials", credentialsFile],
        { cwd: REPO, logFile: join(ctx.dir, "hearth-devices.log") },
      );
      await simulated.waitForLine(/^ready \d+/, ONLINE_TIMEOUT_MS);
    };
    /** Waits until every device is online; resolves with how many were, when time ran out first. */
    const online = async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = jsonOf<Array<{ online: boolean }>>(
          await httpRequest(agent, base, {
            method: "GET",
            path: "/api/v1/devices",
            headers: { authorization: `Bearer ${adminToken}` },
          }),
        );
        const count = list.filter((d) => d.online).length;
        if (count === devices || Date.now() > deadline) return count;
        await sleep(100);
      }
    };
    const allOnline = async () => {
      const count = await online(ONLINE_TIMEOUT_MS);
      if (count < devices) throw new Error(`${count} of ${devices} devices online in Hearth`);
    };
    await startDevices();
    await allOnline();

    // Restarts with the whole house in the database and its nodes on the broker: the start a user waits for.
    const afterRestart: number[] = [];
    for (let i = 1; i < ctx.starts; i++) {
      await child.stop();
      child = await launch();
      // Hearth learns who is online from the nodes' retained messages, and from the nodes announcing
      // themselves again when its `online` reaches them. Should some never arrive (a broker dropping what
      // exceeds its queue for a subscriber: docs/mosquitto.md, "Many nodes"), the nodes reconnect, as they
      // would after a power cut, and announce themselves again; the count says how many were online first.
      const count = await online(RESTART_ONLINE_MS);
      afterRestart.push(count);
      if (count < devices) {
        await simulated?.stop();
        await startDevices();
        await allOnline();
      }
    }
    agent.destroy();
    await sleep(3_000);
    startup.idleRssMiB = mib(await idleRss(child.pid));
    startup.memory = await memoryOf(child);

    const linkStarted = performance.now();
    const link = await linkThroughPages(
      base.origin,
      { id: client.client_id, secret: client.client_secret, redirectUri: REDIRECT_URI },
      "bench",
      userPassword,
    );
    startup.linkMs = Math.round(performance.now() - linkStarted);

    const target: Target = {
      system: "hearth",
      base,
      path: "/google/fulfillment",
      token: link.accessToken,
      devices,
      lights: [],
      brightnessTurnsOn: true,
      server: child,
      helpers: simulated ? [simulated] : [],
    };
    const syncAgent = new http.Agent({ keepAlive: false });
    const listed = await sync(syncAgent, target);
    syncAgent.destroy();
    if (listed.length !== devices) throw new Error(`Hearth's SYNC listed ${listed.length} of ${devices} devices`);
    target.lights = interleaved(listed);
    const facts = { build: build.dir, buildReused: build.reused, nodes, onlineAfterRestart: afterRestart, logFile };
    return { target, startup, stop, facts };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The peer: Node-RED with node-red-contrib-google-smarthome

export interface PeerInstall {
  dir: string;
  versions: Record<string, string>;
  reused: boolean;
}

/**
 * Installs the peer from the npm registry into `<cache>/peer` once and reuses it. The plugin's only release
 * here (0.6.0) wants @googleapis/homegraph ^10, which the registry does not serve; it only reaches Google for
 * Report State and Request Sync, which cannot work here anyway, so 7.0.0 is pinned with npm's `overrides`.
 */
export async function installPeer(cacheDir: string): Promise<PeerInstall> {
  const dir = join(cacheDir, "peer");
  const manifest = {
    name: "hearth-bench-peer",
    private: true,
    dependencies: PEER_PACKAGES,
    overrides: { "@googleapis/homegraph": "7.0.0" },
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const installed = join(dir, "node_modules", "node-red-contrib-google-smarthome", "package.json");
  const same = existsSync(join(dir, "package.json")) && readFileSync(join(dir, "package.json"), "utf8") === text;
  const reused = same && existsSync(installed);
  if (!reused) {
    process.stderr.write(`installing the peer (Node-RED 4.1, node-red-contrib-google-smarthome 0.6.0) into ${dir}\n`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), text);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    await run(npm, ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, maxBuffer: 16 * MIB });
  }
  const version = (name: string) =>
    (JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  return {
    dir,
    versions: {
      "node-red": version("node-red"),
      "node-red-contrib-google-smarthome": version("node-red-contrib-google-smarthome"),
      "@googleapis/homegraph": version("@googleapis/homegraph"),
    },
    reused,
  };
}

const lightId = (i: number) => `light-${String(i + 1).padStart(4, "0")}`;

/**
 * The flow: the plugin's client and one LIGHT per light, each wired to one `mqtt out` (QoS 1, as Hearth sends
 * commands). With `acksIn`, an `mqtt in` also takes the devices' acknowledgements back into the flow.
 */
function peerFlow(lights: number, httpPort: number, mqttPort: number, acksIn: boolean) {
  const tab = { id: "bench-tab", type: "tab", label: "bench" };
  const client = {
    id: "bench-gsh",
    type: "googlesmarthome-client",
    name: "bench",
    enabledebug: false,
    port: String(httpPort),
    httppath: "",
    usehttpnoderoot: false,
    // Plain HTTP, as behind the TLS proxy any such setup has.
    ssloffload: true,
    // No local fulfillment: no UDP discovery, no mDNS.
    local_scan_type: "",
    local_scan_port: "",
    localport: "",
    default_lang: "en",
  };
  const broker = {
    id: "bench-broker",
    type: "mqtt-broker",
    name: "mosquitto",
    broker: "127.0.0.1",
    port: String(mqttPort),
    clientid: ACCOUNTS.peer.username,
    autoConnect: true,
    usetls: false,
    protocolVersion: "4",
    keepalive: "60",
    cleansession: true,
    autoUnsubscribe: true,
    birthTopic: "",
    closeTopic: "",
    willTopic: "",
  };
  const out = {
    id: "bench-mqtt-out",
    type: "mqtt out",
    z: tab.id,
    broker: broker.id,
    topic: "",
    qos: "1",
    retain: "false",
    wires: [],
  };
  // QoS 1 like the rest. Node-RED's MQTT client leaves Nagle's algorithm on, so the PUBACK it owes for each
  // acknowledgement can hold its next command back until mosquitto's delayed ACK (about 40 ms).
  const acks = {
    id: "bench-mqtt-in",
    type: "mqtt in",
    z: tab.id,
    broker: broker.id,
    topic: "nodered/ack/+",
    qos: "1",
    datatype: "json",
    wires: [[]],
  };
  const devices = Array.from({ length: lights }, (_, i) => ({
    id: lightId(i),
    type: "google-device",
    z: tab.id,
    client: client.id,
    name: `Light ${i + 1}`,
    nicknames: "",
    topic: `nodered/cmd/${lightId(i)}`,
    online: true,
    room_hint: "",
    device_type: "LIGHT",
    trait_onoff: true,
    trait_brightness: true,
    passthru: false,
    persistent_state: false,
    topic_filter: false,
    wires: [[out.id]],
  }));
  return [tab, client, broker, out, ...(acksIn ? [acks] : []), ...devices];
}

export async function startPeer(
  install: PeerInstall,
  lights: number,
  ctx: RunContext,
  responder: Child,
  acksIn: boolean,
): Promise<StartedSystem> {
  const userDir = join(ctx.dir, "node-red");
  await mkdir(userDir, { recursive: true });
  const [uiPort, httpPort] = [await freePort(), await freePort()];
  const credentials = {
    user: "bench",
    password: randomBytes(18).toString("hex"),
    clientId: `bench-${randomBytes(6).toString("hex")}`,
    clientSecret: randomBytes(18).toString("hex"),
  };
  const settings = {
    uiHost: "127.0.0.1",
    uiPort,
    flowFile: "flows.json",
    // Credentials as plain JSON in flows_cred.json: nothing to decrypt, nothing to ask for.
    credentialSecret: false,
    disableEditor: true,
    // Silent like Hearth at warn: the plugin logs an error for every EXECUTE it cannot report to Google.
    logging: { console: { level: "fatal", metrics: false, audit: false } },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
  };
  await writeFile(join(userDir, "settings.js"), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  await writeFile(join(userDir, "flows.json"), JSON.stringify(peerFlow(lights, httpPort, ctx.mosquitto.port, acksIn)));
  // No private key: the plugin only reads the project id (for the redirect URI) and skips Report State.
  await writeFile(join(userDir, "jwt-key.json"), JSON.stringify({ type: "service_account", project_id: PROJECT_ID }));
  await writeFile(
    join(userDir, "flows_cred.json"),
    JSON.stringify({
      "bench-gsh": {
        username: credentials.user,
        password: credentials.password,
        jwtkey: join(userDir, "jwt-key.json"),
        clientid: credentials.clientId,
        clientsecret: credentials.clientSecret,
      },
      "bench-broker": { user: ACCOUNTS.peer.username, password: ctx.passwords.peer },
    }),
  );

  const red = join(install.dir, "node_modules", "node-red", "red.js");
  const logFile = join(ctx.dir, "node-red.log");
  const startup: Startup = { readyMs: [], bannerMs: [], idleRssMiB: 0 };
  const base = new URL(`http://127.0.0.1:${httpPort}`);
  let server: Child | undefined;
  let observer: MqttConnection | undefined;
  const stop = async () => {
    await observer?.close();
    await server?.stop();
  };
  const launch = async () => {
    const child = Child.spawn(
      "node-red",
      process.execPath,
      ["--import", PROBE, red, "--userDir", userDir, "--settings", join(userDir, "settings.js")],
      { cwd: userDir, ipc: true, logFile },
    );
    server = child;
    startup.readyMs.push(Math.round((await waitForHttp(`${base}check`, READY_TIMEOUT_MS, child)) - child.spawnedAt));
    return child;
  };
  try {
    const child = await startTimes(ctx.starts, launch);

    const linkStarted = performance.now();
    const accessToken = await linkPeer(base, credentials);
    startup.linkMs = Math.round(performance.now() - linkStarted);

    observer = await MqttConnection.connect({
      url: ctx.mosquitto.url,
      clientId: ACCOUNTS.observer.username,
      username: ACCOUNTS.observer.username,
      password: ctx.passwords.observer,
      reconnect: false,
    });
    const acks = new AckObserver(observer, "nodered/ack/");
    await observer.subscribe(["nodered/ack/+"], 1);

    const target: Target = {
      system: "peer",
      base,
      path: "/smarthome",
      token: accessToken,
      devices: lights,
      lights: [],
      brightnessTurnsOn: false,
      acks,
      server: child,
      helpers: [responder],
    };
    const syncAgent = new http.Agent({ keepAlive: false });
    const listed = await sync(syncAgent, target);
    syncAgent.destroy();
    if (listed.length !== lights) throw new Error(`the peer's SYNC listed ${listed.length} of ${lights} devices`);
    target.lights = interleaved(listed.map(({ id }) => ({ id })));
    await sleep(3_000);
    startup.idleRssMiB = mib(await idleRss(child.pid));
    startup.memory = await memoryOf(child);
    return { target, startup, stop, facts: { install: install.dir, versions: install.versions, acksIn, logFile } };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The peer's login page, its form (302 back to Google with a code) and its token endpoint. */
async function linkPeer(
  base: URL,
  credentials: { user: string; password: string; clientId: string; clientSecret: string },
): Promise<string> {
  const query = new URLSearchParams({
    client_id: credentials.clientId,
    redirect_uri: REDIRECT_URI,
    state: "bench-state",
    response_type: "code",
  });
  const page = await fetch(`${base}oauth?${query}`);
  if (page.status !== 200) throw new Error(`the peer's login page answered ${page.status}: ${await page.text()}`);
  await page.text();
  const login = await fetch(`${base}oauth`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: credentials.clientId,
      redirect_uri: REDIRECT_URI,
      state: "bench-state",
      username: credentials.user,
      password: credentials.password,
    }).toString(),
  });
  const location = login.headers.get("location") ?? "";
  const code = location.startsWith(REDIRECT_URI) ? new URL(location).searchParams.get("code") : null;
  if (login.status !== 302 || !code) throw new Error(`the peer's login answered ${login.status} to ${location}`);
  const token = await fetch(`${base}token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }).toString(),
  });
  const issued = (await token.json().catch(() => ({}))) as { access_token?: string };
  if (token.status !== 200 || !issued.access_token)
    throw new Error(`the peer's token endpoint answered ${token.status}`);
  return issued.access_token;
}

/** Completes a peer request once its light's acknowledgement with the commanded value has arrived. */
class AckObserver implements AckWaiter {
  private readonly waiting = new Map<string, { matches: (p: Record<string, unknown>) => boolean; done: () => void }>();

  constructor(
    connection: MqttConnection,
    private readonly prefix: string,
  ) {
    connection.onMessage((message) => {
      if (!message.topic.startsWith(this.prefix)) return;
      const waiter = this.waiting.get(message.topic.slice(this.prefix.length));
      if (!waiter) return;
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(message.payload.toString("utf8")) as Record<string, unknown>;
      } catch {
        return;
      }
      if (waiter.matches(payload)) waiter.done();
    });
  }

  expect(lightId: string, matches: (payload: Record<string, unknown>) => boolean): Promise<void> {
    if (this.waiting.has(lightId)) return Promise.reject(new Error(`two commands in flight for ${lightId}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(lightId);
        reject(new Error(`no acknowledgement from ${lightId}`));
      }, 10_000);
      this.waiting.set(lightId, {
        matches,
        done: () => {
          clearTimeout(timer);
          this.waiting.delete(lightId);
          resolve();
        },
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The floor, and the devices of the floor and the peer

/** The responder acknowledging the floor's and the peer's commands, in one process. */
export async function startResponder(ctx: RunContext): Promise<Child> {
  const account = (name: AccountName) => `${ACCOUNTS[name].username}:${ctx.passwords[name]}:${ACCOUNTS[name].tree}`;
  const child = Child.spawn(
    "responder",
    process.execPath,
    [
      "--import",
      "tsx",
      join(HERE, "responder.ts"),
      "--url",
      ctx.mosquitto.url,
      "--account",
      account("floorDevices"),
      "--account",
      account("peerDevices"),
    ],
    { cwd: REPO, logFile: join(ctx.dir, "responder.log") },
  );
  await child.waitForLine(/^ready/, READY_TIMEOUT_MS);
  return child;
}

export async function startFloor(lights: number, ctx: RunContext, responder: Child): Promise<StartedSystem> {
  const token = randomBytes(18).toString("hex");
  const port = await freePort();
  const base = new URL(`http://127.0.0.1:${port}`);
  const startup: Startup = { readyMs: [], bannerMs: [], idleRssMiB: 0 };
  let server: Child | undefined;
  const launch = async () => {
    const child = Child.spawn(
      "floor",
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        PROBE,
        join(HERE, "floor-server.ts"),
        "--mqtt",
        ctx.mosquitto.url,
        "--user",
        ACCOUNTS.floorServer.username,
        "--password",
        ctx.passwords.floorServer,
        "--lights",
        String(lights),
        "--token",
        token,
        "--port",
        String(port),
      ],
      { cwd: REPO, ipc: true, logFile: join(ctx.dir, "floor.log") },
    );
    server = child;
    startup.readyMs.push(Math.round((await waitForHttp(`${base}healthz`, READY_TIMEOUT_MS, child)) - child.spawnedAt));
    return child;
  };
  try {
    const child = await startTimes(ctx.starts, launch);
    await sleep(3_000);
    startup.idleRssMiB = mib(await idleRss(child.pid));
    startup.memory = await memoryOf(child);
    const target: Target = {
      system: "floor",
      base,
      path: "/fulfillment",
      token,
      devices: lights,
      lights: Array.from({ length: lights }, (_, i) => ({ id: lightId(i), on: false, brightness: 80 })),
      brightnessTurnsOn: false,
      server: child,
      helpers: [responder],
    };
    return { target, startup, stop: async () => server?.stop(), facts: { loader: "tsx" } };
  } catch (error) {
    await server?.stop();
    throw error;
  }
}

/** Starts a server `starts` times in a row, each start timed by `launch`; returns the last one, running. */
async function startTimes(starts: number, launch: () => Promise<Child>): Promise<Child> {
  let child = await launch();
  for (let i = 1; i < starts; i++) {
    await child.stop();
    child = await launch();
  }
  return child;
}
