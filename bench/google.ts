/**
 * Google fulfillment benchmark: what an EXECUTE costs through the whole Hearth path, next to the core command
 * path of the same daemon measured in the same run, and what a SYNC of a house of 1,000 devices costs.
 *
 *   core               POST /api/v1/devices/<id>/commands with an admin token: the floor of the Google path.
 *   google/onoff       POST /google/fulfillment with an EXECUTE of OnOff, on and off alternating: bearer token →
 *                      body parsing → intent → device and trait → the same command path → the states the node
 *                      confirmed, in Google's answer.
 *   google/brightness  the same with BrightnessAbsolute 30 / 70.
 *   sync               SYNC on a second daemon holding 50 nodes × 20 devices of mixed types, next to
 *                      GET /api/v1/devices on the same daemon.
 *
 * At each concurrency level the systems warm up, then take turns in blocks of requests (core, onoff, brightness,
 * core…) on the same daemon and lights, so that what disturbs one disturbs all and the ratios hold.
 *
 * Everything except mosquitto runs in this one process (daemon, simulated nodes and load generator), so every
 * figure includes the load generator's own CPU on the same event loop. Run with `npm run bench:google -- --help`.
 */
import type http from "node:http";
import { parseArgs } from "node:util";
import type { DeviceType } from "../src/model/index.ts";
import type { BrokerKind, TestBridge } from "../test/helpers/bridge.ts";
import { linkAccount } from "../test/helpers/linking.ts";
import {
  abortRun,
  benchCommands,
  COMMAND_COLUMNS,
  COMMAND_TIMEOUT_MS,
  type CommandResult,
  commandRow,
  exitCodeOf,
  type HttpAnswer,
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
  writeResults,
} from "./common.ts";

const SYSTEMS = ["core", "google/onoff", "google/brightness"] as const;
type SystemName = (typeof SYSTEMS)[number];
const BROKERS = ["embedded", "mosquitto"] as const satisfies readonly BrokerKind[];

/**
 * The devices of one SYNC node, in this order: two lights, a sensor, a thermostat, a fan, a cover and a lock
 * among switches and outlets, as on a relay board. Twenty of them, each with its own name, make a config of
 * 4036 bytes (with a three-digit node number), just inside the 4 KB a node may announce.
 */
const HOUSE_MIX: readonly DeviceType[] = [
  "light",
  "switch",
  "outlet",
  "sensor",
  "switch",
  "outlet",
  "thermostat",
  "switch",
  "outlet",
  "fan",
  "switch",
  "outlet",
  "cover",
  "switch",
  "outlet",
  "lock",
  "switch",
  "outlet",
  "light",
  "switch",
];

const LIMITS = {
  ...LOAD_LIMITS,
  rounds: 1000,
  syncNodes: 200,
  syncDevices: HOUSE_MIX.length,
  syncCalls: 10_000,
};

const HELP = `Usage: npm run bench:google -- [options]

Options (each also readable from the environment variable shown):
  --nodes N              simulated nodes, one light each (BENCH_NODES, default 10, max ${LIMITS.nodes})
  --concurrency LIST     requests in flight, comma separated (BENCH_CONCURRENCY, default 1,8, max ${LIMITS.concurrency})
  --requests LIST        measured requests per system and concurrency level, one value for all levels or one per
                         level (BENCH_REQUESTS, default 2000 at c=1 and 5000 above, max ${LIMITS.requests})
  --warmup N             unmeasured requests before each measured phase (BENCH_WARMUP, default 1000)
  --rounds N             measured blocks per system and level, taking turns between the systems so that a
                         neighbour's CPU burst hits all of them alike (BENCH_ROUNDS, default 5, max ${LIMITS.rounds})
  --systems LIST         subset of ${SYSTEMS.join(",")} (BENCH_SYSTEMS, default all)
  --broker LIST          embedded, mosquitto or embedded,mosquitto: one daemon after the other
                         (BENCH_BROKER, default embedded)
  --sync-nodes N         nodes of the SYNC daemon (BENCH_SYNC_NODES, default 50, max ${LIMITS.syncNodes})
  --sync-devices N       devices per SYNC node, mixed types (BENCH_SYNC_DEVICES, default 20, max ${LIMITS.syncDevices}:
                         a node's config must fit in 4 KB)
  --sync-calls N         measured SYNC calls, and as many device lists (BENCH_SYNC_CALLS, default 100;
                         0 leaves SYNC out)
  --phase-timeout S      a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json              do not write bench/results/google-<timestamp>.json
  -h, --help             this text

The run exits non-zero if anything fails to start or any request fails.`;

interface Options {
  nodes: number;
  levels: Level[];
  warmup: number;
  rounds: number;
  systems: SystemName[];
  brokers: BrokerKind[];
  syncNodes: number;
  syncDevices: number;
  syncCalls: number;
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
      "sync-nodes": { type: "string" },
      "sync-devices": { type: "string" },
      "sync-calls": { type: "string" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const { nodes, levels, warmup } = loadOptions(values, env, { concurrency: "1,8" });
  const rounds = roundsOption(values.rounds, env, levels, LIMITS.rounds);
  const systems = subset("system", values.systems ?? env.BENCH_SYSTEMS ?? SYSTEMS.join(","), SYSTEMS);
  const brokers = subset("broker", values.broker ?? env.BENCH_BROKER ?? "embedded", BROKERS);
  const syncNodes = integer("--sync-nodes", values["sync-nodes"] ?? env.BENCH_SYNC_NODES ?? "50", 1, LIMITS.syncNodes);
  const syncDevices = integer(
    "--sync-devices",
    values["sync-devices"] ?? env.BENCH_SYNC_DEVICES ?? "20",
    1,
    LIMITS.syncDevices,
  );
  const syncCalls = integer("--sync-calls", values["sync-calls"] ?? env.BENCH_SYNC_CALLS ?? "100", 0, LIMITS.syncCalls);
  const phaseTimeoutMs = phaseTimeoutOption(values["phase-timeout"], env);
  return {
    nodes,
    levels,
    warmup,
    rounds,
    systems,
    brokers,
    syncNodes,
    syncDevices,
    syncCalls,
    phaseTimeoutMs,
    writeJson: !values["no-json"],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

interface GoogleAnswer {
  requestId?: string;
  payload?: {
    agentUserId?: string;
    devices?: unknown[];
    commands?: Array<{ ids?: string[]; status?: string; states?: Record<string, unknown> }>;
    errorCode?: string;
  };
}

/** Google's request ids are decimal strings; each request gets its own. */
let lastRequestId = 0;

/** One intent through `/google/fulfillment` with a linked user's token; resolves with the parsed 200 answer. */
async function fulfill(
  agent: http.Agent,
  base: URL,
  token: string,
  input: { intent: string; payload?: unknown },
): Promise<{ answer: HttpAnswer; parsed: GoogleAnswer; requestId: string }> {
  const requestId = String(++lastRequestId);
  const answer = await httpRequest(agent, base, {
    method: "POST",
    path: "/google/fulfillment",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ requestId, inputs: [input] }),
  });
  const parsed = jsonOf<GoogleAnswer>(answer);
  if (parsed.requestId !== requestId) throw new Error(`answer to another request: ${answer.text.slice(0, 200)}`);
  return { answer, parsed, requestId };
}

/**
 * One EXECUTE of one command on one device, as Google sends it (with the `customData` SYNC gave); resolves only
 * for a single `SUCCESS` for that device whose states hold every expected value.
 */
async function postExecute(
  agent: http.Agent,
  base: URL,
  token: string,
  device: { id: string; nodeId: string },
  execution: { command: string; params: Record<string, unknown> },
  expected: Record<string, unknown>,
): Promise<void> {
  const { answer, parsed } = await fulfill(agent, base, token, {
    intent: "action.devices.EXECUTE",
    payload: {
      commands: [
        {
          devices: [{ id: device.id, customData: { nodeId: device.nodeId } }],
          execution: [{ command: `action.devices.commands.${execution.command}`, params: execution.params }],
        },
      ],
    },
  });
  const commands = parsed.payload?.commands;
  const result = commands?.length === 1 ? commands[0] : undefined;
  const confirmed =
    result?.status === "SUCCESS" &&
    result.ids?.length === 1 &&
    result.ids[0] === device.id &&
    Object.entries(expected).every(([key, value]) => result.states?.[key] === value);
  if (!confirmed) throw new Error(`unexpected answer: ${answer.text.slice(0, 200)}`);
}

interface CommandRig {
  base: URL;
  adminToken: string;
  googleToken: string;
  /** The lights, by light number. */
  devices: Array<{ id: string; nodeId: string }>;
  lights: Lights;
}

/** The request of `system` number `i`, on light `i mod nodes`. */
function issuer(system: SystemName, rig: CommandRig, agent: http.Agent): Issue {
  const count = rig.devices.length;
  switch (system) {
    case "core":
      return (i) => {
        const light = i % count;
        const { id } = rig.devices[light] as { id: string };
        return postCommand(agent, rig.base, rig.adminToken, id, rig.lights.nextBrightness(light));
      };
    case "google/onoff":
      return (i) => {
        const light = i % count;
        const on = rig.lights.nextPower(light);
        const device = rig.devices[light] as { id: string; nodeId: string };
        return postExecute(agent, rig.base, rig.googleToken, device, { command: "OnOff", params: { on } }, { on });
      };
    case "google/brightness":
      return (i) => {
        const light = i % count;
        const brightness = rig.lights.nextBrightness(light);
        const device = rig.devices[light] as { id: string; nodeId: string };
        // A light dimmed to a level above 0 is on, whether it was before or not.
        return postExecute(
          agent,
          rig.base,
          rig.googleToken,
          device,
          { command: "BrightnessAbsolute", params: { brightness } },
          { brightness, on: true },
        );
      };
  }
}

/** SYNC against the device list, on a second daemon holding a house of mixed devices. */
async function benchSync(
  kind: BrokerKind,
  options: Options,
  teardown: Teardown,
  onBridge: (bridge: TestBridge) => void,
): Promise<ListingResult[]> {
  const house = await startHouse(
    kind,
    { name: "SYNC", nodes: options.syncNodes, devicesPerNode: options.syncDevices, mix: HOUSE_MIX },
    teardown,
    {},
    onBridge,
  );
  const expected = house.devices;
  const account = await linkAccount(house.bridge.daemon.store, "bench", "google");
  const sync = async (agent: http.Agent, base: URL) => {
    const { answer, parsed } = await fulfill(agent, base, account.accessToken, { intent: "action.devices.SYNC" });
    const devices = parsed.payload?.devices;
    if (parsed.payload?.agentUserId !== account.userId || devices?.length !== expected) {
      const found = devices === undefined ? "no devices" : `${devices.length} devices`;
      throw new Error(`${found} instead of ${expected}: ${answer.text.slice(0, 200)}`);
    }
    return answer;
  };
  return measureListing(
    house,
    { name: "action.devices.SYNC", call: sync },
    { calls: options.syncCalls, rounds: options.rounds, phaseTimeoutMs: options.phaseTimeoutMs },
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
  const syncs: ListingResult[] = [];
  let mosquittoVersion: string | undefined;
  let logs: TestBridge | undefined;
  const levelText = options.levels.map((l) => `c=${l.concurrency}×${l.requests}`).join(", ");
  process.stderr.write(
    `Google fulfillment: ${options.nodes} nodes, warm-up ${options.warmup}, ${levelText}; ` +
      `SYNC of ${options.syncNodes} × ${options.syncDevices} devices, ${options.syncCalls} calls\n`,
  );

  try {
    for (const broker of options.brokers) {
      const mark = teardown.mark;
      // The same deadline as core commands, so that both paths retry and give up alike.
      const hearth = await startHearth(broker, options.nodes, teardown, {
        "google.executeTimeoutMs": COMMAND_TIMEOUT_MS,
      });
      logs = hearth.bridge;
      if (hearth.bridge.mosquitto) mosquittoVersion = mosquittoVersionOf(hearth.bridge.mosquitto.logs());
      const account = await linkAccount(hearth.bridge.daemon.store, "bench", "google");
      const rig: CommandRig = {
        base: new URL(hearth.bridge.httpUrl),
        adminToken: hearth.token,
        googleToken: account.accessToken,
        devices: hearth.credentials.map(({ nodeId }) => ({ id: `${nodeId}.light`, nodeId })),
        lights: new Lights(hearth.credentials.length),
      };
      const issue = (system: SystemName, agent: http.Agent) => issuer(system, rig, agent);
      results.push(...(await benchCommands(broker, options.systems, issue, options, hearth.brokerPid)));
      await teardown.unwind(mark);
    }
    if (options.syncCalls > 0) {
      const mark = teardown.mark;
      const kind = options.brokers[0] as BrokerKind;
      syncs.push(
        ...(await benchSync(kind, options, teardown, (bridge) => {
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
    `Google fulfillment — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}; ` +
      `${options.nodes} nodes of one light, warm-up ${options.warmup}, ${options.rounds} rounds; load generator in-process`,
  ];
  if (results.length > 0) lines.push("", table(COMMAND_COLUMNS, results.map(commandRow)));
  if (ratioRows.length > 0) lines.push("", ratioTable("Google / core", ratioRows));
  const [synced, listed] = syncs;
  if (synced && listed) {
    lines.push(
      "",
      `SYNC: ${options.syncNodes} nodes × ${options.syncDevices} devices of mixed types, ` +
        `sequential calls after ${LISTING_WARMUP} unmeasured each, in turns`,
      "",
      table(LISTING_COLUMNS, syncs.map(listingRow)),
      "",
      `SYNC / device list: p50 ${(synced.p50Ms / listed.p50Ms).toFixed(2)}×, ` +
        `p99 ${(synced.p99Ms / listed.p99Ms).toFixed(2)}×, bytes ${(synced.bytes / listed.bytes).toFixed(2)}×`,
    );
  }
  lines.push("", `Peak RSS of the process over the whole run: ${peakRssMiB.toFixed(0)} MiB`);
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const json = {
      benchmark: "google",
      finishedAt: new Date().toISOString(),
      machine: info,
      options: { ...options, syncWarmup: LISTING_WARMUP },
      results,
      ratios: ratioRows,
      sync: syncs,
      peakRssMiB,
    };
    const file = await writeResults("google", json);
    process.stdout.write(`\nresults written to ${file}\n`);
  }

  return exitCodeOf([...results, ...syncs]);
}

// Whatever is still open (a socket in TIME_WAIT handling, a stray timer) must not keep the run alive.
runMain(main);
