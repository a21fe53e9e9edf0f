/**
 * Command round trip benchmark: what a device command costs through the whole Hearth path, next to the floor
 * that the broker and the MQTT client library alone allow on the same machine.
 *
 *   hearth/<broker>  HTTP POST → admin auth → validation → SQLite → QoS 1 publish → simulated node (which
 *                    also publishes its new state) → node's answer on `cmd/res` → SQLite → HTTP response.
 *   floor/<broker>   one bare MQTT client publishes a QoS 1 `cmd` and waits for a bare responder's answer on
 *                    `cmd/res`: no daemon, no HTTP, no SQLite.
 *
 * Everything except mosquitto runs in this one process (daemon, simulated nodes, floor clients and the load
 * generator), so every figure includes the load generator's own CPU on the same event loop: on a 2-core machine
 * the Node process gets one core and mosquitto, when used, the other. Run with `npm run bench -- --help`.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { Aedes } from "aedes";
import { type IncomingMessage, MqttConnection } from "../src/devices/mqtt-connection.ts";
import { Topics } from "../src/devices/protocol.ts";
import type { TestBridge } from "../test/helpers/bridge.ts";
import {
  type Cleanups,
  COMMAND_TIMEOUT_MS,
  type HearthRig,
  type Issue,
  integer,
  type Level,
  LOAD_LIMITS,
  loadOptions,
  machine,
  measure,
  mosquittoVersionOf,
  nodeIds,
  type PhaseResult as Phase,
  postCommand,
  report,
  round,
  runMain,
  startHearth,
  subset,
  Teardown,
  table,
  writeResults,
} from "./common.ts";

const SYSTEMS = ["hearth/embedded", "hearth/mosquitto", "floor/aedes", "floor/mosquitto"] as const;
type SystemName = (typeof SYSTEMS)[number];

/** Hearth and floor on the same broker, for the ratios. */
const PAIRS: ReadonlyArray<{ broker: string; hearth: SystemName; floor: SystemName }> = [
  { broker: "aedes", hearth: "hearth/embedded", floor: "floor/aedes" },
  { broker: "mosquitto", hearth: "hearth/mosquitto", floor: "floor/mosquitto" },
];

const LIMITS = LOAD_LIMITS;

const HELP = `Usage: npm run bench -- [options]

Options (each also readable from the environment variable shown):
  --nodes N            simulated nodes, one light each (BENCH_NODES, default 10, max ${LIMITS.nodes})
  --concurrency LIST   requests in flight, comma separated (BENCH_CONCURRENCY, default 1,32, max ${LIMITS.concurrency})
  --requests LIST      measured requests per concurrency level, one value for all or one per level
                       (BENCH_REQUESTS, default 2000 at c=1 and 5000 above, max ${LIMITS.requests})
  --warmup N           unmeasured requests before each measured phase (BENCH_WARMUP, default 1000)
  --systems LIST       subset of ${SYSTEMS.join(",")} (BENCH_SYSTEMS, default all)
  --phase-timeout S    a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json            do not write bench/results/command-roundtrip-<timestamp>.json
  -h, --help           this text

The run exits non-zero if anything fails to start or any request fails.`;

interface Options {
  nodes: number;
  levels: Level[];
  warmup: number;
  systems: SystemName[];
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
      systems: { type: "string" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const { nodes, levels: measured, warmup } = loadOptions(values, env);
  // Run order is fixed (floor/aedes first, see main), whatever order the list was given in.
  const systems = subset("system", values.systems ?? env.BENCH_SYSTEMS ?? SYSTEMS.join(","), SYSTEMS);
  const phaseTimeout = integer("--phase-timeout", values["phase-timeout"] ?? env.BENCH_PHASE_TIMEOUT ?? "120", 5, 3600);
  return {
    nodes,
    levels: measured,
    warmup,
    systems,
    phaseTimeoutMs: phaseTimeout * 1000,
    writeJson: !values["no-json"],
  };
}

type PhaseResult = Phase<SystemName>;

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

/** Alternates each light between two brightness levels, so every command changes state on its device. */
function commandParams(i: number, nodes: number): { on: true; brightness: number } {
  return { on: true, brightness: Math.floor(i / nodes) % 2 === 0 ? 30 : 70 };
}

async function benchHearth(system: SystemName, rig: HearthRig, options: Options): Promise<PhaseResult[]> {
  const base = new URL(rig.bridge.httpUrl);
  const ids = rig.credentials.map((c) => c.nodeId);
  const counter = { next: 0 };
  const results: PhaseResult[] = [];
  for (const level of options.levels) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: level.concurrency });
    try {
      const issue: Issue = (i) => {
        const nodeId = ids[i % ids.length] as string;
        return postCommand(agent, base, rig.token, `${nodeId}.light`, commandParams(i, ids.length).brightness);
      };
      results.push(report(await measure(system, level, options, counter, issue, rig.brokerPid)));
    } finally {
      agent.destroy();
    }
  }
  return results;
}

/**
 * The floor: one requester (standing in for the bridge) and one responder per node, each a plain MQTT client
 * with TCP_NODELAY (MqttConnection sets it). The responder answers with what a minimal node would send, so JSON
 * parsing is in the floor too, but no state publish, no validation and no storage.
 */
class FloorRig {
  /** Command id → completes that request. */
  private readonly pending = new Map<string, () => void>();
  private readonly topics = new Topics();

  private constructor(
    private readonly requester: MqttConnection,
    private readonly ids: string[],
  ) {
    requester.onMessage((message) => this.onAnswer(message));
  }

  static async start(
    url: string,
    bridge: { username?: string; password?: string },
    nodes: ReadonlyArray<{ nodeId: string; password?: string }>,
    cleanups: Cleanups,
  ): Promise<FloorRig> {
    const topics = new Topics();
    const tag = randomBytes(3).toString("hex");
    const requester = await MqttConnection.connect({
      url,
      clientId: `bench-floor-${tag}`,
      reconnect: false,
      ...bridge,
    });
    cleanups.add("floor requester", () => requester.close());
    await expectGranted(requester.subscribe([`${topics.prefix}/+/cmd/res`], 1), "the floor requester");
    for (const node of nodes) {
      const responder = await MqttConnection.connect({
        url,
        clientId: node.nodeId,
        username: node.nodeId,
        reconnect: false,
        ...(node.password === undefined ? {} : { password: node.password }),
      });
      cleanups.add(`floor responder ${node.nodeId}`, () => responder.close());
      const commandTopic = topics.command(node.nodeId);
      const answerTopic = topics.commandResponse(node.nodeId);
      responder.onMessage((message) => {
        if (message.topic !== commandTopic) return;
        const command = JSON.parse(message.payload.toString("utf8")) as { id: string; dev: string; params: unknown };
        const answer = { id: command.id, status: "ok", dev: command.dev, state: command.params };
        responder.publish(answerTopic, JSON.stringify(answer), { qos: 1 }).catch(() => undefined);
      });
      await expectGranted(responder.subscribe([commandTopic], 1), `floor responder ${node.nodeId}`);
    }
    return new FloorRig(
      requester,
      nodes.map((n) => n.nodeId),
    );
  }

  private onAnswer(message: IncomingMessage): void {
    let id: unknown;
    try {
      id = (JSON.parse(message.payload.toString("utf8")) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id === "string") this.pending.get(id)?.();
  }

  readonly issue: Issue = (i) => {
    const nodeId = this.ids[i % this.ids.length] as string;
    const id = `f${i}`;
    const payload = {
      id,
      op: "set",
      dev: "light",
      params: commandParams(i, this.ids.length),
      exp: Math.ceil((Date.now() + COMMAND_TIMEOUT_MS) / 1000) + 1,
    };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)),
        COMMAND_TIMEOUT_MS,
      );
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (error) reject(error);
        else resolve();
      };
      this.pending.set(id, () => settle());
      this.requester
        .publish(this.topics.command(nodeId), JSON.stringify(payload), { qos: 1 })
        .catch((error: Error) => settle(error));
    });
  };
}

async function expectGranted(granted: Promise<number[]>, who: string): Promise<void> {
  if ((await granted).some((qos) => qos === 128)) throw new Error(`the broker refused a subscription of ${who}`);
}

async function benchFloor(
  system: SystemName,
  rig: FloorRig,
  options: Options,
  brokerPid?: number,
): Promise<PhaseResult[]> {
  const counter = { next: 0 };
  const results: PhaseResult[] = [];
  for (const level of options.levels) {
    results.push(report(await measure(system, level, options, counter, rig.issue, brokerPid)));
  }
  return results;
}

/** A bare aedes (no authentication, no ACL) on a loopback port with TCP_NODELAY on every accepted socket. */
async function startBareAedes(cleanups: Cleanups): Promise<string> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  cleanups.add("bare aedes", async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the bare aedes has no TCP address");
  return `mqtt://127.0.0.1:${address.port}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

const COLUMNS = [
  "system",
  "c",
  "requests",
  "cmd/s",
  "p50 ms",
  "p99 ms",
  "max ms",
  "errors",
  "CPU %",
  "mosq %",
  "other %",
  "RSS MiB",
];

function row(r: PhaseResult): string[] {
  return [
    r.system,
    String(r.concurrency),
    String(r.requests),
    String(r.commandsPerSecond),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.maxMs.toFixed(2),
    String(r.errors),
    String(r.cpuPercent),
    r.brokerCpuPercent === null ? "-" : String(r.brokerCpuPercent),
    r.otherCpuPercent === null ? "-" : String(r.otherCpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

interface Ratio {
  broker: string;
  concurrency: number;
  /** Hearth's commands/s over the floor's: 0.25 means Hearth reaches a quarter of the floor's throughput. */
  throughput: number;
  /** Hearth's p50 over the floor's: 3 means a median command takes three times as long through Hearth. */
  p50: number;
}

function ratios(results: PhaseResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const pair of PAIRS) {
    for (const hearth of results.filter((r) => r.system === pair.hearth)) {
      const floor = results.find((r) => r.system === pair.floor && r.concurrency === hearth.concurrency);
      if (!floor) continue;
      out.push({
        broker: pair.broker,
        concurrency: hearth.concurrency,
        throughput: round(hearth.commandsPerSecond / floor.commandsPerSecond, 2),
        p50: round(hearth.p50Ms / floor.p50Ms, 2),
      });
    }
  }
  return out;
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

  const results: PhaseResult[] = [];
  const wanted = new Set(options.systems);
  const ids = nodeIds(options.nodes);
  let mosquittoVersion: string | undefined;
  let hearthLogs: TestBridge | undefined;
  const levels = options.levels.map((l) => `c=${l.concurrency}×${l.requests}`).join(", ");
  process.stderr.write(`command round trip: ${options.nodes} nodes, warm-up ${options.warmup}, ${levels}\n`);

  try {
    // The floor runs first on a fresh heap, so its RSS is the baseline of the process itself.
    if (wanted.has("floor/aedes")) {
      const mark = teardown.mark;
      const url = await startBareAedes(teardown);
      const floor = await FloorRig.start(
        url,
        {},
        ids.map((nodeId) => ({ nodeId })),
        teardown,
      );
      results.push(...(await benchFloor("floor/aedes", floor, options)));
      await teardown.unwind(mark);
    }
    if (wanted.has("hearth/embedded")) {
      const mark = teardown.mark;
      const rig = await startHearth("embedded", options.nodes, teardown);
      hearthLogs = rig.bridge;
      results.push(...(await benchHearth("hearth/embedded", rig, options)));
      await teardown.unwind(mark);
    }
    if (wanted.has("hearth/mosquitto") || wanted.has("floor/mosquitto")) {
      const mark = teardown.mark;
      // One mosquitto for both: Hearth first, then, with the daemon and its nodes stopped, the floor logs in
      // with the same accounts (the bridge's and the nodes') and goes through the same ACL.
      const rig = await startHearth("mosquitto", options.nodes, teardown);
      hearthLogs = rig.bridge;
      const mosquitto = rig.bridge.mosquitto;
      if (!mosquitto) throw new Error("hearth/mosquitto started without a mosquitto");
      mosquittoVersion = mosquittoVersionOf(mosquitto.logs());
      if (wanted.has("hearth/mosquitto")) results.push(...(await benchHearth("hearth/mosquitto", rig, options)));
      if (wanted.has("floor/mosquitto")) {
        await rig.fleet.stop();
        await rig.bridge.daemon.stop();
        const { username, password } = rig.bridge.config.mqtt;
        const floor = await FloorRig.start(
          mosquitto.url,
          { ...(username ? { username } : {}), ...(password ? { password } : {}) },
          rig.credentials,
          teardown,
        );
        results.push(...(await benchFloor("floor/mosquitto", floor, options, rig.brokerPid)));
      }
      await teardown.unwind(mark);
    }
  } catch (error) {
    // What the daemon logged before the failure, not the noise of requests cut short by the shutdown.
    const logged = [...(hearthLogs?.logs.raw ?? [])];
    await teardown.unwind();
    process.stderr.write(`\nbench failed: ${(error as Error).message}\n`);
    if (logged.length > 0) process.stderr.write(`last daemon log lines:\n${logged.slice(-10).join("\n")}\n`);
    return 1;
  }
  await teardown.unwind();

  const order = (r: PhaseResult) => SYSTEMS.indexOf(r.system) * 1000 + r.concurrency;
  results.sort((a, b) => order(a) - order(b));
  const ratioRows = ratios(results);
  const info = machine(
    mosquittoVersion,
    "in-process (same event loop as the daemon, the simulated nodes and the floor clients)",
  );
  const lines = [
    "",
    `Command round trip — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}; ` +
      `${options.nodes} nodes, warm-up ${options.warmup}; load generator in-process`,
    "",
    table(COLUMNS, results.map(row)),
  ];
  if (ratioRows.length > 0) {
    lines.push(
      "",
      table(
        ["Hearth / floor", "c", "throughput", "p50"],
        ratioRows.map((r) => [r.broker, String(r.concurrency), `${r.throughput.toFixed(2)}×`, `${r.p50.toFixed(2)}×`]),
      ),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const json = {
      benchmark: "command-roundtrip",
      finishedAt: new Date().toISOString(),
      machine: info,
      options,
      results,
      ratios: ratioRows,
    };
    const file = await writeResults("command-roundtrip", json);
    process.stdout.write(`\nresults written to ${file}\n`);
  }

  const failed = results.filter((r) => r.errors > 0);
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
