/**
 * Alexa directive benchmark: what a Smart Home directive costs through the whole Hearth path, next to the core
 * command path of the same daemon measured in the same run, and what discovering a full house costs.
 *
 *   core              POST /api/v1/devices/<id>/commands with an admin token: the floor of the Alexa path.
 *   alexa/power       POST /alexa/smarthome with Alexa.PowerController TurnOn / TurnOff, alternating: forwarder
 *                     secret → token from inside the directive → directive parsing → endpoint and interface →
 *                     the same command path → an Alexa.Response built from the confirmed state.
 *   alexa/brightness  the same with Alexa.BrightnessController SetBrightness 30 / 70.
 *   discover          Alexa.Discovery Discover on a second daemon holding 300 devices of mixed types, next to
 *                     GET /api/v1/devices on the same daemon.
 *
 * At each concurrency level the systems warm up, then take turns in blocks of requests (core, power, brightness,
 * core…) on the same daemon and lights, so that what disturbs one disturbs all and the ratios hold.
 *
 * Everything except mosquitto runs in this one process (daemon, simulated nodes and load generator), so every
 * figure includes the load generator's own CPU on the same event loop. Run with `npm run bench:alexa -- --help`.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { endpointIdOfDevice, MAX_ENDPOINTS } from "../src/alexa/endpoints.ts";
import { FORWARDER_SECRET_HEADER } from "../src/alexa/route.ts";
import type { DeviceType } from "../src/model/index.ts";
import { type DeviceTemplate, deviceTemplate, SimNode } from "../src/sim/index.ts";
import { directive, linkAlexaAccount } from "../test/helpers/alexa.ts";
import { type BrokerKind, TestBridge } from "../test/helpers/bridge.ts";
import {
  COMMAND_TIMEOUT_MS,
  httpRequest,
  type Issue,
  integer,
  jsonOf,
  type Level,
  LOAD_LIMITS,
  loadOptions,
  MIB,
  machine,
  measureInterleaved,
  mosquittoVersionOf,
  nodeIds,
  ONLINE_TIMEOUT_MS,
  type PhaseResult,
  postCommand,
  RssSampler,
  report,
  round,
  runMain,
  startHearth,
  subset,
  Teardown,
  table,
  UsageError,
  waitUntil,
  writeResults,
} from "./common.ts";

const SYSTEMS = ["core", "alexa/power", "alexa/brightness"] as const;
type SystemName = (typeof SYSTEMS)[number];
const BROKERS = ["embedded", "mosquitto"] as const satisfies readonly BrokerKind[];

const LIMITS = {
  ...LOAD_LIMITS,
  rounds: 1000,
  discoverNodes: 300,
  /** A node's config must fit in 4 KB; 12 of the simulated devices with their names do. */
  discoverDevices: 12,
  discoverCalls: 10_000,
};
/** Unmeasured Discover (and device list) calls before the measured ones. */
const DISCOVER_WARMUP = 10;
/** Nodes of the discovery daemon connecting at once. */
const DISCOVER_START_CONCURRENCY = 8;
/** The device types of a discovery node, repeated as often as it has devices. */
const DEVICE_MIX: readonly DeviceType[] = ["light", "switch", "sensor", "thermostat", "outlet", "fan", "cover", "lock"];

const HELP = `Usage: npm run bench:alexa -- [options]

Options (each also readable from the environment variable shown):
  --nodes N              simulated nodes, one light each (BENCH_NODES, default 10, max ${LIMITS.nodes})
  --concurrency LIST     requests in flight, comma separated (BENCH_CONCURRENCY, default 1,32, max ${LIMITS.concurrency})
  --requests LIST        measured requests per system and concurrency level, one value for all levels or one per
                         level (BENCH_REQUESTS, default 2000 at c=1 and 5000 above, max ${LIMITS.requests})
  --warmup N             unmeasured requests before each measured phase (BENCH_WARMUP, default 1000)
  --rounds N             measured blocks per system and level, taking turns between the systems so that a
                         neighbour's CPU burst hits all of them alike (BENCH_ROUNDS, default 5, max ${LIMITS.rounds})
  --systems LIST         subset of ${SYSTEMS.join(",")} (BENCH_SYSTEMS, default all)
  --broker LIST          embedded, mosquitto or embedded,mosquitto: one daemon after the other
                         (BENCH_BROKER, default embedded)
  --discover-nodes N     nodes of the discovery daemon (BENCH_DISCOVER_NODES, default 30)
  --discover-devices N   devices per discovery node, mixed types (BENCH_DISCOVER_DEVICES, default 10,
                         max ${LIMITS.discoverDevices}); nodes × devices at most ${MAX_ENDPOINTS}, Alexa's limit
  --discover-calls N     measured Discover calls, and as many device lists (BENCH_DISCOVER_CALLS, default 100;
                         0 leaves discovery out)
  --phase-timeout S      a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json              do not write bench/results/alexa-<timestamp>.json
  -h, --help             this text

The run exits non-zero if anything fails to start or any request fails.`;

interface Options {
  nodes: number;
  levels: Level[];
  warmup: number;
  rounds: number;
  systems: SystemName[];
  brokers: BrokerKind[];
  discoverNodes: number;
  discoverDevices: number;
  discoverCalls: number;
  phaseTimeoutMs: number;
  writeJson: boolean;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: "string" },
      concurrency: { type: "string" },
      requests: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      systems: { type: "string" },
      broker: { type: "string" },
      "discover-nodes": { type: "string" },
      "discover-devices": { type: "string" },
      "discover-calls": { type: "string" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const { nodes, levels: measured, warmup } = loadOptions(values, env);
  const rounds = integer("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "5", 1, LIMITS.rounds);
  const fewest = Math.min(...measured.map((l) => l.requests));
  if (rounds > fewest) throw new UsageError(`--rounds (${rounds}) must not exceed the fewest --requests (${fewest})`);
  const systems = subset("system", values.systems ?? env.BENCH_SYSTEMS ?? SYSTEMS.join(","), SYSTEMS);
  const brokers = subset("broker", values.broker ?? env.BENCH_BROKER ?? "embedded", BROKERS);
  const discoverNodes = integer(
    "--discover-nodes",
    values["discover-nodes"] ?? env.BENCH_DISCOVER_NODES ?? "30",
    1,
    LIMITS.discoverNodes,
  );
  const discoverDevices = integer(
    "--discover-devices",
    values["discover-devices"] ?? env.BENCH_DISCOVER_DEVICES ?? "10",
    1,
    LIMITS.discoverDevices,
  );
  if (discoverNodes * discoverDevices > MAX_ENDPOINTS) {
    throw new UsageError(
      `--discover-nodes × --discover-devices must be at most ${MAX_ENDPOINTS} (Alexa's limit per account), ` +
        `not ${discoverNodes} × ${discoverDevices} = ${discoverNodes * discoverDevices}`,
    );
  }
  const discoverCalls = integer(
    "--discover-calls",
    values["discover-calls"] ?? env.BENCH_DISCOVER_CALLS ?? "100",
    0,
    LIMITS.discoverCalls,
  );
  const phaseTimeout = integer("--phase-timeout", values["phase-timeout"] ?? env.BENCH_PHASE_TIMEOUT ?? "120", 5, 3600);
  return {
    nodes,
    levels: measured,
    warmup,
    rounds,
    systems,
    brokers,
    discoverNodes,
    discoverDevices,
    discoverCalls,
    phaseTimeoutMs: phaseTimeout * 1000,
    writeJson: !values["no-json"],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

/**
 * What the benchmark last asked of each light, so that every command changes its state: brightness alternates
 * between 30 and 70 (core and SetBrightness, both of which also switch it on), power between on and off.
 */
class Lights {
  private readonly on: boolean[];
  private readonly level: number[];

  constructor(count: number) {
    // The simulated light's power-on state: off at 80 %.
    this.on = new Array<boolean>(count).fill(false);
    this.level = new Array<number>(count).fill(80);
  }

  nextBrightness(light: number): number {
    const brightness = this.level[light] === 30 ? 70 : 30;
    this.level[light] = brightness;
    this.on[light] = true;
    return brightness;
  }

  nextPower(light: number): boolean {
    const on = !this.on[light];
    this.on[light] = on;
    return on;
  }
}

interface AlexaAnswer {
  event?: { header?: { namespace?: string; name?: string }; payload?: { endpoints?: unknown[] } };
  context?: { properties?: Array<{ namespace?: string; name?: string; value?: unknown }> };
}

/**
 * One directive through `/alexa/smarthome`; resolves only for an `Alexa.Response` whose context reports every
 * expected property value.
 */
async function postControl(
  agent: http.Agent,
  base: URL,
  secret: string,
  body: unknown,
  expected: ReadonlyArray<{ namespace: string; name: string; value: unknown }>,
): Promise<void> {
  const answer = await httpRequest(agent, base, {
    method: "POST",
    path: "/alexa/smarthome",
    headers: { "content-type": "application/json", [FORWARDER_SECRET_HEADER]: secret },
    body: JSON.stringify(body),
  });
  const parsed = jsonOf<AlexaAnswer>(answer);
  const header = parsed.event?.header;
  const properties = parsed.context?.properties ?? [];
  const confirmed =
    header?.namespace === "Alexa" &&
    header.name === "Response" &&
    expected.every((e) =>
      properties.some((p) => p.namespace === e.namespace && p.name === e.name && p.value === e.value),
    );
  if (!confirmed) throw new Error(`unexpected answer: ${answer.text.slice(0, 200)}`);
}

interface CommandRig {
  base: URL;
  adminToken: string;
  alexaToken: string;
  secret: string;
  /** Device ids and endpoint ids of the lights, by light number. */
  deviceIds: string[];
  endpointIds: string[];
  lights: Lights;
}

/** The request of `system` number `i`, on light `i mod nodes`. */
function issuer(system: SystemName, rig: CommandRig, agent: http.Agent): Issue {
  const count = rig.deviceIds.length;
  switch (system) {
    case "core":
      return (i) => {
        const light = i % count;
        return postCommand(
          agent,
          rig.base,
          rig.adminToken,
          rig.deviceIds[light] as string,
          rig.lights.nextBrightness(light),
        );
      };
    case "alexa/power":
      return (i) => {
        const light = i % count;
        const on = rig.lights.nextPower(light);
        const body = directive("Alexa.PowerController", on ? "TurnOn" : "TurnOff", {
          endpointId: rig.endpointIds[light] as string,
          token: rig.alexaToken,
        });
        return postControl(agent, rig.base, rig.secret, body, [
          { namespace: "Alexa.PowerController", name: "powerState", value: on ? "ON" : "OFF" },
        ]);
      };
    case "alexa/brightness":
      return (i) => {
        const light = i % count;
        const brightness = rig.lights.nextBrightness(light);
        const body = directive("Alexa.BrightnessController", "SetBrightness", {
          endpointId: rig.endpointIds[light] as string,
          token: rig.alexaToken,
          payload: { brightness },
        });
        return postControl(agent, rig.base, rig.secret, body, [
          { namespace: "Alexa.BrightnessController", name: "brightness", value: brightness },
          { namespace: "Alexa.PowerController", name: "powerState", value: "ON" },
        ]);
      };
  }
}

interface CommandResult extends PhaseResult<SystemName> {
  broker: BrokerKind;
  /** See cpuPerCommand. */
  cpuMsPerCommand: number;
}

/** At each concurrency level, every system against the others, on one daemon. */
async function benchCommands(
  broker: BrokerKind,
  rig: CommandRig,
  options: Options,
  brokerPid: number | undefined,
): Promise<CommandResult[]> {
  const counters = new Map(options.systems.map((s) => [s, { next: 0 }]));
  const results: CommandResult[] = [];
  for (const level of options.levels) {
    // One agent for all systems: their blocks take turns, so its sockets never idle past the server's
    // keep-alive timeout (an agent per system would find a socket the server is just closing).
    const agent = new http.Agent({ keepAlive: true, maxSockets: level.concurrency });
    try {
      const contenders = options.systems.map((system) => ({
        system,
        counter: counters.get(system) as { next: number },
        issue: issuer(system, rig, agent),
      }));
      for (const result of await measureInterleaved(contenders, level, options, brokerPid)) {
        results.push(
          report({ broker, ...result, cpuMsPerCommand: cpuPerCommand(result) }, `${result.system} (${broker})`),
        );
      }
    } finally {
      agent.destroy();
    }
  }
  return results;
}

/** The mixed devices of one discovery node: a light, a switch, a sensor, a thermostat… then again. */
function mixedDevices(nodeId: string, count: number): DeviceTemplate[] {
  return Array.from({ length: count }, (_, i) => {
    const type = DEVICE_MIX[i % DEVICE_MIX.length] as DeviceType;
    const n = Math.floor(i / DEVICE_MIX.length) + 1;
    const template = deviceTemplate(type, `${type}_${n}`);
    return { ...template, declaration: { ...template.declaration, name: `${nodeId} ${type} ${n}` } };
  });
}

interface DiscoverResult extends PhaseResult {
  /** Endpoints (Discover) or devices (device list) in every answer. */
  items: number;
  /** Size of the answer's body. */
  bytes: number;
}

async function benchDiscovery(
  kind: BrokerKind,
  options: Options,
  teardown: Teardown,
  onBridge: (bridge: TestBridge) => void,
): Promise<DiscoverResult[]> {
  const secret = randomBytes(24).toString("hex");
  const bridge = await TestBridge.start(kind, { settings: { logLevel: "warn", "alexa.forwarderSecret": secret } });
  teardown.add(`discovery daemon (${kind})`, () => bridge.stop());
  onBridge(bridge);
  const nodes: SimNode[] = [];
  teardown.add("discovery simulated nodes", async () => {
    await Promise.allSettled(nodes.map((node) => node.close()));
  });
  const credentials: Array<{ nodeId: string; password: string }> = [];
  for (const nodeId of nodeIds(options.discoverNodes).map((id) => id.replace("bench-", "house-"))) {
    credentials.push({ nodeId, password: (await bridge.addNode(nodeId)).password });
  }
  let next = 0;
  const starter = async () => {
    while (next < credentials.length) {
      const { nodeId, password } = credentials[next++] as { nodeId: string; password: string };
      const devices = mixedDevices(nodeId, options.discoverDevices);
      nodes.push(await SimNode.start({ url: bridge.mqttUrl, nodeId, password, devices }));
    }
  };
  await Promise.all(Array.from({ length: DISCOVER_START_CONCURRENCY }, starter));
  const expected = options.discoverNodes * options.discoverDevices;
  const store = bridge.daemon.store;
  await waitUntil(
    () => store.devices.list().filter((d) => d.present && d.online).length === expected,
    ONLINE_TIMEOUT_MS,
    `${expected} simulated devices to be online in the discovery daemon`,
  );
  const adminToken = store.adminTokens.create("bench", Date.now()).token;
  const { accessToken } = await linkAlexaAccount(store, "bench");
  const base = new URL(bridge.httpUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const level = { concurrency: 1, requests: options.discoverCalls };
  const phase = {
    warmup: DISCOVER_WARMUP,
    phaseTimeoutMs: options.phaseTimeoutMs,
    rounds: Math.min(options.rounds, options.discoverCalls),
  };
  const results: DiscoverResult[] = [];
  try {
    let bytes = 0;
    const discover: Issue = async () => {
      const answer = await httpRequest(agent, base, {
        method: "POST",
        path: "/alexa/smarthome",
        headers: { "content-type": "application/json", [FORWARDER_SECRET_HEADER]: secret },
        body: JSON.stringify(directive("Alexa.Discovery", "Discover", { token: accessToken })),
      });
      const parsed = jsonOf<AlexaAnswer>(answer);
      const endpoints = parsed.event?.payload?.endpoints;
      if (parsed.event?.header?.name !== "Discover.Response" || endpoints?.length !== expected) {
        const found = endpoints === undefined ? "no endpoints" : `${endpoints.length} endpoints`;
        throw new Error(`${found} instead of ${expected}: ${answer.text.slice(0, 200)}`);
      }
      bytes = Math.max(bytes, answer.bytes);
    };
    let listBytes = 0;
    const listDevices: Issue = async () => {
      const answer = await httpRequest(agent, base, {
        method: "GET",
        path: "/api/v1/devices",
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const devices = jsonOf<unknown[]>(answer);
      if (!Array.isArray(devices) || devices.length !== expected) {
        throw new Error(`${Array.isArray(devices) ? devices.length : "no"} devices instead of ${expected}`);
      }
      listBytes = Math.max(listBytes, answer.bytes);
    };
    const [discovered, listed] = await measureInterleaved(
      [
        { system: "Alexa.Discovery Discover", counter: { next: 0 }, issue: discover },
        { system: "GET /api/v1/devices", counter: { next: 0 }, issue: listDevices },
      ],
      level,
      phase,
    );
    results.push(
      { ...report(discovered as PhaseResult), items: expected, bytes },
      { ...report(listed as PhaseResult), items: expected, bytes: listBytes },
    );
  } finally {
    agent.destroy();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

const COLUMNS = [
  "system",
  "broker",
  "c",
  "requests",
  "cmd/s",
  "p50 ms",
  "p90 ms",
  "p99 ms",
  "max ms",
  "errors",
  "CPU %",
  "CPU ms/cmd",
  "mosq %",
  "other %",
  "RSS MiB",
];

function row(r: CommandResult): string[] {
  return [
    r.system,
    r.broker,
    String(r.concurrency),
    String(r.requests),
    String(r.commandsPerSecond),
    r.p50Ms.toFixed(2),
    r.p90Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.maxMs.toFixed(2),
    String(r.errors),
    String(r.cpuPercent),
    cpuPerCommand(r).toFixed(2),
    r.brokerCpuPercent === null ? "-" : String(r.brokerCpuPercent),
    r.otherCpuPercent === null ? "-" : String(r.otherCpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

/**
 * This process's CPU time per measured request, in ms: less disturbed than latency when another process takes
 * a core for a while, and at c=1 the cost of one request including the simulated node and the load generator.
 */
function cpuPerCommand(r: PhaseResult): number {
  return round(((r.cpuPercent / 100) * r.durationMs) / r.requests, 3);
}

interface Ratio {
  system: SystemName;
  broker: BrokerKind;
  concurrency: number;
  /** The directive's commands/s over core's: 0.8 means the Alexa path reaches 80% of core's throughput. */
  throughput: number;
  /** The directive's p50 over core's: 1.3 means a median directive takes 1.3 times as long as a core command. */
  p50: number;
  p99: number;
  /** The directive's CPU time per request over core's. */
  cpu: number;
  /** What the Alexa path adds to a median request, in ms. */
  p50DeltaMs: number;
}

function ratios(results: CommandResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const alexa of results.filter((r) => r.system !== "core")) {
    const core = results.find(
      (r) => r.system === "core" && r.broker === alexa.broker && r.concurrency === alexa.concurrency,
    );
    if (!core) continue;
    out.push({
      system: alexa.system,
      broker: alexa.broker,
      concurrency: alexa.concurrency,
      throughput: round(alexa.commandsPerSecond / core.commandsPerSecond, 2),
      p50: round(alexa.p50Ms / core.p50Ms, 2),
      p99: round(alexa.p99Ms / core.p99Ms, 2),
      cpu: round(cpuPerCommand(alexa) / cpuPerCommand(core), 2),
      p50DeltaMs: round(alexa.p50Ms - core.p50Ms, 2),
    });
  }
  return out;
}

function discoverRow(r: DiscoverResult): string[] {
  return [
    r.system,
    String(r.requests),
    String(r.items),
    String(r.bytes),
    r.p50Ms.toFixed(2),
    r.p90Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.maxMs.toFixed(2),
    String(r.errors),
    String(r.cpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

// ---------------------------------------------------------------------------------------------------------------

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

  const teardown = new Teardown();
  teardown.stopOnSignals();
  const processRss = new RssSampler();
  teardown.add("RSS sampler", () => {
    processRss.stop();
  });

  const results: CommandResult[] = [];
  const discovery: DiscoverResult[] = [];
  let mosquittoVersion: string | undefined;
  let logs: TestBridge | undefined;
  const levelText = options.levels.map((l) => `c=${l.concurrency}×${l.requests}`).join(", ");
  process.stderr.write(
    `Alexa directives: ${options.nodes} nodes, warm-up ${options.warmup}, ${levelText}; ` +
      `discovery of ${options.discoverNodes} × ${options.discoverDevices} devices, ${options.discoverCalls} calls\n`,
  );

  try {
    for (const broker of options.brokers) {
      const mark = teardown.mark;
      const secret = randomBytes(24).toString("hex");
      const hearth = await startHearth(broker, options.nodes, teardown, {
        "alexa.forwarderSecret": secret,
        "alexa.commandTimeoutMs": COMMAND_TIMEOUT_MS,
      });
      logs = hearth.bridge;
      if (hearth.bridge.mosquitto) mosquittoVersion = mosquittoVersionOf(hearth.bridge.mosquitto.logs());
      const account = await linkAlexaAccount(hearth.bridge.daemon.store, "bench");
      const deviceIds = hearth.credentials.map(({ nodeId }) => `${nodeId}.light`);
      const rig: CommandRig = {
        base: new URL(hearth.bridge.httpUrl),
        adminToken: hearth.token,
        alexaToken: account.accessToken,
        secret,
        deviceIds,
        endpointIds: deviceIds.map(endpointIdOfDevice),
        lights: new Lights(deviceIds.length),
      };
      results.push(...(await benchCommands(broker, rig, options, hearth.brokerPid)));
      await teardown.unwind(mark);
    }
    if (options.discoverCalls > 0) {
      const mark = teardown.mark;
      const kind = options.brokers[0] as BrokerKind;
      discovery.push(
        ...(await benchDiscovery(kind, options, teardown, (bridge) => {
          logs = bridge;
        })),
      );
      await teardown.unwind(mark);
    }
  } catch (error) {
    // What the daemon logged before the failure, not the noise of requests cut short by the shutdown.
    const logged = [...(logs?.logs.raw ?? [])];
    await teardown.unwind();
    process.stderr.write(`\nbench failed: ${(error as Error).message}\n`);
    if (logged.length > 0) process.stderr.write(`last daemon log lines:\n${logged.slice(-10).join("\n")}\n`);
    return 1;
  }
  await teardown.unwind();
  const peakRssMiB = round(processRss.stop() / MIB, 1);

  const ratioRows = ratios(results);
  const info = machine(mosquittoVersion, "in-process (same event loop as the daemon and the simulated nodes)");
  const lines = [
    "",
    `Alexa directives — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}; ` +
      `${options.nodes} nodes of one light, warm-up ${options.warmup}, ${options.rounds} rounds; load generator in-process`,
  ];
  if (results.length > 0) lines.push("", table(COLUMNS, results.map(row)));
  if (ratioRows.length > 0) {
    lines.push(
      "",
      table(
        ["Alexa / core", "broker", "c", "throughput", "p50", "p99", "CPU/cmd", "p50 +ms"],
        ratioRows.map((r) => [
          r.system,
          r.broker,
          String(r.concurrency),
          `${r.throughput.toFixed(2)}×`,
          `${r.p50.toFixed(2)}×`,
          `${r.p99.toFixed(2)}×`,
          `${r.cpu.toFixed(2)}×`,
          r.p50DeltaMs.toFixed(2),
        ]),
      ),
    );
  }
  const [discovered, listed] = discovery;
  if (discovered && listed) {
    lines.push(
      "",
      `Discovery: ${options.discoverNodes} nodes × ${options.discoverDevices} devices of mixed types, ` +
        `sequential calls after ${DISCOVER_WARMUP} unmeasured each, in turns`,
      "",
      table(
        ["request", "calls", "items", "bytes", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "CPU %", "RSS MiB"],
        discovery.map(discoverRow),
      ),
      "",
      `Discover / device list: p50 ${(discovered.p50Ms / listed.p50Ms).toFixed(2)}×, ` +
        `p99 ${(discovered.p99Ms / listed.p99Ms).toFixed(2)}×, bytes ${(discovered.bytes / listed.bytes).toFixed(2)}×`,
    );
  }
  lines.push("", `Peak RSS of the process over the whole run: ${peakRssMiB.toFixed(0)} MiB`);
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const json = {
      benchmark: "alexa",
      finishedAt: new Date().toISOString(),
      machine: info,
      options: { ...options, discoverWarmup: DISCOVER_WARMUP },
      results,
      ratios: ratioRows,
      discovery,
      peakRssMiB,
    };
    const file = await writeResults("alexa", json);
    process.stdout.write(`\nresults written to ${file}\n`);
  }

  const failed = [...results, ...discovery].filter((r) => r.errors > 0);
  if (failed.length > 0) {
    for (const r of failed) {
      process.stderr.write(
        `${r.system} c=${r.concurrency}: ${r.errors} requests failed, first: ${r.errorSamples[0]}\n`,
      );
    }
    return 1;
  }
  return 0;
}

// Whatever is still open (a socket in TIME_WAIT handling, a stray timer) must not keep the run alive.
runMain(main);
