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
import type http from "node:http";
import { parseArgs } from "node:util";
import { endpointIdOfDevice, MAX_ENDPOINTS } from "../src/alexa/endpoints.ts";
import { FORWARDER_SECRET_HEADER } from "../src/alexa/route.ts";
import type { DeviceType } from "../src/model/index.ts";
import { directive, linkAlexaAccount } from "../test/helpers/alexa.ts";
import type { BrokerKind, TestBridge } from "../test/helpers/bridge.ts";
import {
  abortRun,
  benchCommands,
  COMMAND_COLUMNS,
  COMMAND_TIMEOUT_MS,
  type CommandResult,
  commandRow,
  exitCodeOf,
  httpRequest,
  type Issue,
  integer,
  jsonOf,
  type Level,
  LISTING_COLUMNS,
  LISTING_WARMUP,
  Lights,
  type ListingResult,
  LOAD_LIMITS,
  listingRow,
  loadOptions,
  MIB,
  machine,
  measureListing,
  mosquittoVersionOf,
  optionsOrExit,
  phaseTimeoutOption,
  postCommand,
  RssSampler,
  ratiosToCore,
  ratioTable,
  round,
  roundsOption,
  runMain,
  startHearth,
  startHouse,
  subset,
  Teardown,
  table,
  UsageError,
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
  const rounds = roundsOption(values.rounds, env, measured, LIMITS.rounds);
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
  const phaseTimeoutMs = phaseTimeoutOption(values["phase-timeout"], env);
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
    phaseTimeoutMs,
    writeJson: !values["no-json"],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

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

/** Discover against the device list, on a second daemon holding a house of mixed devices. */
async function benchDiscovery(
  kind: BrokerKind,
  options: Options,
  teardown: Teardown,
  onBridge: (bridge: TestBridge) => void,
): Promise<ListingResult[]> {
  const secret = randomBytes(24).toString("hex");
  const house = await startHouse(
    kind,
    { name: "discovery", nodes: options.discoverNodes, devicesPerNode: options.discoverDevices, mix: DEVICE_MIX },
    teardown,
    { "alexa.forwarderSecret": secret },
    onBridge,
  );
  const expected = house.devices;
  const { accessToken } = await linkAlexaAccount(house.bridge.daemon.store, "bench");
  const discover = async (agent: http.Agent, base: URL) => {
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
    return answer;
  };
  return measureListing(
    house,
    { name: "Alexa.Discovery Discover", call: discover },
    {
      calls: options.discoverCalls,
      rounds: options.rounds,
      phaseTimeoutMs: options.phaseTimeoutMs,
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = optionsOrExit(() => parseOptions(process.argv.slice(2), process.env), HELP);
  if (typeof options === "number") return options;

  const teardown = new Teardown();
  teardown.stopOnSignals();
  const processRss = new RssSampler();
  teardown.add("RSS sampler", () => {
    processRss.stop();
  });

  const results: Array<CommandResult<SystemName>> = [];
  const discovery: ListingResult[] = [];
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
      const issue = (system: SystemName, agent: http.Agent) => issuer(system, rig, agent);
      results.push(...(await benchCommands(broker, options.systems, issue, options, hearth.brokerPid)));
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
    return abortRun(error, teardown, logs);
  }
  await teardown.unwind();
  const peakRssMiB = round(processRss.stop() / MIB, 1);

  const ratioRows = ratiosToCore(results);
  const info = machine(mosquittoVersion, "in-process (same event loop as the daemon and the simulated nodes)");
  const lines = [
    "",
    `Alexa directives — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}; ` +
      `${options.nodes} nodes of one light, warm-up ${options.warmup}, ${options.rounds} rounds; load generator in-process`,
  ];
  if (results.length > 0) lines.push("", table(COMMAND_COLUMNS, results.map(commandRow)));
  if (ratioRows.length > 0) lines.push("", ratioTable("Alexa / core", ratioRows));
  const [discovered, listed] = discovery;
  if (discovered && listed) {
    lines.push(
      "",
      `Discovery: ${options.discoverNodes} nodes × ${options.discoverDevices} devices of mixed types, ` +
        `sequential calls after ${LISTING_WARMUP} unmeasured each, in turns`,
      "",
      table(LISTING_COLUMNS, discovery.map(listingRow)),
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
      options: { ...options, discoverWarmup: LISTING_WARMUP },
      results,
      ratios: ratioRows,
      discovery,
      peakRssMiB,
    };
    const file = await writeResults("alexa", json);
    process.stdout.write(`\nresults written to ${file}\n`);
  }

  return exitCodeOf([...results, ...discovery]);
}

// Whatever is still open (a socket in TIME_WAIT handling, a stray timer) must not keep the run alive.
runMain(main);
