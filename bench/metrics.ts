/**
 * What the metrics cost: the command round trip of `npm run bench` (admin API → MQTT → simulated node → answer)
 * on two daemons of the same run, one with metrics on and one with `metrics.enabled: false`, taking turns in
 * blocks so that whatever else the machine does hits both alike. The metrics daemon is scraped, with its bearer
 * token, every `--scrape-interval` ms while its own blocks run (1 s by default: fifteen times Prometheus' usual
 * pace), so the scrapes are part of its figures. Then the scrape itself is timed on its own.
 *
 *   metrics/off  POST /api/v1/devices/<node>.light/commands on the daemon without metrics.
 *   metrics/on   the same on the daemon with metrics: the request log's observer, the command's round trip from
 *                the bus, the node and device gauges read at each scrape, and prom-client's default metrics
 *                (event-loop delay sampled every 10 ms, GC observer).
 *
 * Both daemons, their simulated nodes and the load generator run in this one process, as in the other benchmarks;
 * the event-loop monitor and GC observer of the metrics daemon are process-wide, so the `off` figures carry their
 * (small) share too. Run with `npm run bench:metrics -- --help`.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Request, Response } from "express";
import { EventBus } from "../src/bus.ts";
import { Metrics } from "../src/metrics/index.ts";
import { openDatabase, Store } from "../src/store/index.ts";
import type { TestBridge } from "../test/helpers/bridge.ts";
import {
  abortRun,
  benchCommands,
  COMMAND_COLUMNS,
  type CommandResult,
  commandRow,
  exitCodeOf,
  type HttpAnswer,
  httpRequest,
  type Issue,
  integer,
  Lights,
  LOAD_LIMITS,
  loadOptions,
  MIB,
  machine,
  optionsOrExit,
  percentile,
  phaseTimeoutOption,
  postCommand,
  RssSampler,
  ratioFigures,
  round,
  roundsOption,
  runMain,
  startHearth,
  Teardown,
  table,
  writeResults,
} from "./common.ts";

const SYSTEMS = ["metrics/off", "metrics/on"] as const;
type SystemName = (typeof SYSTEMS)[number];
const TOKEN = "bench-metrics-token-0123456789abcdef";
/** Calls of each hook timed on its own at the end. */
const HOOK_CALLS = 200_000;
const LIMITS = { ...LOAD_LIMITS, rounds: 1000, scrapeIntervalMs: 60_000, scrapes: 10_000 };

const HELP = `Usage: npm run bench:metrics -- [options]

The command round trip with metrics on and off, on two daemons of the same run (embedded broker), in turns.

Options (each also readable from the environment variable shown):
  --nodes N              simulated nodes per daemon, one light each (BENCH_NODES, default 10, max ${LIMITS.nodes})
  --concurrency LIST     requests in flight, comma separated (BENCH_CONCURRENCY, default 1,32, max ${LIMITS.concurrency})
  --requests LIST        measured requests per daemon and concurrency level, one value for all levels or one per
                         level (BENCH_REQUESTS, default 2000 at c=1 and 5000 above, max ${LIMITS.requests})
  --warmup N             unmeasured requests per daemon before each level (BENCH_WARMUP, default 1000)
  --rounds N             measured blocks per daemon and level, in turns (BENCH_ROUNDS, default 10, max ${LIMITS.rounds})
  --scrape-interval MS   scrape the metrics daemon this often during its blocks; 0: never
                         (BENCH_SCRAPE_INTERVAL, default 1000)
  --scrapes N            sequential scrapes timed at the end (BENCH_SCRAPES, default 200; 0: none)
  --control              both daemons without metrics and no scrapes: what the ratios are when nothing differs,
                         the noise floor of this machine
  --phase-timeout S      a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json              do not write bench/results/metrics-<timestamp>.json
  -h, --help             this text

The run exits non-zero if anything fails to start or any request or scrape fails.`;

interface Options {
  nodes: number;
  levels: Array<{ concurrency: number; requests: number }>;
  warmup: number;
  rounds: number;
  scrapeIntervalMs: number;
  scrapes: number;
  control: boolean;
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
      "scrape-interval": { type: "string" },
      scrapes: { type: "string" },
      control: { type: "boolean" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const { nodes, levels, warmup } = loadOptions(values, env);
  const control = values.control === true;
  return {
    nodes,
    levels,
    warmup,
    rounds: roundsOption(values.rounds ?? env.BENCH_ROUNDS ?? "10", env, levels, LIMITS.rounds),
    scrapeIntervalMs: control
      ? 0
      : integer(
          "--scrape-interval",
          values["scrape-interval"] ?? env.BENCH_SCRAPE_INTERVAL ?? "1000",
          0,
          LIMITS.scrapeIntervalMs,
        ),
    scrapes: control ? 0 : integer("--scrapes", values.scrapes ?? env.BENCH_SCRAPES ?? "200", 0, LIMITS.scrapes),
    control,
    phaseTimeoutMs: phaseTimeoutOption(values["phase-timeout"], env),
    writeJson: !values["no-json"],
  };
}

/** Scrapes of the metrics daemon: started from the load's own requests, never awaited by them. */
class Scraper {
  count = 0;
  failures: string[] = [];
  private last = performance.now();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly agent: http.Agent,
    readonly base: URL,
    private readonly intervalMs: number,
  ) {}

  /** Starts a scrape when the last one is `intervalMs` old. */
  tick(): void {
    if (this.intervalMs === 0 || performance.now() - this.last < this.intervalMs) return;
    this.last = performance.now();
    const scrape = this.scrape()
      .then(() => {
        this.count++;
      })
      .catch((error: unknown) => {
        this.failures.push((error as Error).message);
      })
      .finally(() => this.running.delete(scrape));
    this.running.add(scrape);
  }

  /** One scrape, checked to be the exposition text with the command metrics in it. */
  async scrape(): Promise<HttpAnswer> {
    const answer = await httpRequest(this.agent, this.base, {
      method: "GET",
      path: "/metrics",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    if (answer.status !== 200 || !answer.text.includes("hearth_command_roundtrip_seconds_count")) {
      throw new Error(`scrape answered HTTP ${answer.status}: ${answer.text.slice(0, 120)}`);
    }
    return answer;
  }

  async settle(): Promise<void> {
    await Promise.all([...this.running]);
  }
}

interface ScrapeTiming {
  scrapes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bytes: number;
  series: number;
}

/** Sequential scrapes after the load, with the series the load left behind. */
async function timeScrapes(scraper: Scraper, count: number): Promise<ScrapeTiming> {
  const latencies = new Float64Array(count);
  let last: HttpAnswer | undefined;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    last = await scraper.scrape();
    latencies[i] = performance.now() - started;
  }
  const sorted = latencies.slice().sort();
  const bytes = last?.bytes ?? 0;
  const series = (last?.text ?? "").split("\n").filter((line) => line !== "" && !line.startsWith("#")).length;
  return {
    scrapes: count,
    p50Ms: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
    bytes,
    series,
  };
}

/** In a control run neither daemon has metrics: the rows are named for what they are. */
function controlName(system: SystemName): string {
  return system === "metrics/off" ? "control/a" : "control/b";
}

interface HookTiming {
  hook: string;
  calls: number;
  nsPerCall: number;
}

/**
 * The hooks on their own, on a registry of their own: what a request and a command add to the daemon's work,
 * without the noise of the whole round trip around them.
 */
function timeHooks(calls: number): HookTiming[] {
  const store = new Store(openDatabase(":memory:"));
  const bus = new EventBus();
  const metrics = new Metrics({ bus, store, mqttConnected: () => true, version: "bench" });
  metrics.start();
  const req = { originalUrl: "/api/v1/devices/bench-01.light/commands" } as Request;
  const res = { statusCode: 200, locals: {} } as unknown as Response;
  const event = {
    commandId: "c",
    deviceId: "bench-01.light",
    actor: "admin:bench",
    status: "ok" as const,
    latencyMs: 2,
    attempts: 1,
    at: 0,
  };
  const hooks: Array<[string, () => void]> = [
    ["HTTP request (request log observer)", () => metrics.httpRequest(req, res, 0.0023)],
    ["command result (bus listener)", () => bus.emit("command.result", event)],
    ["Alexa directive (route hook)", () => metrics.alexaDirective("Alexa.PowerController", "TurnOn", "ok", 0.003)],
  ];
  const timings = hooks.map(([hook, call]) => {
    for (let i = 0; i < calls / 10; i++) call();
    const started = performance.now();
    for (let i = 0; i < calls; i++) call();
    return { hook, calls, nsPerCall: round(((performance.now() - started) * 1e6) / calls, 0) };
  });
  metrics.stop();
  store.close();
  return timings;
}

interface Ratio {
  concurrency: number;
  throughput: number;
  p50: number;
  p99: number;
  cpu: number;
  p50DeltaMs: number;
}

function ratios(results: ReadonlyArray<CommandResult<SystemName>>): Ratio[] {
  const out: Ratio[] = [];
  for (const on of results.filter((r) => r.system === "metrics/on")) {
    const off = results.find((r) => r.system === "metrics/off" && r.concurrency === on.concurrency);
    if (!off) continue;
    out.push({ concurrency: on.concurrency, ...ratioFigures(on, off, 3) });
  }
  return out;
}

async function run(options: Options): Promise<number> {
  const teardown = new Teardown();
  teardown.stopOnSignals();
  const processRss = new RssSampler();
  teardown.add("RSS sampler", () => {
    processRss.stop();
  });
  const levelText = options.levels.map((l) => `c=${l.concurrency}×${l.requests}`).join(", ");
  process.stderr.write(
    `Metrics on and off: ${options.nodes} nodes per daemon, warm-up ${options.warmup}, ${levelText}, ` +
      `${options.rounds} rounds, a scrape every ${options.scrapeIntervalMs} ms\n`,
  );

  let results: Array<CommandResult<SystemName>>;
  let timing: ScrapeTiming | undefined;
  let scraper: Scraper;
  let logs: TestBridge | undefined;
  const scrapeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  teardown.add("scrape agent", () => scrapeAgent.destroy());
  try {
    const off = await startHearth("embedded", options.nodes, teardown, { "metrics.enabled": false });
    logs = off.bridge;
    const on = await startHearth(
      "embedded",
      options.nodes,
      teardown,
      options.control ? { "metrics.enabled": false } : { "metrics.token": TOKEN },
    );
    logs = on.bridge;
    if (off.bridge.daemon.metrics !== undefined || (on.bridge.daemon.metrics === undefined) !== options.control) {
      throw new Error("the daemons do not have metrics as the benchmark set them");
    }
    scraper = new Scraper(scrapeAgent, new URL(on.bridge.httpUrl), options.scrapeIntervalMs);
    const rigs = { "metrics/off": off, "metrics/on": on } as const;
    const lights = { "metrics/off": new Lights(options.nodes), "metrics/on": new Lights(options.nodes) };
    const issuer = (system: SystemName, agent: http.Agent): Issue => {
      const rig = rigs[system];
      const base = new URL(rig.bridge.httpUrl);
      const deviceIds = rig.credentials.map(({ nodeId }) => `${nodeId}.light`);
      const light = lights[system];
      return (i) => {
        if (system === "metrics/on") scraper.tick();
        const n = i % deviceIds.length;
        return postCommand(agent, base, rig.token, deviceIds[n] as string, light.nextBrightness(n));
      };
    };
    results = await benchCommands("embedded", SYSTEMS, issuer, options, undefined);
    await scraper.settle();
    if (options.scrapes > 0) timing = await timeScrapes(scraper, options.scrapes);
  } catch (error) {
    return abortRun(error, teardown, logs);
  }
  await teardown.unwind();
  const peakRssMiB = round(processRss.stop() / MIB, 1);

  const ratioRows = ratios(results);
  const hookTimings = timeHooks(HOOK_CALLS);
  const info = machine(undefined, "in-process (same event loop as both daemons and their simulated nodes)");
  const lines = [
    "",
    `${options.control ? "Control, both daemons without metrics" : "Metrics on and off"} — ` +
      `${info.cpus} × ${info.cpuModel}, Node ${info.node}; embedded broker, ` +
      `${options.nodes} nodes of one light per daemon, warm-up ${options.warmup}, ${options.rounds} rounds in turns`,
    "",
    table(
      COMMAND_COLUMNS,
      results.map((r) => {
        const [system, ...cells] = commandRow(r);
        return [options.control ? controlName(r.system) : (system as string), ...cells];
      }),
    ),
    "",
    table(
      [options.control ? "B / A" : "on / off", "c", "throughput", "p50", "p99", "CPU/cmd", "p50 +ms"],
      ratioRows.map((r) => [
        options.control ? controlName("metrics/on") : "metrics/on",
        String(r.concurrency),
        `${r.throughput.toFixed(3)}×`,
        `${r.p50.toFixed(3)}×`,
        `${r.p99.toFixed(3)}×`,
        `${r.cpu.toFixed(3)}×`,
        r.p50DeltaMs.toFixed(3),
      ]),
    ),
    "",
    `Scrapes during the metrics daemon's blocks: ${scraper.count} (every ${options.scrapeIntervalMs} ms), ` +
      `${scraper.failures.length} failed`,
  ];
  if (timing) {
    lines.push(
      `Scrape on its own: ${timing.scrapes} sequential, p50 ${timing.p50Ms} ms, p99 ${timing.p99Ms} ms, ` +
        `max ${timing.maxMs} ms; ${timing.bytes} bytes, ${timing.series} samples`,
    );
  }
  lines.push(
    "",
    table(
      ["hook", "calls", "ns/call"],
      hookTimings.map((t) => [t.hook, String(t.calls), String(t.nsPerCall)]),
    ),
    "",
    `Peak RSS of the process over the whole run: ${peakRssMiB.toFixed(0)} MiB`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const file = await writeResults("metrics", {
      benchmark: "metrics",
      finishedAt: new Date().toISOString(),
      machine: info,
      options,
      results,
      ratios: ratioRows,
      scrapesDuringLoad: { count: scraper.count, failures: scraper.failures.slice(0, 5) },
      scrapeTiming: timing ?? null,
      hooks: hookTimings,
      peakRssMiB,
    });
    process.stdout.write(`\nresults written to ${file}\n`);
  }
  for (const failure of scraper.failures.slice(0, 5)) process.stderr.write(`scrape failed: ${failure}\n`);
  return Math.max(exitCodeOf(results), scraper.failures.length > 0 ? 1 : 0);
}

runMain(async () => {
  const parsed = optionsOrExit(() => parseOptions(process.argv.slice(2), process.env), HELP);
  if (typeof parsed === "number") return parsed;
  return run(parsed);
});
