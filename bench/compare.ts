/**
 * Hearth's Google fulfillment next to a self-hosted peer and next to a floor, in one run, on loopback only:
 *
 *   hearth  Hearth as `npm run build` compiles it, started as `hearth start` with an external mosquitto and a
 *           house of simulated nodes (1,000 lights by default) in a process of their own;
 *   peer    Node-RED 4.1 with node-red-contrib-google-smarthome 0.6.0, one LIGHT per light, every command
 *           published to the same mosquitto by a core `mqtt out` node and acknowledged by a device process;
 *   floor   a bare node:http server that publishes each command and answers once its device acknowledged:
 *           the least any bridge can do on this path.
 *
 * All three are linked as Google links them (Hearth and the peer through their own OAuth pages), then get the
 * same SYNC, QUERY and EXECUTE requests at each concurrency level, taking turns in blocks so that a neighbour's
 * CPU burst on a shared machine hits all of them alike. Start-to-ready time and resident memory are read from
 * outside each process; event-loop delay from inside, through a probe each server is started with.
 *
 * As root with `unshare` available, the run re-executes itself in a new network namespace that has only `lo`,
 * so nothing any system tries can leave the machine. See docs/performance.md; `npm run bench:compare -- --help`.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { homedir, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs, promisify } from "node:util";
import { type RunningMosquitto, startMosquitto } from "../test/helpers/mosquitto.ts";
import { integer, list, machine, mosquittoVersionOf, RESULTS_DIR, runMain, subset, UsageError } from "./common.ts";
import {
  type BlockOutcome,
  GROUP,
  KIND_LABELS,
  KINDS,
  type Kind,
  type PhaseResult,
  runBlock,
  summarise,
  type Target,
  workersFor,
} from "./compare/load.ts";
import { type Child, loadAverage } from "./compare/procs.ts";
import {
  chart,
  type ProfileSummary,
  profileTables,
  ratios,
  ratioTable,
  resultsTable,
  type SystemName,
  startupTable,
  summariseProfile,
  targets,
  targetTable,
} from "./compare/report.ts";
import {
  ACCOUNTS,
  type AccountName,
  buildHearth,
  extendAcl,
  installPeer,
  REPO,
  RESTART_ONLINE_MS,
  type RunContext,
  type StartedSystem,
  startFloor,
  startHearth,
  startPeer,
  startResponder,
} from "./compare/systems.ts";

const run = promisify(execFile);
/** Set in the re-executed run inside the network namespace. */
const INSIDE = "BENCH_COMPARE_NETNS";

const DEFAULT_REQUESTS: Record<Kind, number> = { sync: 100, query: 2000, onoff: 2000, brightness: 2000, onoff10: 400 };
const DEFAULT_WARMUP: Record<Kind, number> = { sync: 20, query: 300, onoff: 300, brightness: 300, onoff10: 60 };
const LIMITS = { devices: 5000, concurrency: 256, requests: 100_000, rounds: 100 };

const HELP = `Usage: npm run bench:compare -- [options]

Measures Hearth's Google fulfillment against Node-RED with node-red-contrib-google-smarthome (the peer) and a
bare HTTP-to-MQTT server (the floor), in one run, on loopback only. Prints one table and writes
bench/results/compare-<timestamp>.json. Needs Debian's mosquitto; installs the peer from the npm registry into
the cache on first use.

Options (each also readable from the environment variable shown):
  --devices N          lights in each system, all listed by SYNC (BENCH_DEVICES, default 1000, max ${LIMITS.devices});
                       Hearth gets them as simulated nodes of 10 lights
  --concurrency LIST   requests in flight, comma separated (BENCH_CONCURRENCY, default 1,8,32)
  --requests SPEC      measured requests per system, request kind and concurrency level: one number for every
                       kind, or kind=N pairs (BENCH_REQUESTS, default ${spec(DEFAULT_REQUESTS)})
  --warmup SPEC        unmeasured requests before each measured phase, same form
                       (BENCH_WARMUP, default ${spec(DEFAULT_WARMUP)})
  --rounds N           measured blocks per system and phase, taking turns between the systems
                       (BENCH_ROUNDS, default 3)
  --kinds LIST         subset of ${KINDS.join(",")} (BENCH_KINDS, default all):
                       SYNC; QUERY of one light; EXECUTE of OnOff and of BrightnessAbsolute on one light;
                       EXECUTE of OnOff on ${GROUP} lights in one request
  --starts N           starts of each server for its start-to-ready time (default 3, min 1)
  --skip-peer          leave the peer out (no install, no Node-RED)
  --skip-floor         leave the floor out
  --peer-acks-in       also feed the devices' acknowledgements back into Node-RED (an \`mqtt in\` node, QoS 1)
  --profile            take a V8 CPU profile of Hearth for each request kind (its measured requests only)
                       and print the top functions by self time, by package and, for Hearth's own, by total
  --chart              also write an SVG chart of req/s next to the JSON
  --json-only          print the results JSON on stdout instead of the tables
  --no-netns           stay in this network namespace (the default, as root, is a new one with only lo)
  --cache-dir DIR      where the peer's install and Hearth's builds are kept
                       (BENCH_CACHE_DIR, default \${XDG_CACHE_HOME:-~/.cache}/hearth-bench)
  --phase-timeout S    a block taking longer fails the run (default 300)
  -h, --help           this text

Exit code 0: every request succeeded; 1: something failed to start or a request failed; 2: bad options.`;

function spec(values: Record<Kind, number>): string {
  return KINDS.map((k) => `${k}=${values[k]}`).join(",");
}

interface Options {
  devices: number;
  levels: number[];
  requests: Record<Kind, number>;
  warmup: Record<Kind, number>;
  rounds: number;
  kinds: Kind[];
  starts: number;
  skipPeer: boolean;
  skipFloor: boolean;
  peerAcksIn: boolean;
  profile: boolean;
  chart: boolean;
  jsonOnly: boolean;
  netns: boolean;
  cacheDir: string;
  phaseTimeoutMs: number;
}

function perKind(
  name: string,
  text: string | undefined,
  defaults: Record<Kind, number>,
  min: number,
): Record<Kind, number> {
  const out = { ...defaults };
  if (text === undefined) return out;
  if (/^\d+$/.test(text.trim())) {
    for (const kind of KINDS) out[kind] = integer(name, text.trim(), min, LIMITS.requests);
    return out;
  }
  for (const part of text.split(",")) {
    const [kind, value] = part.split("=").map((s) => s.trim());
    if (!KINDS.includes(kind as Kind) || value === undefined) {
      throw new UsageError(`${name} takes a number or kind=N pairs with kinds ${KINDS.join(", ")}, not "${part}"`);
    }
    out[kind as Kind] = integer(`${name} ${kind}`, value, min, LIMITS.requests);
  }
  return out;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: "string" },
      concurrency: { type: "string" },
      requests: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      kinds: { type: "string" },
      starts: { type: "string" },
      "skip-peer": { type: "boolean" },
      "skip-floor": { type: "boolean" },
      "peer-acks-in": { type: "boolean" },
      profile: { type: "boolean" },
      chart: { type: "boolean" },
      "json-only": { type: "boolean" },
      "no-netns": { type: "boolean" },
      "cache-dir": { type: "string" },
      "phase-timeout": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const devices = integer("--devices", values.devices ?? env.BENCH_DEVICES ?? "1000", 1, LIMITS.devices);
  const levels = list("--concurrency", values.concurrency ?? env.BENCH_CONCURRENCY ?? "1,8,32", 1, LIMITS.concurrency);
  const kinds = subset("kind", values.kinds ?? env.BENCH_KINDS ?? KINDS.join(","), KINDS);
  const requests = perKind("--requests", values.requests ?? env.BENCH_REQUESTS, DEFAULT_REQUESTS, 1);
  const warmup = perKind("--warmup", values.warmup ?? env.BENCH_WARMUP, DEFAULT_WARMUP, 0);
  const rounds = integer("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3", 1, LIMITS.rounds);
  for (const kind of kinds) {
    if (requests[kind] < rounds) throw new UsageError(`--requests ${kind} must be at least --rounds (${rounds})`);
  }
  // Each worker owns its lights; one command must not wait for another on the same light.
  const most = Math.max(...levels);
  const needed = kinds.includes("onoff10") ? most * GROUP : most;
  if (devices < needed) {
    throw new UsageError(
      `--devices ${devices} is too few for c=${most}: each of the ${most} workers needs its own ${needed / most} light(s)`,
    );
  }
  const cacheDir =
    values["cache-dir"] ?? env.BENCH_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "hearth-bench");
  return {
    devices,
    levels,
    requests,
    warmup,
    rounds,
    kinds,
    starts: integer("--starts", values.starts ?? "3", 1, 20),
    skipPeer: values["skip-peer"] ?? false,
    skipFloor: values["skip-floor"] ?? false,
    peerAcksIn: values["peer-acks-in"] ?? false,
    profile: values.profile ?? false,
    chart: values.chart ?? false,
    jsonOnly: values["json-only"] ?? false,
    netns: !(values["no-netns"] ?? false),
    cacheDir,
    phaseTimeoutMs: integer("--phase-timeout", values["phase-timeout"] ?? "300", 5, 3600) * 1000,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The network namespace

/** Whether a new network namespace can be made here (root, or the capability, and `unshare`). */
function canUnshare(): boolean {
  return spawnSync("unshare", ["--net", "true"], { stdio: "ignore" }).status === 0;
}

/** Runs this very command again inside a new network namespace; resolves with its exit code. */
function reexecInNamespace(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("unshare", ["--net", "--", process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, [INSIDE]: "1" },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

// ---------------------------------------------------------------------------------------------------------------

const say = (text: string) => process.stderr.write(`${text}\n`);

/** The commit measured, and how many files under src/ differ from it (the build is of the working tree). */
async function sourceState(): Promise<{ commit: string | null; uncommittedInSrc: number | null }> {
  try {
    const commit = (await run("git", ["-C", REPO, "rev-parse", "--short", "HEAD"])).stdout.trim();
    const changed = (await run("git", ["-C", REPO, "status", "--porcelain", "--", "src"])).stdout;
    return { commit, uncommittedInSrc: changed.split("\n").filter(Boolean).length };
  } catch {
    return { commit: null, uncommittedInSrc: null };
  }
}

async function uptimeLine(): Promise<string> {
  try {
    return (await run("uptime")).stdout.trim();
  } catch {
    const load = loadAverage();
    return load ? `load average: ${load.join(", ")}` : "unknown";
  }
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }

  const inside = process.env[INSIDE] === "1";
  let network: string;
  if (inside) {
    // A new namespace starts with lo down.
    await run("ip", ["link", "set", "lo", "up"]);
    network = "a network namespace of its own with only lo (unshare --net): nothing could leave the machine";
  } else {
    // What needs the network (the npm registry) happens before the namespace; the build is cached alike.
    await mkdir(options.cacheDir, { recursive: true });
    say(`building Hearth (src/ → ${options.cacheDir}) …`);
    const build = await buildHearth(options.cacheDir);
    say(`  ${build.reused ? "reused" : "built"} ${build.dir}`);
    if (!options.skipPeer) await installPeer(options.cacheDir);
    if (options.netns && canUnshare()) return reexecInNamespace();
    network = options.netns
      ? "loopback (127.0.0.1) in the host's network namespace: a new one could not be made (needs root and unshare)"
      : "loopback (127.0.0.1) in the host's network namespace (--no-netns)";
    say(`note: ${network}; the peer may try to reach Google for Report State`);
  }
  return measureAll(options, network);
}

/**
 * One kind of request at one concurrency level: every system warms up, then their measured blocks take turns
 * (Hearth, peer, floor, Hearth…), so that whatever else the machine runs meanwhile hits all of them alike.
 */
async function measurePhase(
  systems: readonly Target[],
  kind: Kind,
  c: number,
  options: Options,
): Promise<PhaseResult[]> {
  // Each system its own keep-alive agent with c sockets, as Google would hold connections to each.
  const contenders = systems.map((target) => ({
    target,
    agent: new http.Agent({ keepAlive: true, maxSockets: c }),
    workers: workersFor(target, c),
    blocks: [] as BlockOutcome[],
  }));
  try {
    for (const { target, agent, workers } of contenders) {
      if (options.warmup[kind] === 0) continue;
      const warm = await runBlock(agent, target, kind, workers, options.warmup[kind], options.phaseTimeoutMs);
      if (warm.errors > 0) {
        throw new Error(
          `${target.system} ${kind} c=${c}: ${warm.errors} warm-up requests failed, first: ${warm.errorSamples[0]}`,
        );
      }
    }
    const total = options.requests[kind];
    for (let turn = 0; turn < options.rounds; turn++) {
      const size = Math.floor(((turn + 1) * total) / options.rounds) - Math.floor((turn * total) / options.rounds);
      for (const contender of contenders) {
        const { target, agent, workers } = contender;
        contender.blocks.push(await runBlock(agent, target, kind, workers, size, options.phaseTimeoutMs));
      }
    }
    return contenders.map(({ target, blocks }) => summarise(target.system, kind, c, blocks));
  } finally {
    for (const { agent } of contenders) agent.destroy();
  }
}

async function measureAll(options: Options, network: string): Promise<number> {
  const build = await buildHearth(options.cacheDir);
  const peerInstall = options.skipPeer ? undefined : await installPeer(options.cacheDir);
  const runDir = mkdtempSync(join(tmpdir(), "hearth-compare-"));
  // Profiles are kept beside the results (git-ignored), to be opened in Chrome's DevTools.
  const profilePrefix = join(RESULTS_DIR, `compare-${new Date().toISOString().replace(/[:.]/g, "-")}-hearth`);
  if (options.profile) await mkdir(RESULTS_DIR, { recursive: true });
  const uptimeStart = await uptimeLine();
  const loadStart = loadAverage();
  const source = await sourceState();
  say(
    `compare: ${options.devices} lights per system, c=${options.levels.join(",")}, kinds ${options.kinds.join(",")}; ${uptimeStart}`,
  );

  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((e: Error) => say(`warning: ${e.message}`));
    stops.length = 0;
  };
  process.once("SIGINT", () => void stopAll().finally(() => process.exit(130)));
  process.once("SIGTERM", () => void stopAll().finally(() => process.exit(143)));

  const started: Partial<Record<SystemName, StartedSystem>> = {};
  const results: PhaseResult[] = [];
  let mosquitto: RunningMosquitto | undefined;
  const profiles: Partial<Record<Kind, ProfileSummary>> = {};
  let failed = false;
  try {
    const passwords = Object.fromEntries(
      ["bridge", ...Object.keys(ACCOUNTS)].map((name) => [name, randomBytes(18).toString("hex")]),
    ) as RunContext["passwords"];
    mosquitto = await startMosquitto({
      users: [
        { username: "hearth_bridge", password: passwords.bridge },
        ...Object.entries(ACCOUNTS).map(([name, a]) => ({
          username: a.username,
          password: passwords[name as AccountName],
        })),
      ],
    });
    const broker = mosquitto;
    stops.push(() => broker.stop());
    await extendAcl(mosquitto);
    // A reload makes mosquitto read the extended ACL; re-adding an account is how the helper reloads.
    await mosquitto.addUser({ username: ACCOUNTS.observer.username, password: passwords.observer });
    const ctx: RunContext = { dir: runDir, mosquitto, passwords, starts: options.starts };

    say("starting hearth …");
    started.hearth = await startHearth(build, options.devices, ctx);
    stops.push(() => (started.hearth as StartedSystem).stop());
    let responder: Child | undefined;
    if (!options.skipFloor || !options.skipPeer) {
      responder = await startResponder(ctx);
      const r = responder;
      stops.push(() => r.stop());
    }
    if (!options.skipFloor) {
      say("starting the floor …");
      started.floor = await startFloor(options.devices, ctx, responder as Child);
      stops.push(() => (started.floor as StartedSystem).stop());
    }
    if (peerInstall) {
      say("starting the peer …");
      started.peer = await startPeer(peerInstall, options.devices, ctx, responder as Child, options.peerAcksIn);
      stops.push(() => (started.peer as StartedSystem).stop());
    }
    for (const [name, system] of Object.entries(started)) {
      const s = system.startup;
      say(`  ${name}: ready in ${s.readyMs.join(", ")} ms; idle RSS ${s.idleRssMiB} MiB`);
    }

    const systems = (["hearth", "peer", "floor"] as const).flatMap((name) =>
      started[name] ? [started[name].target] : [],
    );
    const hearth = started.hearth.target;
    for (const kind of options.kinds) {
      // A profile of each kind of request on its own, over its levels, without the set-up around them.
      const profiling = options.profile && (await hearth.server.startProfile());
      for (const c of options.levels) {
        for (const result of await measurePhase(systems, kind, c, options)) {
          results.push(result);
          say(
            `  ${KIND_LABELS[kind]} c=${c} ${result.system}: ${result.reqPerSec} req/s, p50 ${result.p50Ms} ms, ` +
              `p99 ${result.p99Ms} ms, errors ${result.errors}`,
          );
        }
      }
      const profileFile = `${profilePrefix}-${kind}.cpuprofile`;
      if (profiling && (await hearth.server.stopProfile(profileFile))) {
        profiles[kind] = summariseProfile(profileFile, build.dir);
      }
    }
  } catch (error) {
    failed = true;
    say(`\ncompare failed: ${(error as Error).message}`);
  }
  await stopAll();
  const uptimeEnd = await uptimeLine();
  if (failed) {
    say(`logs of the run: ${runDir}`);
    return 1;
  }

  const startups = Object.fromEntries(Object.entries(started).map(([k, v]) => [k, v.startup]));
  const ratioRows = ratios(results);
  const targetRows = targets(results, startups, options.devices);
  const info = {
    ...machine(
      mosquitto ? mosquittoVersionOf(mosquitto.logs()) : undefined,
      "this process: node:http keep-alive agents, one closed loop per system",
    ),
    loadAverageStart: loadStart ?? null,
    loadAverageEnd: loadAverage() ?? null,
    uptimeStart,
    uptimeEnd,
    network,
  };
  const json = {
    benchmark: "compare",
    finishedAt: new Date().toISOString(),
    machine: info,
    hearth: { ...source, build: build.key },
    options: { ...options, cacheDir: undefined },
    systems: Object.fromEntries(Object.entries(started).map(([k, v]) => [k, { startup: v.startup, ...v.facts }])),
    results,
    ratios: ratioRows,
    targets: targetRows,
    profiles,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = json.finishedAt.replace(/[:.]/g, "-");
  const file = join(RESULTS_DIR, `compare-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  let chartFile: string | undefined;
  if (options.chart) {
    chartFile = join(RESULTS_DIR, `compare-${stamp}.svg`);
    await writeFile(
      chartFile,
      chart(results, `Google fulfillment, ${options.devices} lights — ${info.cpus} × ${info.cpuModel}`),
    );
  }

  if (options.jsonOnly) {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const versions = (started.peer?.facts.versions ?? {}) as Record<string, string>;
    const lines = [
      "",
      `Google fulfillment: Hearth vs peer vs floor — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}`,
      `peer: node-red ${versions["node-red"] ?? "-"}, node-red-contrib-google-smarthome ${versions["node-red-contrib-google-smarthome"] ?? "-"}; ` +
        `${options.devices} lights each; ${options.rounds} rounds in turns; network: ${network}`,
      `hearth: commit ${source.commit ?? "unknown"}${source.uncommittedInSrc ? `, ${source.uncommittedInSrc} files in src/ changed since` : ""}, build ${build.key}`,
      `load at start: ${uptimeStart}`,
      `load at end:   ${uptimeEnd}`,
      "",
      resultsTable(results),
      "",
      ratioTable(ratioRows),
      "",
      startupTable(startups, results, options.devices),
      ...restartLine(started.hearth?.facts.onlineAfterRestart, options.devices),
      "",
      targetTable(targetRows),
    ];
    for (const [kind, summary] of Object.entries(profiles)) {
      lines.push("", profileTables(`Hearth's CPU profile of ${KIND_LABELS[kind as Kind]}, all levels`, summary));
    }
    lines.push("", `results written to ${relative(process.cwd(), file)}`);
    if (chartFile) lines.push(`chart written to ${relative(process.cwd(), chartFile)}`);
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  rmSync(runDir, { recursive: true, force: true });
  const errors = results.filter((r) => r.errors > 0);
  for (const r of errors)
    say(`${r.system} ${r.kind} c=${r.concurrency}: ${r.errors} failed, first: ${r.errorSamples[0]}`);
  return errors.length > 0 ? 1 : 0;
}

runMain(main);

/** Whether a restarted Hearth saw every device online again from the broker alone, without any node reconnecting. */
function restartLine(onlineAfterRestart: unknown, devices: number): string[] {
  if (!Array.isArray(onlineAfterRestart) || onlineAfterRestart.length === 0) return [];
  return [
    `hearth: devices online ${RESTART_ONLINE_MS / 1000} s after each restart, from the broker alone: ${onlineAfterRestart.join(", ")} of ${devices}`,
  ];
}
