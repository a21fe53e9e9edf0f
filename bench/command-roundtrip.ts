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
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Aedes } from "aedes";
import { type IncomingMessage, MqttConnection } from "../src/devices/mqtt-connection.ts";
import { Topics } from "../src/devices/protocol.ts";
import { SimFleet } from "../src/sim/index.ts";
import { type BrokerKind, TestBridge } from "../test/helpers/bridge.ts";

const SYSTEMS = ["hearth/embedded", "hearth/mosquitto", "floor/aedes", "floor/mosquitto"] as const;
type SystemName = (typeof SYSTEMS)[number];

/** Hearth and floor on the same broker, for the ratios. */
const PAIRS: ReadonlyArray<{ broker: string; hearth: SystemName; floor: SystemName }> = [
  { broker: "aedes", hearth: "hearth/embedded", floor: "floor/aedes" },
  { broker: "mosquitto", hearth: "hearth/mosquitto", floor: "floor/mosquitto" },
];

const LIMITS = { nodes: 200, concurrency: 256, requests: 100_000, warmup: 20_000 };
/** The daemon answers a command within `commands.timeoutMs`; the client allows some more before giving up. */
const COMMAND_TIMEOUT_MS = 5_000;
const CLIENT_TIMEOUT_MS = COMMAND_TIMEOUT_MS + 5_000;
const ONLINE_TIMEOUT_MS = 20_000;
/** A component that does not stop within this is reported and left to the process exit. */
const STOP_TIMEOUT_MS = 10_000;
const RSS_SAMPLE_MS = 50;
const MIB = 1024 * 1024;
const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

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
  levels: Array<{ concurrency: number; requests: number }>;
  warmup: number;
  systems: SystemName[];
  phaseTimeoutMs: number;
  writeJson: boolean;
}

class UsageError extends Error {}

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
  const integer = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${text}"`);
    }
    return value;
  };
  const list = (name: string, text: string, min: number, max: number): number[] =>
    text.split(",").map((part) => integer(name, part.trim(), min, max));

  const nodes = integer("--nodes", values.nodes ?? env.BENCH_NODES ?? "10", 1, LIMITS.nodes);
  const concurrency = list(
    "--concurrency",
    values.concurrency ?? env.BENCH_CONCURRENCY ?? "1,32",
    1,
    LIMITS.concurrency,
  );
  const requestsText = values.requests ?? env.BENCH_REQUESTS;
  // A sequential phase needs fewer requests for stable percentiles and takes longer per request.
  const requests =
    requestsText === undefined
      ? concurrency.map((c) => (c === 1 ? 2000 : 5000))
      : list("--requests", requestsText, 1, LIMITS.requests);
  if (requests.length !== 1 && requests.length !== concurrency.length) {
    throw new UsageError(`--requests needs one value or one per concurrency level (${concurrency.length})`);
  }
  const warmup = integer("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "1000", 0, LIMITS.warmup);
  const systemsText = values.systems ?? env.BENCH_SYSTEMS ?? SYSTEMS.join(",");
  const systems = systemsText.split(",").map((s) => s.trim());
  for (const system of systems) {
    if (!(SYSTEMS as readonly string[]).includes(system)) {
      throw new UsageError(`unknown system "${system}" (known: ${SYSTEMS.join(", ")})`);
    }
  }
  const phaseTimeout = integer("--phase-timeout", values["phase-timeout"] ?? env.BENCH_PHASE_TIMEOUT ?? "120", 5, 3600);
  return {
    nodes,
    levels: concurrency.map((c, i) => ({
      concurrency: c,
      requests: (requests.length === 1 ? requests[0] : requests[i]) as number,
    })),
    warmup,
    // Run order is fixed (floor/aedes first, see main), whatever order the list was given in.
    systems: SYSTEMS.filter((s) => systems.includes(s)),
    phaseTimeoutMs: phaseTimeout * 1000,
    writeJson: !values["no-json"],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

interface PhaseResult {
  system: SystemName;
  concurrency: number;
  requests: number;
  warmup: number;
  durationMs: number;
  commandsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  errors: number;
  errorSamples: string[];
  rssStartMiB: number;
  rssPeakMiB: number;
  /** This process's CPU time (user + system) over wall time: 100 means one core busy the whole phase. */
  cpuPercent: number;
  /** The same for the mosquitto child, when one runs (Linux only, else null). */
  brokerCpuPercent: number | null;
  /** Everything else the machine ran meanwhile (Linux only): other processes compete for the same cores. */
  otherCpuPercent: number | null;
  /** Time the hypervisor gave this VM's CPUs to someone else (Linux only). */
  stealPercent: number | null;
}

/** Sends request number `i`; resolves when its answer is complete and correct, rejects otherwise. */
type Issue = (i: number) => Promise<void>;

/** Samples the process RSS on a timer, because the peak during a phase is what a small host must hold. */
class RssSampler {
  private peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
  readonly start = this.peak;

  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** CPU time counters read from /proc (Linux), in clock ticks. */
interface ProcTicks {
  busy: number;
  steal: number;
  total: number;
  broker: number | undefined;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

function readProcTicks(brokerPid: number | undefined): ProcTicks | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    let broker: number | undefined;
    if (brokerPid !== undefined) {
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
      const stat = readFileSync(`/proc/${brokerPid}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      broker = Number(rest[11]) + Number(rest[12]);
    }
    return {
      busy: user + nice + system + irq + softirq,
      steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      broker,
    };
  } catch {
    return undefined;
  }
}

/** The pid of this process's child running `command` (the mosquitto the test helper spawned), if any. */
function findChildPid(command: string): number | undefined {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (name === command && ppid === process.pid) return Number(entry);
      } catch {
        // the process ended while the list was read
      }
    }
  } catch {
    // no /proc: not Linux
  }
  return undefined;
}

/**
 * Splits the CPU used during a phase into this process, the broker child and everything else on the machine.
 * On a shared 2-core machine a busy neighbour changes every figure, so the table shows how much there was.
 */
class CpuMeter {
  private readonly self = process.cpuUsage();
  private readonly proc: ProcTicks | undefined;
  private readonly started = performance.now();

  constructor(private readonly brokerPid: number | undefined) {
    this.proc = readProcTicks(brokerPid);
  }

  stop(): { self: number; broker: number | null; other: number | null; steal: number | null } {
    const wallMs = performance.now() - this.started;
    const selfUsage = process.cpuUsage(this.self);
    const self = ((selfUsage.user + selfUsage.system) / 1000 / wallMs) * 100;
    const start = this.proc;
    const end = readProcTicks(this.brokerPid);
    if (!start || !end || end.total <= start.total) return { self, broker: null, other: null, steal: null };
    // /proc/stat totals are summed over all CPUs, so the share of all ticks times the CPU count is in cores.
    const cores = (ticks: number) => (ticks / (end.total - start.total)) * cpus().length * 100;
    const busy = cores(end.busy - start.busy);
    const broker =
      end.broker !== undefined && start.broker !== undefined
        ? (((end.broker - start.broker) / CLOCK_TICKS_PER_SECOND) * 1000 * 100) / wallMs
        : null;
    return { self, broker, other: Math.max(0, busy - self - (broker ?? 0)), steal: cores(end.steal - start.steal) };
  }
}

interface LoadOutcome {
  latencies: Float64Array;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
}

/**
 * A closed loop: `concurrency` workers each send a request, wait for its answer and send the next, until
 * `total` requests were sent. Every request's latency counts, failed ones included (a timeout shows in max).
 */
async function runLoad(
  total: number,
  concurrency: number,
  first: number,
  issue: Issue,
  timeoutMs: number,
): Promise<LoadOutcome> {
  const latencies = new Float64Array(total);
  const errorSamples: string[] = [];
  let errors = 0;
  let next = 0;
  let abandoned = false;
  const worker = async () => {
    while (!abandoned && next < total) {
      const index = next++;
      const started = performance.now();
      try {
        await issue(first + index);
      } catch (error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push((error as Error).message);
      }
      latencies[index] = performance.now() - started;
    }
  };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandoned = true;
      reject(new Error(`a phase of ${total} requests took longer than ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker)), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return { latencies, errors, errorSamples, elapsedMs: performance.now() - started };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** Warm-up (not measured), then the measured phase, at one concurrency level. */
async function measure(
  system: SystemName,
  level: { concurrency: number; requests: number },
  options: Options,
  counter: { next: number },
  issue: Issue,
  brokerPid?: number,
): Promise<PhaseResult> {
  if (options.warmup > 0) {
    const warm = await runLoad(options.warmup, level.concurrency, counter.next, issue, options.phaseTimeoutMs);
    counter.next += options.warmup;
    if (warm.errors > 0)
      throw new Error(`${system}: ${warm.errors} warm-up requests failed, first: ${warm.errorSamples[0]}`);
  }
  const rss = new RssSampler();
  const meter = new CpuMeter(brokerPid);
  let outcome: LoadOutcome;
  let rssPeak: number;
  try {
    outcome = await runLoad(level.requests, level.concurrency, counter.next, issue, options.phaseTimeoutMs);
  } finally {
    rssPeak = rss.stop();
  }
  const cpu = meter.stop();
  const percent = (value: number | null) => (value === null ? null : round(value, 0));
  counter.next += level.requests;
  const sorted = outcome.latencies.slice().sort();
  const sum = outcome.latencies.reduce((a, b) => a + b, 0);
  return {
    system,
    concurrency: level.concurrency,
    requests: level.requests,
    warmup: options.warmup,
    durationMs: round(outcome.elapsedMs, 1),
    commandsPerSecond: round((level.requests / outcome.elapsedMs) * 1000, 0),
    p50Ms: round(percentile(sorted, 50), 3),
    p90Ms: round(percentile(sorted, 90), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
    meanMs: round(sum / level.requests, 3),
    errors: outcome.errors,
    errorSamples: outcome.errorSamples,
    rssStartMiB: round(rss.start / MIB, 1),
    rssPeakMiB: round(rssPeak / MIB, 1),
    cpuPercent: round(cpu.self, 0),
    brokerCpuPercent: percent(cpu.broker),
    otherCpuPercent: percent(cpu.other),
    stealPercent: percent(cpu.steal),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

/** Alternates each light between two brightness levels, so every command changes state on its device. */
function commandParams(i: number, nodes: number): { on: true; brightness: number } {
  return { on: true, brightness: Math.floor(i / nodes) % 2 === 0 ? 30 : 70 };
}

function nodeIds(count: number): string[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `bench-${String(i + 1).padStart(Math.max(2, width), "0")}`);
}

/** One keep-alive HTTP POST; resolves only for a 200 carrying the confirmed brightness. */
function postCommand(agent: http.Agent, base: URL, token: string, nodeId: string, brightness: number): Promise<void> {
  const body = JSON.stringify({ params: { on: true, brightness } });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: "POST",
        path: `/api/v1/devices/${nodeId}.light/commands`,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        timeout: CLIENT_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (response.statusCode !== 200) {
            reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            const parsed = JSON.parse(text) as { status?: string; state?: { brightness?: number } };
            if (parsed.status !== "ok" || parsed.state?.brightness !== brightness) {
              reject(new Error(`unexpected answer: ${text.slice(0, 200)}`));
              return;
            }
          } catch {
            reject(new Error(`answer is not JSON: ${text.slice(0, 200)}`));
            return;
          }
          resolve();
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no HTTP answer within ${CLIENT_TIMEOUT_MS} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Cleanups {
  add(name: string, stop: () => Promise<void> | void): void;
}

interface HearthRig {
  bridge: TestBridge;
  /** The mosquitto child's pid, for its CPU figures. */
  brokerPid: number | undefined;
  fleet: SimFleet;
  credentials: Array<{ nodeId: string; password: string }>;
  token: string;
}

async function startHearth(kind: BrokerKind, options: Options, cleanups: Cleanups): Promise<HearthRig> {
  const bridge = await TestBridge.start(kind, {
    // warn: request logs at info would cost more than the command itself; warnings still show problems.
    settings: { logLevel: "warn", "commands.timeoutMs": COMMAND_TIMEOUT_MS },
  });
  cleanups.add(`hearth/${kind} daemon`, () => bridge.stop());
  const credentials: Array<{ nodeId: string; password: string }> = [];
  for (const nodeId of nodeIds(options.nodes)) {
    const { password } = await bridge.addNode(nodeId);
    credentials.push({ nodeId, password });
  }
  const fleet = await SimFleet.start({ url: bridge.mqttUrl, nodes: credentials, devices: ["light"] });
  cleanups.add(`hearth/${kind} simulated nodes`, () => fleet.stop());
  const store = bridge.daemon.store;
  await waitUntil(
    () => credentials.every(({ nodeId }) => store.devices.get(`${nodeId}.light`)?.online === true),
    ONLINE_TIMEOUT_MS,
    `${options.nodes} simulated lights to be online in hearth/${kind}`,
  );
  const token = store.adminTokens.create("bench", Date.now()).token;
  const brokerPid = kind === "mosquitto" ? findChildPid("mosquitto") : undefined;
  return { bridge, brokerPid, fleet, credentials, token };
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
        return postCommand(agent, base, rig.token, nodeId, commandParams(i, ids.length).brightness);
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

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Progress on stderr, so stdout holds only the final table. */
function report(result: PhaseResult): PhaseResult {
  process.stderr.write(
    `  ${result.system} c=${result.concurrency}: ${result.commandsPerSecond} cmd/s, p50 ${result.p50Ms} ms, ` +
      `p99 ${result.p99Ms} ms, errors ${result.errors}\n`,
  );
  return result;
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

function machine(mosquittoVersion: string | undefined) {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? "unknown",
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    mosquitto: mosquittoVersion ?? null,
    loadGenerator: "in-process (same event loop as the daemon, the simulated nodes and the floor clients)",
  };
}

function mosquittoVersionOf(logs: string): string | undefined {
  return /mosquitto version (\S+) running/.exec(logs)?.[1];
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

  const stack: Array<{ name: string; stop: () => Promise<void> | void }> = [];
  const cleanups: Cleanups = { add: (name, stop) => stack.push({ name, stop }) };
  /** Stops everything started so far, newest first; a failure to stop is reported but does not stop the rest. */
  const unwind = async (downTo = 0) => {
    while (stack.length > downTo) {
      const entry = stack.pop() as { name: string; stop: () => Promise<void> | void };
      let timer: NodeJS.Timeout | undefined;
      const tooSlow = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not stopped within ${STOP_TIMEOUT_MS / 1000} s`)), STOP_TIMEOUT_MS);
      });
      try {
        await Promise.race([entry.stop(), tooSlow]);
      } catch (error) {
        process.stderr.write(`warning: could not stop ${entry.name}: ${(error as Error).message}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping\n`);
    void unwind().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

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
      const mark = stack.length;
      const url = await startBareAedes(cleanups);
      const floor = await FloorRig.start(
        url,
        {},
        ids.map((nodeId) => ({ nodeId })),
        cleanups,
      );
      results.push(...(await benchFloor("floor/aedes", floor, options)));
      await unwind(mark);
    }
    if (wanted.has("hearth/embedded")) {
      const mark = stack.length;
      const rig = await startHearth("embedded", options, cleanups);
      hearthLogs = rig.bridge;
      results.push(...(await benchHearth("hearth/embedded", rig, options)));
      await unwind(mark);
    }
    if (wanted.has("hearth/mosquitto") || wanted.has("floor/mosquitto")) {
      const mark = stack.length;
      // One mosquitto for both: Hearth first, then, with the daemon and its nodes stopped, the floor logs in
      // with the same accounts (the bridge's and the nodes') and goes through the same ACL.
      const rig = await startHearth("mosquitto", options, cleanups);
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
          cleanups,
        );
        results.push(...(await benchFloor("floor/mosquitto", floor, options, rig.brokerPid)));
      }
      await unwind(mark);
    }
  } catch (error) {
    // What the daemon logged before the failure, not the noise of requests cut short by the shutdown.
    const logged = [...(hearthLogs?.logs.raw ?? [])];
    await unwind();
    process.stderr.write(`\nbench failed: ${(error as Error).message}\n`);
    if (logged.length > 0) process.stderr.write(`last daemon log lines:\n${logged.slice(-10).join("\n")}\n`);
    return 1;
  }
  await unwind();

  const order = (r: PhaseResult) => SYSTEMS.indexOf(r.system) * 1000 + r.concurrency;
  results.sort((a, b) => order(a) - order(b));
  const ratioRows = ratios(results);
  const info = machine(mosquittoVersion);
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
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const file = join(RESULTS_DIR, `command-roundtrip-${stamp}.json`);
    await mkdir(RESULTS_DIR, { recursive: true });
    const json = {
      benchmark: "command-roundtrip",
      finishedAt: new Date().toISOString(),
      machine: info,
      options,
      results,
      ratios: ratioRows,
    };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nresults written to ${relative(process.cwd(), file)}\n`);
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
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
