/**
 * What the benchmarks share: option parsing helpers, the closed-loop load runner, percentiles, RSS and CPU
 * meters, a keep-alive HTTP client, a daemon with simulated lights, an assistant's commands measured against
 * the core command path, a house of many devices and what listing it costs, the teardown of everything a run
 * started, the results tables and the results file, and an assistant's benchmark from its command line to its
 * exit code.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DeviceType } from "../src/model/index.ts";
import { type DeviceTemplate, deviceTemplate, SimFleet, SimNode } from "../src/sim/index.ts";
import { type BrokerKind, TestBridge } from "../test/helpers/bridge.ts";

/** The daemon answers a command within `commands.timeoutMs`; the client allows some more before giving up. */
export const COMMAND_TIMEOUT_MS = 5_000;
export const CLIENT_TIMEOUT_MS = COMMAND_TIMEOUT_MS + 5_000;
export const ONLINE_TIMEOUT_MS = 20_000;
/** A component that does not stop within this is reported and left to the process exit. */
export const STOP_TIMEOUT_MS = 10_000;
const RSS_SAMPLE_MS = 50;
export const MIB = 1024 * 1024;
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

// ---------------------------------------------------------------------------------------------------------------
// Options

/** A bad option: the run prints it with the help text and exits with 2. */
export class UsageError extends Error {}

export function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return value;
}

export function list(name: string, text: string, min: number, max: number): number[] {
  return text.split(",").map((part) => integer(name, part.trim(), min, max));
}

/** A comma-separated subset of `known`, each named once, in the order of `known`. */
export function subset<T extends string>(name: string, text: string, known: readonly T[]): T[] {
  const wanted = text.split(",").map((s) => s.trim());
  for (const item of wanted) {
    if (!(known as readonly string[]).includes(item)) {
      throw new UsageError(`unknown ${name} "${item}" (known: ${known.join(", ")})`);
    }
  }
  return known.filter((k) => wanted.includes(k));
}

export interface Level {
  concurrency: number;
  requests: number;
}

/**
 * Concurrency levels with their measured requests: `requestsText` holds one value for all levels or one per
 * level; without it each level gets `defaultRequests(concurrency)`.
 */
export function parseLevels(
  concurrency: number[],
  requestsText: string | undefined,
  defaultRequests: (concurrency: number) => number,
  maxRequests: number,
): Level[] {
  const requests =
    requestsText === undefined ? concurrency.map(defaultRequests) : list("--requests", requestsText, 1, maxRequests);
  if (requests.length !== 1 && requests.length !== concurrency.length) {
    throw new UsageError(`--requests needs one value or one per concurrency level (${concurrency.length})`);
  }
  return concurrency.map((c, i) => ({
    concurrency: c,
    requests: (requests.length === 1 ? requests[0] : requests[i]) as number,
  }));
}

/** The load both command benchmarks take: nodes, concurrency levels, requests per level, warm-up. */
export const LOAD_LIMITS = { nodes: 200, concurrency: 256, requests: 100_000, warmup: 20_000 };

export interface LoadOptions {
  nodes: number;
  levels: Level[];
  warmup: number;
}

/** `defaults.concurrency`: the levels without --concurrency or BENCH_CONCURRENCY, "1,32" unless given. */
export function loadOptions(
  values: { nodes?: string; concurrency?: string; requests?: string; warmup?: string },
  env: NodeJS.ProcessEnv,
  defaults: { concurrency?: string } = {},
): LoadOptions {
  const nodes = integer("--nodes", values.nodes ?? env.BENCH_NODES ?? "10", 1, LOAD_LIMITS.nodes);
  const concurrency = list(
    "--concurrency",
    values.concurrency ?? env.BENCH_CONCURRENCY ?? defaults.concurrency ?? "1,32",
    1,
    LOAD_LIMITS.concurrency,
  );
  // A sequential phase needs fewer requests for stable percentiles and takes longer per request.
  const levels = parseLevels(
    concurrency,
    values.requests ?? env.BENCH_REQUESTS,
    (c) => (c === 1 ? 2000 : 5000),
    LOAD_LIMITS.requests,
  );
  const warmup = integer("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "1000", 0, LOAD_LIMITS.warmup);
  return { nodes, levels, warmup };
}

/** Blocks per system and level in an interleaved measurement; each block needs at least one request. */
export function roundsOption(text: string | undefined, env: NodeJS.ProcessEnv, levels: readonly Level[], max: number) {
  const rounds = integer("--rounds", text ?? env.BENCH_ROUNDS ?? "5", 1, max);
  const fewest = Math.min(...levels.map((l) => l.requests));
  if (rounds > fewest) throw new UsageError(`--rounds (${rounds}) must not exceed the fewest --requests (${fewest})`);
  return rounds;
}

/** How long a warm-up or block may take, in ms. */
export function phaseTimeoutOption(text: string | undefined, env: NodeJS.ProcessEnv): number {
  return integer("--phase-timeout", text ?? env.BENCH_PHASE_TIMEOUT ?? "120", 5, 3600) * 1000;
}

/**
 * Parses a benchmark's options; a bad one is printed with the help text (exit code 2), `--help` prints the
 * help text (exit code 0). Returns the options, or the exit code.
 */
export function optionsOrExit<O>(parse: () => O | undefined, help: string): O | number {
  let options: O | undefined;
  try {
    options = parse();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${help}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

export interface PhaseResult<S extends string = string> {
  system: S;
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
export type Issue = (i: number) => Promise<void>;

/** Samples the process RSS on a timer, because the peak during a phase is what a small host must hold. */
export class RssSampler {
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
export function findChildPid(command: string): number | undefined {
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

/** What one measured block of requests used: wall time, this process's CPU, the broker's, the machine's. */
export interface CpuSample {
  wallMs: number;
  selfMs: number;
  /** null when there is no broker child or no /proc. */
  brokerMs: number | null;
  /** Machine-wide ticks from /proc/stat (null without it). */
  ticks: { busy: number; steal: number; total: number } | null;
}

/**
 * Measures the CPU used during one block of requests, split into this process, the broker child and everything
 * else on the machine. On a shared 2-core machine a busy neighbour changes every figure, so the table shows how
 * much there was.
 */
export class CpuMeter {
  private readonly self = process.cpuUsage();
  private readonly proc: ProcTicks | undefined;
  private readonly started = performance.now();

  constructor(private readonly brokerPid: number | undefined) {
    this.proc = readProcTicks(brokerPid);
  }

  stop(): CpuSample {
    const wallMs = performance.now() - this.started;
    const selfUsage = process.cpuUsage(this.self);
    const selfMs = (selfUsage.user + selfUsage.system) / 1000;
    const start = this.proc;
    const end = readProcTicks(this.brokerPid);
    if (!start || !end || end.total <= start.total) return { wallMs, selfMs, brokerMs: null, ticks: null };
    const brokerMs =
      end.broker !== undefined && start.broker !== undefined
        ? ((end.broker - start.broker) / CLOCK_TICKS_PER_SECOND) * 1000
        : null;
    const ticks = { busy: end.busy - start.busy, steal: end.steal - start.steal, total: end.total - start.total };
    return { wallMs, selfMs, brokerMs, ticks };
  }
}

/** CPU percentages over one or more blocks: 100 = one core busy for the blocks' whole wall time. */
export function cpuPercents(samples: readonly CpuSample[]): {
  self: number;
  broker: number | null;
  other: number | null;
  steal: number | null;
} {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const wallMs = sum(samples.map((s) => s.wallMs));
  const self = (sum(samples.map((s) => s.selfMs)) / wallMs) * 100;
  if (samples.some((s) => s.ticks === null)) return { self, broker: null, other: null, steal: null };
  const ticks = samples.map((s) => s.ticks as NonNullable<CpuSample["ticks"]>);
  const total = sum(ticks.map((t) => t.total));
  // /proc/stat totals are summed over all CPUs, so the share of all ticks times the CPU count is in cores.
  const cores = (part: number) => (part / total) * cpus().length * 100;
  const busy = cores(sum(ticks.map((t) => t.busy)));
  const broker = samples.every((s) => s.brokerMs !== null)
    ? (sum(samples.map((s) => s.brokerMs as number)) * 100) / wallMs
    : null;
  return {
    self,
    broker,
    other: Math.max(0, busy - self - (broker ?? 0)),
    steal: cores(sum(ticks.map((t) => t.steal))),
  };
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
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** Warm-up (not measured), then the measured phase, at one concurrency level. */
export async function measure<S extends string>(
  system: S,
  level: Level,
  options: { warmup: number; phaseTimeoutMs: number },
  counter: { next: number },
  issue: Issue,
  brokerPid?: number,
): Promise<PhaseResult<S>> {
  const [result] = await measureInterleaved([{ system, counter, issue }], level, { ...options, rounds: 1 }, brokerPid);
  return result as PhaseResult<S>;
}

/** One system of an interleaved measurement: its requests and where its request numbers continue. */
export interface Contender<S extends string> {
  system: S;
  counter: { next: number };
  issue: Issue;
}

/**
 * Several systems measured against each other at one concurrency level: each warms up, then the measured
 * requests run in `rounds` blocks that take turns (A, B, C, A, B, C…), so that a neighbour's burst of CPU on a
 * shared machine lands on every system alike instead of on whichever ran at the time. A block is a closed loop
 * of its own; each system's figures are over all of its blocks.
 */
export async function measureInterleaved<S extends string>(
  contenders: ReadonlyArray<Contender<S>>,
  level: Level,
  options: { warmup: number; phaseTimeoutMs: number; rounds: number },
  brokerPid?: number,
): Promise<Array<PhaseResult<S>>> {
  if (options.warmup > 0) {
    for (const { system, counter, issue } of contenders) {
      const warm = await runLoad(options.warmup, level.concurrency, counter.next, issue, options.phaseTimeoutMs);
      counter.next += options.warmup;
      if (warm.errors > 0)
        throw new Error(`${system}: ${warm.errors} warm-up requests failed, first: ${warm.errorSamples[0]}`);
    }
  }
  const rounds = Math.max(1, Math.min(options.rounds, level.requests));
  const blockSize = (turn: number) =>
    Math.floor(((turn + 1) * level.requests) / rounds) - Math.floor((turn * level.requests) / rounds);
  const measured = contenders.map(() => ({
    latencies: new Float64Array(level.requests),
    filled: 0,
    errors: 0,
    errorSamples: [] as string[],
    elapsedMs: 0,
    cpu: [] as CpuSample[],
    rssStart: 0,
    rssPeak: 0,
  }));
  for (let turn = 0; turn < rounds; turn++) {
    for (const [index, { counter, issue }] of contenders.entries()) {
      const into = measured[index] as (typeof measured)[number];
      const size = blockSize(turn);
      const rss = new RssSampler();
      const meter = new CpuMeter(brokerPid);
      let outcome: LoadOutcome;
      try {
        outcome = await runLoad(size, level.concurrency, counter.next, issue, options.phaseTimeoutMs);
      } finally {
        const peak = rss.stop();
        if (turn === 0) into.rssStart = rss.start;
        into.rssPeak = Math.max(into.rssPeak, peak);
      }
      into.cpu.push(meter.stop());
      counter.next += size;
      into.latencies.set(outcome.latencies, into.filled);
      into.filled += size;
      into.errors += outcome.errors;
      for (const sample of outcome.errorSamples) if (into.errorSamples.length < 5) into.errorSamples.push(sample);
      into.elapsedMs += outcome.elapsedMs;
    }
  }
  const percent = (value: number | null) => (value === null ? null : round(value, 0));
  return contenders.map(({ system }, index) => {
    const m = measured[index] as (typeof measured)[number];
    const cpu = cpuPercents(m.cpu);
    const sorted = m.latencies.slice().sort();
    const sum = m.latencies.reduce((a, b) => a + b, 0);
    return {
      system,
      concurrency: level.concurrency,
      requests: level.requests,
      warmup: options.warmup,
      durationMs: round(m.elapsedMs, 1),
      commandsPerSecond: round((level.requests / m.elapsedMs) * 1000, 0),
      p50Ms: round(percentile(sorted, 50), 3),
      p90Ms: round(percentile(sorted, 90), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
      meanMs: round(sum / level.requests, 3),
      errors: m.errors,
      errorSamples: m.errorSamples,
      rssStartMiB: round(m.rssStart / MIB, 1),
      rssPeakMiB: round(m.rssPeak / MIB, 1),
      cpuPercent: round(cpu.self, 0),
      brokerCpuPercent: percent(cpu.broker),
      otherCpuPercent: percent(cpu.other),
      stealPercent: percent(cpu.steal),
    };
  });
}

/** Progress on stderr, so stdout holds only the final table. */
export function report<R extends PhaseResult>(result: R, label: string = result.system): R {
  process.stderr.write(
    `  ${label} c=${result.concurrency}: ${result.commandsPerSecond} cmd/s, p50 ${result.p50Ms} ms, ` +
      `p99 ${result.p99Ms} ms, errors ${result.errors}\n`,
  );
  return result;
}

export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

export interface HttpAnswer {
  status: number;
  text: string;
  /** Size of the body as received. */
  bytes: number;
}

/** One request on a keep-alive agent; resolves with whatever status came back, rejects on a network error. */
export function httpRequest(
  agent: http.Agent,
  base: URL,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<HttpAnswer> {
  const headers: Record<string, string | number> = { ...request.headers };
  if (request.body !== undefined) headers["content-length"] = Buffer.byteLength(request.body);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        headers,
        timeout: CLIENT_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: response.statusCode ?? 0, text: body.toString("utf8"), bytes: body.length });
        });
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no HTTP answer within ${CLIENT_TIMEOUT_MS} ms`)));
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}

/** A 200 answer's body as JSON; anything else rejects with the start of what arrived. */
export function jsonOf<T>(answer: HttpAnswer): T {
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw new Error(`answer is not JSON: ${answer.text.slice(0, 200)}`);
  }
}

/**
 * One command through the admin API, `{"params":{"on":true,"brightness":n}}`; resolves only for a 200
 * carrying the confirmed brightness.
 */
export async function postCommand(
  agent: http.Agent,
  base: URL,
  token: string,
  deviceId: string,
  brightness: number,
): Promise<void> {
  const answer = await httpRequest(agent, base, {
    method: "POST",
    path: `/api/v1/devices/${deviceId}/commands`,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ params: { on: true, brightness } }),
  });
  const parsed = jsonOf<{ status?: string; state?: { brightness?: number } }>(answer);
  if (parsed.status !== "ok" || parsed.state?.brightness !== brightness) {
    throw new Error(`unexpected answer: ${answer.text.slice(0, 200)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A daemon with simulated lights

export interface Cleanups {
  add(name: string, stop: () => Promise<void> | void): void;
}

/**
 * Everything a run started, stopped newest first: at the end, after a part of the run (`unwind(mark)`), on
 * failure and on Ctrl-C. A failure to stop is reported but does not stop the rest.
 */
export class Teardown implements Cleanups {
  private readonly stack: Array<{ name: string; stop: () => Promise<void> | void }> = [];

  add(name: string, stop: () => Promise<void> | void): void {
    this.stack.push({ name, stop });
  }

  /** What `unwind` goes back to: everything added after this point. */
  get mark(): number {
    return this.stack.length;
  }

  async unwind(downTo = 0): Promise<void> {
    while (this.stack.length > downTo) {
      const entry = this.stack.pop() as { name: string; stop: () => Promise<void> | void };
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
  }

  /** On SIGINT or SIGTERM: stop everything, then exit with 130. */
  stopOnSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`\n${signal}: stopping\n`);
      void this.unwind().finally(() => process.exit(130));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
}

export function nodeIds(count: number): string[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `bench-${String(i + 1).padStart(Math.max(2, width), "0")}`);
}

export interface HearthRig {
  bridge: TestBridge;
  /** The mosquitto child's pid, for its CPU figures. */
  brokerPid: number | undefined;
  fleet: SimFleet;
  credentials: Array<{ nodeId: string; password: string }>;
  /** An admin token. */
  token: string;
}

/** A daemon on `kind` with `nodes` simulated nodes of one light each, all online. */
export async function startHearth(
  kind: BrokerKind,
  nodes: number,
  cleanups: Cleanups,
  settings: Record<string, unknown> = {},
): Promise<HearthRig> {
  const bridge = await TestBridge.start(kind, {
    // warn: request logs at info would cost more than the command itself; warnings still show problems.
    settings: { logLevel: "warn", "commands.timeoutMs": COMMAND_TIMEOUT_MS, ...settings },
  });
  cleanups.add(`hearth/${kind} daemon`, () => bridge.stop());
  const credentials: Array<{ nodeId: string; password: string }> = [];
  for (const nodeId of nodeIds(nodes)) {
    const { password } = await bridge.addNode(nodeId);
    credentials.push({ nodeId, password });
  }
  const fleet = await SimFleet.start({ url: bridge.mqttUrl, nodes: credentials, devices: ["light"] });
  cleanups.add(`hearth/${kind} simulated nodes`, () => fleet.stop());
  const store = bridge.daemon.store;
  await waitUntil(
    () => credentials.every(({ nodeId }) => store.devices.get(`${nodeId}.light`)?.online === true),
    ONLINE_TIMEOUT_MS,
    `${nodes} simulated lights to be online in hearth/${kind}`,
  );
  const token = store.adminTokens.create("bench", Date.now()).token;
  const brokerPid = kind === "mosquitto" ? findChildPid("mosquitto") : undefined;
  return { bridge, brokerPid, fleet, credentials, token };
}

// ---------------------------------------------------------------------------------------------------------------
// An assistant's commands next to the core command path

/**
 * What the benchmark last asked of each light, so that every command changes its state: brightness alternates
 * between 30 and 70 (core and an assistant's brightness command, both of which also switch it on), power
 * between on and off.
 */
export class Lights {
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

/**
 * The `core` system of an assistant's benchmark, the floor of its commands: request number `i` sets light
 * `i mod lights` (of `deviceIds`) to its next brightness through the admin API.
 */
export function coreIssuer(
  agent: http.Agent,
  base: URL,
  token: string,
  deviceIds: readonly string[],
  lights: Lights,
): Issue {
  return (i) => {
    const light = i % deviceIds.length;
    return postCommand(agent, base, token, deviceIds[light] as string, lights.nextBrightness(light));
  };
}

export interface CommandResult<S extends string = string> extends PhaseResult<S> {
  broker: BrokerKind;
  /** See cpuPerCommand. */
  cpuMsPerCommand: number;
}

/**
 * This process's CPU time per measured request, in ms: less disturbed than latency when another process takes
 * a core for a while, and at c=1 the cost of one request including the simulated node and the load generator.
 */
export function cpuPerCommand(r: PhaseResult): number {
  return round(((r.cpuPercent / 100) * r.durationMs) / r.requests, 3);
}

/**
 * At each concurrency level, every system against the others, on one daemon, in turns. `issuer` gives the
 * request of a system on the level's agent.
 */
export async function benchCommands<S extends string>(
  broker: BrokerKind,
  systems: readonly S[],
  issuer: (system: S, agent: http.Agent) => Issue,
  options: { levels: readonly Level[]; warmup: number; rounds: number; phaseTimeoutMs: number },
  brokerPid: number | undefined,
): Promise<Array<CommandResult<S>>> {
  const counters = new Map(systems.map((s) => [s, { next: 0 }]));
  const results: Array<CommandResult<S>> = [];
  for (const level of options.levels) {
    // One agent for all systems: their blocks take turns, so its sockets never idle past the server's
    // keep-alive timeout (an agent per system would find a socket the server is just closing).
    const agent = new http.Agent({ keepAlive: true, maxSockets: level.concurrency });
    try {
      const contenders = systems.map((system) => ({
        system,
        counter: counters.get(system) as { next: number },
        issue: issuer(system, agent),
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

export const COMMAND_COLUMNS = [
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

export function commandRow(r: CommandResult): string[] {
  return [
    r.system,
    r.broker,
    String(r.concurrency),
    String(r.requests),
    String(r.commandsPerSecond),
    ...latencyCells(r),
    String(r.errors),
    String(r.cpuPercent),
    cpuPerCommand(r).toFixed(2),
    r.brokerCpuPercent === null ? "-" : String(r.brokerCpuPercent),
    r.otherCpuPercent === null ? "-" : String(r.otherCpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

export interface Ratio<S extends string = string> {
  system: S;
  broker: BrokerKind;
  concurrency: number;
  /** The assistant's commands/s over core's: 0.8 means the assistant's path reaches 80% of core's throughput. */
  throughput: number;
  /** The assistant's p50 over core's: 1.3 means a median request takes 1.3 times as long as a core command. */
  p50: number;
  p99: number;
  /** The assistant's CPU time per request over core's. */
  cpu: number;
  /** What the assistant's path adds to a median request, in ms. */
  p50DeltaMs: number;
}

/** Every system other than `core` against the `core` row of the same broker and concurrency. */
export function ratiosToCore<S extends string>(results: ReadonlyArray<CommandResult<S>>): Array<Ratio<S>> {
  const out: Array<Ratio<S>> = [];
  for (const other of results.filter((r) => r.system !== "core")) {
    const core = results.find(
      (r) => r.system === "core" && r.broker === other.broker && r.concurrency === other.concurrency,
    );
    if (!core) continue;
    out.push({
      system: other.system,
      broker: other.broker,
      concurrency: other.concurrency,
      ...ratioFigures(other, core, 2),
    });
  }
  return out;
}

/** One result against a baseline measured in the same run: throughput, latency and CPU as ratios. */
export function ratioFigures(
  result: CommandResult<string>,
  baseline: CommandResult<string>,
  digits: number,
): Omit<Ratio, "system" | "broker" | "concurrency"> {
  return {
    throughput: round(result.commandsPerSecond / baseline.commandsPerSecond, digits),
    p50: round(result.p50Ms / baseline.p50Ms, digits),
    p99: round(result.p99Ms / baseline.p99Ms, digits),
    cpu: round(cpuPerCommand(result) / cpuPerCommand(baseline), digits),
    p50DeltaMs: round(result.p50Ms - baseline.p50Ms, digits),
  };
}

/** The ratios as a table whose first column is headed `title` (`Alexa / core`). */
export function ratioTable(title: string, ratios: readonly Ratio[]): string {
  return table(
    [title, "broker", "c", "throughput", "p50", "p99", "CPU/cmd", "p50 +ms"],
    ratios.map((r) => [
      r.system,
      r.broker,
      String(r.concurrency),
      `${r.throughput.toFixed(2)}×`,
      `${r.p50.toFixed(2)}×`,
      `${r.p99.toFixed(2)}×`,
      `${r.cpu.toFixed(2)}×`,
      r.p50DeltaMs.toFixed(2),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// A house of many devices, and what listing it costs

/** Nodes of a house daemon connecting at once. */
const HOUSE_START_CONCURRENCY = 8;
/** Unmeasured listing calls (of each kind) before the measured ones. */
export const LISTING_WARMUP = 10;

/**
 * The mixed devices of one node: the types of `mix` in turn, then again, each numbered within its type
 * (`light_1`, `switch_1`… `light_2`) and named after its node, type and number.
 */
export function mixedDevices(nodeId: string, count: number, mix: readonly DeviceType[]): DeviceTemplate[] {
  const numbers = new Map<DeviceType, number>();
  return Array.from({ length: count }, (_, i) => {
    const type = mix[i % mix.length] as DeviceType;
    const n = (numbers.get(type) ?? 0) + 1;
    numbers.set(type, n);
    const template = deviceTemplate(type, `${type}_${n}`);
    return { ...template, declaration: { ...template.declaration, name: `${nodeId} ${type} ${n}` } };
  });
}

export interface House {
  bridge: TestBridge;
  /** Devices in the house, all online. */
  devices: number;
  /** An admin token. */
  adminToken: string;
}

/**
 * A daemon holding a house: `nodes` simulated nodes (`house-01`…) of `devicesPerNode` devices of the types of
 * `mix`, all online. `name` tells it from other daemons in messages (`discovery`); `onBridge` hears of the
 * daemon as soon as it runs, for its logs if the rest fails.
 */
export async function startHouse(
  kind: BrokerKind,
  house: { name: string; nodes: number; devicesPerNode: number; mix: readonly DeviceType[] },
  cleanups: Cleanups,
  settings: Record<string, unknown>,
  onBridge: (bridge: TestBridge) => void,
): Promise<House> {
  const bridge = await TestBridge.start(kind, { settings: { logLevel: "warn", ...settings } });
  cleanups.add(`${house.name} daemon (${kind})`, () => bridge.stop());
  onBridge(bridge);
  const nodes: SimNode[] = [];
  cleanups.add(`${house.name} simulated nodes`, async () => {
    await Promise.allSettled(nodes.map((node) => node.close()));
  });
  const credentials: Array<{ nodeId: string; password: string }> = [];
  for (const nodeId of nodeIds(house.nodes).map((id) => id.replace("bench-", "house-"))) {
    credentials.push({ nodeId, password: (await bridge.addNode(nodeId)).password });
  }
  let next = 0;
  const starter = async () => {
    while (next < credentials.length) {
      const { nodeId, password } = credentials[next++] as { nodeId: string; password: string };
      const devices = mixedDevices(nodeId, house.devicesPerNode, house.mix);
      nodes.push(await SimNode.start({ url: bridge.mqttUrl, nodeId, password, devices }));
    }
  };
  await Promise.all(Array.from({ length: HOUSE_START_CONCURRENCY }, starter));
  const expected = house.nodes * house.devicesPerNode;
  const store = bridge.daemon.store;
  await waitUntil(
    () => store.devices.list().filter((d) => d.present && d.online).length === expected,
    ONLINE_TIMEOUT_MS,
    `${expected} simulated devices to be online in the ${house.name} daemon`,
  );
  const adminToken = store.adminTokens.create("bench", Date.now()).token;
  return { bridge, devices: expected, adminToken };
}

export interface ListingResult extends PhaseResult {
  /** Devices (or endpoints) in every answer. */
  items: number;
  /** Size of the answer's body. */
  bytes: number;
}

/**
 * An assistant's listing of the whole house (`call`: resolves with an answer it has checked to hold every
 * device) against `GET /api/v1/devices` on the same daemon: one call at a time, in turns, after
 * LISTING_WARMUP unmeasured calls of each.
 */
export async function measureListing(
  house: House,
  listing: { name: string; call: (agent: http.Agent, base: URL) => Promise<HttpAnswer> },
  options: { calls: number; rounds: number; phaseTimeoutMs: number },
): Promise<[ListingResult, ListingResult]> {
  const base = new URL(house.bridge.httpUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const level = { concurrency: 1, requests: options.calls };
  const phase = {
    warmup: LISTING_WARMUP,
    phaseTimeoutMs: options.phaseTimeoutMs,
    rounds: Math.min(options.rounds, options.calls),
  };
  try {
    let bytes = 0;
    const assistant: Issue = async () => {
      bytes = Math.max(bytes, (await listing.call(agent, base)).bytes);
    };
    let listBytes = 0;
    const listDevices: Issue = async () => {
      const answer = await httpRequest(agent, base, {
        method: "GET",
        path: "/api/v1/devices",
        headers: { authorization: `Bearer ${house.adminToken}` },
      });
      const devices = jsonOf<unknown[]>(answer);
      if (!Array.isArray(devices) || devices.length !== house.devices) {
        throw new Error(`${Array.isArray(devices) ? devices.length : "no"} devices instead of ${house.devices}`);
      }
      listBytes = Math.max(listBytes, answer.bytes);
    };
    const [listed, adminListed] = await measureInterleaved(
      [
        { system: listing.name, counter: { next: 0 }, issue: assistant },
        { system: "GET /api/v1/devices", counter: { next: 0 }, issue: listDevices },
      ],
      level,
      phase,
    );
    return [
      { ...report(listed as PhaseResult), items: house.devices, bytes },
      { ...report(adminListed as PhaseResult), items: house.devices, bytes: listBytes },
    ];
  } finally {
    agent.destroy();
  }
}

export const LISTING_COLUMNS = [
  "request",
  "calls",
  "items",
  "bytes",
  "p50 ms",
  "p90 ms",
  "p99 ms",
  "max ms",
  "errors",
  "CPU %",
  "RSS MiB",
];

/** p50, p90, p99 and max in ms, as every latency table shows them. */
export function latencyCells(r: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }): string[] {
  return [r.p50Ms, r.p90Ms, r.p99Ms, r.maxMs].map((ms) => ms.toFixed(2));
}

export function listingRow(r: ListingResult): string[] {
  return [
    r.system,
    String(r.requests),
    String(r.items),
    String(r.bytes),
    ...latencyCells(r),
    String(r.errors),
    String(r.cpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Ending a run

/**
 * A run that failed part-way: what the daemon logged before the failure (not the noise of requests cut short
 * by the shutdown), then everything stopped. Returns the exit code, 1.
 */
export async function abortRun(error: unknown, teardown: Teardown, logs: TestBridge | undefined): Promise<number> {
  const logged = [...(logs?.logs.raw ?? [])];
  await teardown.unwind();
  process.stderr.write(`\nbench failed: ${(error as Error).message}\n`);
  if (logged.length > 0) process.stderr.write(`last daemon log lines:\n${logged.slice(-10).join("\n")}\n`);
  return 1;
}

/** Every phase with failed requests, on stderr; the exit code: 1 if there was one, else 0. */
export function exitCodeOf(results: readonly PhaseResult[]): number {
  const failed = results.filter((r) => r.errors > 0);
  for (const r of failed) {
    process.stderr.write(`${r.system} c=${r.concurrency}: ${r.errors} requests failed, first: ${r.errorSamples[0]}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function machine(mosquittoVersion: string | undefined, loadGenerator: string) {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? "unknown",
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    mosquitto: mosquittoVersion ?? null,
    loadGenerator,
  };
}

export function mosquittoVersionOf(logs: string): string | undefined {
  return /mosquitto version (\S+) running/.exec(logs)?.[1];
}

/** Writes `bench/results/<benchmark>-<timestamp>.json`; returns its path relative to the working directory. */
export async function writeResults(benchmark: string, content: object): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(RESULTS_DIR, `${benchmark}-${stamp}.json`);
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(file, `${JSON.stringify(content, null, 2)}\n`);
  return relative(process.cwd(), file);
}

/** Runs a benchmark's main and exits with its code, whatever is still open (a stray socket or timer). */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// An assistant's benchmark: its commands against core, its listing of a house against the device list

/** What tells one assistant's benchmark from another's; `runAssistantBench` is the run around it. */
export interface AssistantBench<S extends string> {
  /** `alexa`: run as `npm run bench:alexa`, its results in `bench/results/alexa-<timestamp>.json`. */
  benchmark: string;
  /** Names the run in its first lines: `Alexa directives`. */
  title: string;
  /** Heads the ratio table: `Alexa / core`. */
  ratioTitle: string;
  systems: readonly S[];
  /** The concurrency levels without --concurrency. */
  concurrency: string;
  commands: {
    /** Settings of each command daemon, over the bench's own. */
    settings: Record<string, unknown>;
    /** Once a command daemon runs (to link an account, say): the request of each system on an agent. */
    issuer(hearth: HearthRig): Promise<(system: S, agent: http.Agent) => Issue>;
  };
  listing: {
    /**
     * Names its options: `discover` gives --discover-nodes (BENCH_DISCOVER_NODES, `discoverNodes` in the
     * results), likewise -devices and -calls, and `discoverWarmup`.
     */
    prefix: string;
    nodes: { default: number; max: number };
    devices: { default: number; max: number };
    /** Refuses a house the assistant would not take, with a UsageError. */
    check?: (nodes: number, devices: number) => void;
    /** The help text of its options. */
    help: string;
    /** Names the house daemon, and the phase in the first line: `discovery`. */
    name: string;
    /** Heads the phase in the report: `Discovery`. */
    heading: string;
    /** The call in the ratio line: `Discover`. */
    call: string;
    /** The call as a row of the listing table: `Alexa.Discovery Discover`. */
    request: string;
    mix: readonly DeviceType[];
    /** Settings of the house daemon. */
    settings: Record<string, unknown>;
    /** Once the house runs: the call, resolving with an answer it has checked to hold every device. */
    caller(house: House): Promise<(agent: http.Agent, base: URL) => Promise<HttpAnswer>>;
    /** Its key in the results file: `discovery`. */
    resultsKey: string;
  };
}

/** The brokers an assistant benchmark runs its command daemons on, one after the other. */
const ASSISTANT_BROKERS = ["embedded", "mosquitto"] as const satisfies readonly BrokerKind[];
const ASSISTANT_LIMITS = { ...LOAD_LIMITS, rounds: 1000, listingCalls: 10_000 };

/**
 * An assistant benchmark's options as its results file lists them, where the house of the listing phase
 * stands after `brokers` under the listing's prefix (`discoverNodes`, `discoverDevices`, `discoverCalls`).
 */
interface AssistantOptions<S extends string> extends LoadOptions {
  rounds: number;
  systems: S[];
  brokers: BrokerKind[];
  phaseTimeoutMs: number;
  writeJson: boolean;
}

/** The house of the listing phase, and how often it is listed. */
interface HouseOptions {
  nodes: number;
  devicesPerNode: number;
  calls: number;
}

function assistantHelp<S extends string>(bench: AssistantBench<S>): string {
  const limits = ASSISTANT_LIMITS;
  return `Usage: npm run bench:${bench.benchmark} -- [options]

Options (each also readable from the environment variable shown):
  --nodes N              simulated nodes, one light each (BENCH_NODES, default 10, max ${limits.nodes})
  --concurrency LIST     requests in flight, comma separated (BENCH_CONCURRENCY, default ${bench.concurrency}, max ${limits.concurrency})
  --requests LIST        measured requests per system and concurrency level, one value for all levels or one per
                         level (BENCH_REQUESTS, default 2000 at c=1 and 5000 above, max ${limits.requests})
  --warmup N             unmeasured requests before each measured phase (BENCH_WARMUP, default 1000)
  --rounds N             measured blocks per system and level, taking turns between the systems so that a
                         neighbour's CPU burst hits all of them alike (BENCH_ROUNDS, default 5, max ${limits.rounds})
  --systems LIST         subset of ${bench.systems.join(",")} (BENCH_SYSTEMS, default all)
  --broker LIST          embedded, mosquitto or embedded,mosquitto: one daemon after the other
                         (BENCH_BROKER, default embedded)
${bench.listing.help}
  --phase-timeout S      a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json              do not write bench/results/${bench.benchmark}-<timestamp>.json
  -h, --help             this text

The run exits non-zero if anything fails to start or any request fails.`;
}

/** An assistant benchmark's options and the house they give; undefined for --help. */
function assistantOptions<S extends string>(
  bench: AssistantBench<S>,
  argv: string[],
  env: NodeJS.ProcessEnv,
): { options: AssistantOptions<S>; house: HouseOptions } | undefined {
  const { prefix, nodes: nodesOption, devices: devicesOption } = bench.listing;
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
      [`${prefix}-nodes`]: { type: "string" },
      [`${prefix}-devices`]: { type: "string" },
      [`${prefix}-calls`]: { type: "string" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const text = (name: string) => values[name] as string | undefined;
  const houseOption = (name: string, fallback: number, min: number, max: number) => {
    const given = text(`${prefix}-${name}`) ?? env[`BENCH_${prefix.toUpperCase()}_${name.toUpperCase()}`];
    return integer(`--${prefix}-${name}`, given ?? String(fallback), min, max);
  };
  const { nodes, levels, warmup } = loadOptions(values, env, { concurrency: bench.concurrency });
  const rounds = roundsOption(text("rounds"), env, levels, ASSISTANT_LIMITS.rounds);
  const systems = subset("system", text("systems") ?? env.BENCH_SYSTEMS ?? bench.systems.join(","), bench.systems);
  const brokers = subset("broker", text("broker") ?? env.BENCH_BROKER ?? "embedded", ASSISTANT_BROKERS);
  const houseNodes = houseOption("nodes", nodesOption.default, 1, nodesOption.max);
  const devicesPerNode = houseOption("devices", devicesOption.default, 1, devicesOption.max);
  bench.listing.check?.(houseNodes, devicesPerNode);
  const calls = houseOption("calls", 100, 0, ASSISTANT_LIMITS.listingCalls);
  const phaseTimeoutMs = phaseTimeoutOption(text("phase-timeout"), env);
  const options = {
    nodes,
    levels,
    warmup,
    rounds,
    systems,
    brokers,
    [`${prefix}Nodes`]: houseNodes,
    [`${prefix}Devices`]: devicesPerNode,
    [`${prefix}Calls`]: calls,
    phaseTimeoutMs,
    writeJson: !values["no-json"],
  };
  return { options, house: { nodes: houseNodes, devicesPerNode, calls } };
}

/**
 * An assistant's benchmark, from its command line to its exit code: on each broker a daemon of lights where
 * the assistant's commands take turns with core's, then a house daemon (on the first broker) where its listing
 * takes turns with the device list; the report and the results file. A failure stops everything and shows the
 * daemon's last log lines.
 */
export function runAssistantBench<S extends string>(bench: AssistantBench<S>): void {
  runMain(async () => {
    const help = assistantHelp(bench);
    const parsed = optionsOrExit(() => assistantOptions(bench, process.argv.slice(2), process.env), help);
    if (typeof parsed === "number") return parsed;
    return assistantRun(bench, parsed.options, parsed.house);
  });
}

async function assistantRun<S extends string>(
  bench: AssistantBench<S>,
  options: AssistantOptions<S>,
  house: HouseOptions,
): Promise<number> {
  const { listing } = bench;
  const teardown = new Teardown();
  teardown.stopOnSignals();
  const processRss = new RssSampler();
  teardown.add("RSS sampler", () => {
    processRss.stop();
  });

  const results: Array<CommandResult<S>> = [];
  const listings: ListingResult[] = [];
  let mosquittoVersion: string | undefined;
  let logs: TestBridge | undefined;
  const levelText = options.levels.map((l) => `c=${l.concurrency}×${l.requests}`).join(", ");
  process.stderr.write(
    `${bench.title}: ${options.nodes} nodes, warm-up ${options.warmup}, ${levelText}; ` +
      `${listing.name} of ${house.nodes} × ${house.devicesPerNode} devices, ${house.calls} calls\n`,
  );

  try {
    for (const broker of options.brokers) {
      const mark = teardown.mark;
      const hearth = await startHearth(broker, options.nodes, teardown, bench.commands.settings);
      logs = hearth.bridge;
      if (hearth.bridge.mosquitto) mosquittoVersion = mosquittoVersionOf(hearth.bridge.mosquitto.logs());
      const issue = await bench.commands.issuer(hearth);
      results.push(...(await benchCommands(broker, options.systems, issue, options, hearth.brokerPid)));
      await teardown.unwind(mark);
    }
    if (house.calls > 0) {
      const mark = teardown.mark;
      const kind = options.brokers[0] as BrokerKind;
      const started = await startHouse(
        kind,
        { name: listing.name, nodes: house.nodes, devicesPerNode: house.devicesPerNode, mix: listing.mix },
        teardown,
        listing.settings,
        (bridge) => {
          logs = bridge;
        },
      );
      const call = await listing.caller(started);
      listings.push(
        ...(await measureListing(
          started,
          { name: listing.request, call },
          { calls: house.calls, rounds: options.rounds, phaseTimeoutMs: options.phaseTimeoutMs },
        )),
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
    `${bench.title} — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, mosquitto ${info.mosquitto ?? "n/a"}; ` +
      `${options.nodes} nodes of one light, warm-up ${options.warmup}, ${options.rounds} rounds; load generator in-process`,
  ];
  if (results.length > 0) lines.push("", table(COMMAND_COLUMNS, results.map(commandRow)));
  if (ratioRows.length > 0) lines.push("", ratioTable(bench.ratioTitle, ratioRows));
  const [listed, devices] = listings;
  if (listed && devices) {
    lines.push(
      "",
      `${listing.heading}: ${house.nodes} nodes × ${house.devicesPerNode} devices of mixed types, ` +
        `sequential calls after ${LISTING_WARMUP} unmeasured each, in turns`,
      "",
      table(LISTING_COLUMNS, listings.map(listingRow)),
      "",
      `${listing.call} / device list: p50 ${(listed.p50Ms / devices.p50Ms).toFixed(2)}×, ` +
        `p99 ${(listed.p99Ms / devices.p99Ms).toFixed(2)}×, bytes ${(listed.bytes / devices.bytes).toFixed(2)}×`,
    );
  }
  lines.push("", `Peak RSS of the process over the whole run: ${peakRssMiB.toFixed(0)} MiB`);
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const json = {
      benchmark: bench.benchmark,
      finishedAt: new Date().toISOString(),
      machine: info,
      options: { ...options, [`${listing.prefix}Warmup`]: LISTING_WARMUP },
      results,
      ratios: ratioRows,
      [listing.resultsKey]: listings,
      peakRssMiB,
    };
    const file = await writeResults(bench.benchmark, json);
    process.stdout.write(`\nresults written to ${file}\n`);
  }

  return exitCodeOf([...results, ...listings]);
}
