/**
 * Outbound webhook benchmark: how long a node's state change takes to reach a subscriber's receiver, and how
 * many deliveries per second the outbox sends, against a local receiver on 127.0.0.1.
 *
 *   latency     sequential changes on simulated lights (`press`: a retained state message, as a wall button
 *               sends it), each timed from the press to four points: the daemon's `device.state` on the bus
 *               before any listener runs (the floor: what every consumer of the change waits for), the end of
 *               the dispatcher's listener (its outbox row committed with synchronous=FULL and the POST begun),
 *               the delivery's body at the receiver, and the delivery recorded as done in the outbox. The next
 *               change waits for the last point, so that no write of one change lands in the next one's figures.
 *   bursts      N changes over the lights at once, with 0 (the intake floor), 1 and 3 subscriptions, in turns
 *               over several rounds: deliveries per second from the first press to the last delivery, and
 *               every event delivered exactly once to every subscription (webhook-ids counted, contents
 *               matched to the bus events, nothing retried, dead or pending in the outbox afterwards).
 *
 * The outbox's two writes per delivery (`enqueue` per event, `markDelivered` per delivery) are timed around the
 * store's calls. The receiver answers 200 (after `--answer-delay`), verifies the Standard Webhooks signature of
 * every SIGNATURE_SAMPLE-th delivery (and each subscription's first) with the subscription's secret and checks
 * its body against the payload schema; a bad signature, an unknown body, a lost or a repeated delivery fails the
 * run. Subscriptions are made through `POST /api/v1/subscriptions`, as a user makes them. Everything except
 * mosquitto runs in this one process (daemon, simulated nodes, receiver), so every figure includes the receiver's
 * own work on the same event loop. Run with `npm run bench:webhooks -- --help`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { DeviceStateEvent } from "../src/bus.ts";
import { WebhookPayloadSchema } from "../src/webhooks/events.ts";
import { verifyStandard } from "../src/webhooks/signature.ts";
import type { BrokerKind, TestBridge } from "../test/helpers/bridge.ts";
import {
  abortRun,
  CpuMeter,
  type CpuSample,
  cpuPercents,
  type HearthRig,
  httpRequest,
  integer,
  latencyCells,
  list,
  MIB,
  machine,
  mosquittoVersionOf,
  optionsOrExit,
  percentile,
  phaseTimeoutOption,
  RssSampler,
  round,
  runMain,
  startHearth,
  Teardown,
  table,
  UsageError,
  waitUntil,
  writeResults,
} from "./common.ts";

const BENCHMARK = "webhooks";
const LIMITS = {
  changes: 100_000,
  warmup: 10_000,
  burst: 100_000,
  devices: 200,
  subscriptions: 10,
  rounds: 100,
  delayMs: 10_000,
};
const BROKERS = ["embedded", "mosquitto"] as const satisfies readonly BrokerKind[];
/** Every change sets a light's colour temperature to the next kelvin of its range, so that each one is new. */
const CT_MIN = 2700;
const CT_MAX = 6500;
const CT_VALUES = CT_MAX - CT_MIN + 1;
/** The receiver verifies the signature and checks the body of every delivery whose number is a multiple of this. */
const SIGNATURE_SAMPLE = 10;
/** How long the dispatcher may take to record the last deliveries after the receiver got them. */
const SETTLE_MS = 10_000;

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
  changes: number;
  warmup: number;
  burst: number;
  devices: number;
  subscriptions: number[];
  rounds: number;
  answerDelayMs: number;
  broker: BrokerKind;
  phaseTimeoutMs: number;
  writeJson: boolean;
}

const HELP = `Usage: npm run bench:webhooks -- [options]

Options (each also readable from the environment variable shown):
  --changes N            measured sequential changes of the latency phase (BENCH_CHANGES, default 500, max ${LIMITS.changes})
  --warmup N             unmeasured sequential changes before them (BENCH_WARMUP, default 50, max ${LIMITS.warmup})
  --burst N              changes of each burst, all at once (BENCH_BURST, default 2000, max ${LIMITS.burst})
  --devices N            simulated nodes of one light each; changes go round-robin over them
                         (BENCH_DEVICES, default 20, max ${LIMITS.devices})
  --subscriptions LIST   subscriptions to device.state during each burst, comma separated; 0 is the floor, the
                         same burst with nothing to deliver (BENCH_SUBSCRIPTIONS, default 0,1,3, max
                         ${LIMITS.subscriptions}); the latency phase uses one
  --rounds N             bursts of each subscription count, taking turns (1, 3, 1, 3…) so that a neighbour's
                         CPU or disk burst hits all of them alike (BENCH_ROUNDS, default 2, max ${LIMITS.rounds})
  --answer-delay MS      how long the receiver waits before it answers 200 (BENCH_ANSWER_DELAY, default 0,
                         max ${LIMITS.delayMs})
  --broker KIND          embedded or mosquitto (BENCH_BROKER, default embedded)
  --phase-timeout S      a phase taking longer fails the run (BENCH_PHASE_TIMEOUT, default 120)
  --no-json              do not write bench/results/${BENCHMARK}-<timestamp>.json
  -h, --help             this text

A light takes at most ${CT_VALUES} changes per phase (each sets a colour temperature of its own). The run exits
non-zero if anything fails to start, a phase times out, a signature does not verify, or a delivery is lost,
repeated or unexpected.`;

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      changes: { type: "string" },
      warmup: { type: "string" },
      burst: { type: "string" },
      devices: { type: "string" },
      subscriptions: { type: "string" },
      rounds: { type: "string" },
      "answer-delay": { type: "string" },
      broker: { type: "string" },
      "phase-timeout": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const changes = integer("--changes", values.changes ?? env.BENCH_CHANGES ?? "500", 1, LIMITS.changes);
  const warmup = integer("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "50", 0, LIMITS.warmup);
  const burst = integer("--burst", values.burst ?? env.BENCH_BURST ?? "2000", 1, LIMITS.burst);
  const devices = integer("--devices", values.devices ?? env.BENCH_DEVICES ?? "20", 1, LIMITS.devices);
  const subscriptions = [
    ...new Set(
      list("--subscriptions", values.subscriptions ?? env.BENCH_SUBSCRIPTIONS ?? "0,1,3", 0, LIMITS.subscriptions),
    ),
  ];
  const rounds = integer("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "2", 1, LIMITS.rounds);
  const answerDelayMs = integer(
    "--answer-delay",
    values["answer-delay"] ?? env.BENCH_ANSWER_DELAY ?? "0",
    0,
    LIMITS.delayMs,
  );
  const brokerText = (values.broker ?? env.BENCH_BROKER ?? "embedded").trim();
  if (!(BROKERS as readonly string[]).includes(brokerText)) {
    throw new UsageError(`--broker is one of ${BROKERS.join(", ")}, not "${brokerText}"`);
  }
  const perLight = (changesOfPhase: number) => Math.ceil(changesOfPhase / devices);
  if (perLight(warmup + changes) > CT_VALUES || perLight(burst) > CT_VALUES) {
    throw new UsageError(
      `a light takes at most ${CT_VALUES} changes per phase: use more --devices for ${Math.max(warmup + changes, burst)} changes`,
    );
  }
  return {
    changes,
    warmup,
    burst,
    devices,
    subscriptions,
    rounds,
    answerDelayMs,
    broker: brokerText as BrokerKind,
    phaseTimeoutMs: phaseTimeoutOption(values["phase-timeout"], env),
    writeJson: !values["no-json"],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What happened to each change: on the bus, in its listeners, at the receiver

/** A change is known by its light and the colour temperature it set: unique within a phase. */
const keyOf = (deviceId: string, ctK: unknown) => `${deviceId}@${String(ctK)}`;

/**
 * The times of one phase's changes, by key, at each point they reach. Waiters are woken by the arrivals
 * themselves (no polling, which would add its interval to the latencies); the first failure rejects them.
 */
class Recorder {
  /** Changes the phase made: what the bus and the receiver may report. */
  private readonly expected = new Set<string>();
  /** When the daemon emitted `device.state`, before any listener ran. */
  readonly emitted = new Map<string, number>();
  /** When the event's earlier listeners, the webhook dispatcher among them, had all run. */
  readonly handled = new Map<string, number>();
  /** Per receiver path: when each change's delivery arrived. */
  readonly delivered = new Map<string, Map<string, number>>();
  /** When the dispatcher had recorded a change's delivery (the last subscription's, with several). */
  readonly recorded = new Map<string, number>();
  /** How long each `outbox.enqueue` and `outbox.markDelivered` of the phase took. */
  readonly enqueueMs: number[] = [];
  readonly markDeliveredMs: number[] = [];
  /** The change each webhook-id of the phase carried. */
  private readonly keysById = new Map<string, string>();
  failure: Error | undefined;
  private waiter: { check: () => boolean; resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(paths: readonly string[]) {
    for (const path of paths) this.delivered.set(path, new Map());
  }

  expect(key: string): void {
    this.expected.add(key);
  }

  onEmitted(event: DeviceStateEvent, at: number): void {
    this.record(this.emitted, keyOf(event.deviceId, event.state.ct_k), at, "device.state event");
  }

  onHandled(event: DeviceStateEvent, at: number): void {
    this.record(this.handled, keyOf(event.deviceId, event.state.ct_k), at, "device.state event");
  }

  onDelivered(path: string, id: string, key: string, at: number): void {
    const into = this.delivered.get(path);
    if (!into) {
      this.fail(new Error(`a delivery to ${path}, which has no subscription in this phase (${key})`));
      return;
    }
    this.keysById.set(id, key);
    this.record(into, key, at, `delivery to ${path}`);
  }

  /** The dispatcher recorded a delivery as done (after the receiver's answer, so after onDelivered). */
  onRecorded(id: string, at: number): void {
    const key = this.keysById.get(id);
    if (key === undefined) return;
    this.recorded.set(key, at);
    this.wake();
  }

  fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  /** Resolves once `check` holds; rejects on the first failure or at `deadline` (performance.now() time). */
  until(check: () => boolean, deadline: number, what: () => string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiter = undefined;
          reject(new Error(`phase timed out waiting for ${what()}`));
        },
        Math.max(0, deadline - performance.now()),
      );
      this.waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private record(into: Map<string, number>, key: string, at: number, what: string): void {
    if (!this.expected.has(key)) {
      this.fail(new Error(`unexpected ${what} for ${key}`));
      return;
    }
    if (into.has(key)) {
      this.fail(new Error(`${what} for ${key} came twice`));
      return;
    }
    into.set(key, at);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter?.check()) {
      this.waiter = undefined;
      waiter.resolve();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The receiver

/**
 * The subscribers' receiver: one server, one path per subscription (`/s1`, `/s2`…), answering 200 after
 * `delayMs`. Every webhook-id is remembered over the whole run, so a repeat fails it; every SIGNATURE_SAMPLE-th
 * delivery (and each path's first) has its signature verified and its body checked against the schema.
 */
class Receiver {
  private readonly secrets = new Map<string, string>();
  private readonly ids = new Set<string>();
  private readonly firstSeen = new Set<string>();
  recorder: Recorder | undefined;
  received = 0;
  verified = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly delayMs: number,
  ) {}

  static async start(delayMs: number): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = http.createServer((req, res) => receiver?.handle(req, res));
    receiver = new Receiver(server, delayMs);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  addSecret(path: string, secret: string): void {
    this.secrets.set(path, secret);
    this.firstSeen.delete(path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const at = performance.now();
      const answer = () => res.writeHead(200).end();
      if (this.delayMs > 0) setTimeout(answer, this.delayMs);
      else answer();
      try {
        this.check(req, Buffer.concat(chunks), at);
      } catch (error) {
        this.fail(error as Error);
      }
    });
  }

  private check(req: http.IncomingMessage, body: Buffer, at: number): void {
    const path = req.url ?? "/";
    const id = req.headers["webhook-id"];
    if (req.method !== "POST" || typeof id !== "string") throw new Error(`${req.method} ${path} without a webhook-id`);
    if (this.ids.has(id)) throw new Error(`webhook-id ${id} was delivered twice`);
    this.ids.add(id);
    const number = this.received++;
    const secret = this.secrets.get(path);
    if (secret === undefined) throw new Error(`a delivery to ${path}, which no subscription names`);
    const payload = JSON.parse(body.toString("utf8")) as {
      type?: string;
      data?: { device?: string; state?: { ct_k?: unknown } };
    };
    if (number % SIGNATURE_SAMPLE === 0 || !this.firstSeen.has(path)) {
      this.firstSeen.add(path);
      const failure = verifyStandard(
        [secret],
        {
          id,
          timestamp: req.headers["webhook-timestamp"] as string | undefined,
          signature: req.headers["webhook-signature"] as string | undefined,
        },
        body,
        Math.floor(Date.now() / 1000),
      );
      if (failure !== undefined) throw new Error(`delivery ${id} to ${path}: ${failure}`);
      const parsed = WebhookPayloadSchema.safeParse(payload);
      if (!parsed.success) throw new Error(`delivery ${id}: the body does not fit the payload schema`);
      this.verified++;
    }
    if (payload.type !== "device.state" || typeof payload.data?.device !== "string") {
      throw new Error(`delivery ${id}: not a device.state event: ${body.toString("utf8").slice(0, 200)}`);
    }
    const recorder = this.recorder;
    if (!recorder) throw new Error(`delivery ${id} between phases`);
    recorder.onDelivered(path, id, keyOf(payload.data.device, payload.data.state?.ct_k), at);
  }

  private fail(error: Error): void {
    if (this.recorder) this.recorder.fail(error);
    else this.lateFailure ??= error;
  }

  /** A failure outside any phase, reported at the end. */
  lateFailure: Error | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

interface Stats {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function statsOf(values: readonly number[]): Stats {
  const sorted = Float64Array.from(values).sort();
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    p50Ms: round(percentile(sorted, 50), 3),
    p90Ms: round(percentile(sorted, 90), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
    meanMs: round(sum / values.length, 3),
  };
}

/** The outbox's own writes, timed around the store's calls: each commits with synchronous=FULL on the event loop. */
interface Writes {
  /** `outbox.enqueue`, once per event: one transaction for every subscription's row. */
  enqueue: Stats;
  /** `outbox.markDelivered`, once per delivery, after the receiver's answer. */
  markDelivered: Stats;
  /** Their sum over the phase's wall time: the share of it the event loop spent in them. */
  loopPercent: number;
}

function writesOf(enqueueMs: readonly number[], markDeliveredMs: readonly number[], wallMs: number): Writes {
  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  return {
    enqueue: statsOf(enqueueMs),
    markDelivered: statsOf(markDeliveredMs),
    loopPercent: round(((sum(enqueueMs) + sum(markDeliveredMs)) / wallMs) * 100, 0),
  };
}

interface LatencyResult {
  changes: number;
  warmup: number;
  subscriptions: 1;
  /** Press → `device.state` emitted by the daemon: the floor. */
  busEvent: Stats;
  /** Press → the event's listeners done: the outbox row committed and the POST begun. */
  handled: Stats;
  /** Press → the delivery's body at the receiver. */
  delivered: Stats;
  /** Press → the delivery recorded as done in the outbox (after the receiver's 200). */
  recorded: Stats;
  /** Delivery over bus event, per percentile. */
  ratio: { p50: number; p90: number; p99: number };
  /** What the outbox adds at the median: handled − bus event, delivered − bus event. */
  addedP50Ms: { write: number; total: number };
  writes: Writes;
  cpuPercent: number;
  otherCpuPercent: number | null;
  rssPeakMiB: number;
}

/** One burst as it ran. */
interface BurstRound {
  subscriptions: number;
  round: number;
  events: number;
  deliveries: number;
  /** First press → last delivery received. */
  durationMs: number;
  deliveriesPerSecond: number;
  /** First press → last `device.state` emitted: how fast the daemon took the changes in, outbox writes included. */
  ingestMs: number;
  /** Bus event → delivery received, of every delivery. */
  waits: number[];
  enqueueMs: number[];
  markDeliveredMs: number[];
  cpu: CpuSample;
  rssPeak: number;
}

/** The bursts of one subscription count, over all their rounds. */
interface BurstResult {
  subscriptions: number;
  rounds: number;
  events: number;
  deliveries: number;
  durationMs: number;
  deliveriesPerSecond: number;
  /** Each round's, to show the spread. */
  roundDeliveriesPerSecond: number[];
  eventsPerSecond: number;
  /** Each delivery from its bus event: the queueing of the burst. */
  eventToDelivery: Stats;
  writes: Writes;
  cpuPercent: number;
  /** null without deliveries. */
  cpuMsPerDelivery: number | null;
  brokerCpuPercent: number | null;
  otherCpuPercent: number | null;
  rssPeakMiB: number;
}

/** The lights and the next colour temperature of each. */
class Lights {
  private readonly next: number[];

  constructor(private readonly rig: HearthRig) {
    this.next = rig.credentials.map(() => 0);
  }

  get count(): number {
    return this.rig.credentials.length;
  }

  /** Change number `i` of a phase: the light it goes to, its key, and the press that makes it. */
  change(i: number): { key: string; press: () => Promise<void> } {
    const light = i % this.count;
    const { nodeId } = this.rig.credentials[light] as { nodeId: string };
    const step = this.next[light] as number;
    this.next[light] = step + 1;
    // From 2700 (the simulated light starts at 3000) up by one kelvin, wrapping: never the same twice in a row.
    const ctK = CT_MIN + (step % CT_VALUES);
    const node = this.rig.fleet.node(nodeId);
    if (!node) throw new Error(`no simulated node ${nodeId}`);
    return { key: keyOf(`${nodeId}.light`, ctK), press: () => node.press("light", { ct_k: ctK }) };
  }
}

/**
 * Hooks the daemon: the time of each `device.state` on the bus before any listener and after the dispatcher's
 * listener, the time the dispatcher recorded a delivery as done, and how long its two outbox writes take.
 */
interface DaemonHooks {
  /** Deliveries the dispatcher recorded as delivered over the whole run. */
  recorded: number;
}

function instrumentDaemon(rig: HearthRig, receiver: Receiver, teardown: Teardown): DaemonHooks {
  const hooks: DaemonHooks = { recorded: 0 };
  const bus = rig.bridge.daemon.bus;
  const emit = bus.emit.bind(bus);
  // Listeners run in the order they were added, and the dispatcher's were added when the daemon started: a
  // listener of our own would run after its durable write. The emit itself is the moment the change is known.
  bus.emit = ((event, payload) => {
    if (event === "device.state") receiver.recorder?.onEmitted(payload as DeviceStateEvent, performance.now());
    emit(event, payload);
  }) as typeof bus.emit;
  bus.on("bench", "device.state", (event) => receiver.recorder?.onHandled(event, performance.now()));
  const outbox = rig.bridge.daemon.store.outbox;
  const enqueue = outbox.enqueue.bind(outbox);
  outbox.enqueue = (deliveries, now) => {
    const started = performance.now();
    const ids = enqueue(deliveries, now);
    receiver.recorder?.enqueueMs.push(performance.now() - started);
    return ids;
  };
  const markDelivered = outbox.markDelivered.bind(outbox);
  outbox.markDelivered = (id, attempts, status, now) => {
    const started = performance.now();
    markDelivered(id, attempts, status, now);
    const done = performance.now();
    hooks.recorded++;
    receiver.recorder?.markDeliveredMs.push(done - started);
    receiver.recorder?.onRecorded(id, done);
  };
  teardown.add("daemon hooks", () => {
    bus.removeListeners("bench");
    bus.emit = emit;
    outbox.enqueue = enqueue;
    outbox.markDelivered = markDelivered;
  });
  return hooks;
}

async function latencyPhase(
  lights: Lights,
  receiver: Receiver,
  path: string,
  options: Options,
  brokerPid: number | undefined,
): Promise<LatencyResult> {
  const deadline = performance.now() + options.phaseTimeoutMs;
  const toBus: number[] = [];
  const toHandled: number[] = [];
  const toDelivery: number[] = [];
  const toRecorded: number[] = [];
  let recorder = new Recorder([path]);
  receiver.recorder = recorder;
  let meter: CpuMeter | undefined;
  let rss: RssSampler | undefined;
  for (let i = 0; i < options.warmup + options.changes; i++) {
    if (i === options.warmup) {
      // A fresh recorder, so that the write timings are the measured changes' only.
      recorder = new Recorder([path]);
      receiver.recorder = recorder;
      meter = new CpuMeter(brokerPid);
      rss = new RssSampler();
    }
    const current = recorder;
    const into = current.delivered.get(path) as Map<string, number>;
    const { key, press } = lights.change(i);
    current.expect(key);
    const started = performance.now();
    await Promise.all([
      press(),
      // Recorded too: the dispatcher's write after the answer must not land in the next change's figures.
      current.until(
        () => current.recorded.has(key) && current.emitted.has(key) && current.handled.has(key),
        deadline,
        () => `change ${i + 1} (${key}) to be delivered and recorded`,
      ),
    ]);
    if (i >= options.warmup) {
      toBus.push((current.emitted.get(key) as number) - started);
      toHandled.push((current.handled.get(key) as number) - started);
      toDelivery.push((into.get(key) as number) - started);
      toRecorded.push((current.recorded.get(key) as number) - started);
    }
  }
  receiver.recorder = undefined;
  const sample = (meter as CpuMeter).stop();
  const cpu = cpuPercents([sample]);
  const rssPeak = (rss as RssSampler).stop();
  const busEvent = statsOf(toBus);
  const handled = statsOf(toHandled);
  const delivered = statsOf(toDelivery);
  const recorded = statsOf(toRecorded);
  const result: LatencyResult = {
    changes: options.changes,
    warmup: options.warmup,
    subscriptions: 1,
    busEvent,
    handled,
    delivered,
    recorded,
    ratio: {
      p50: round(delivered.p50Ms / busEvent.p50Ms, 2),
      p90: round(delivered.p90Ms / busEvent.p90Ms, 2),
      p99: round(delivered.p99Ms / busEvent.p99Ms, 2),
    },
    addedP50Ms: {
      write: round(handled.p50Ms - busEvent.p50Ms, 3),
      total: round(delivered.p50Ms - busEvent.p50Ms, 3),
    },
    writes: writesOf(recorder.enqueueMs, recorder.markDeliveredMs, sample.wallMs),
    cpuPercent: round(cpu.self, 0),
    otherCpuPercent: cpu.other === null ? null : round(cpu.other, 0),
    rssPeakMiB: round(rssPeak / MIB, 1),
  };
  process.stderr.write(
    `  latency: bus event p50 ${busEvent.p50Ms} ms, delivered p50 ${delivered.p50Ms} ms, p99 ${delivered.p99Ms} ms\n`,
  );
  return result;
}

async function burstRound(
  lights: Lights,
  receiver: Receiver,
  paths: readonly string[],
  round: number,
  options: Options,
  brokerPid: number | undefined,
): Promise<BurstRound> {
  const recorder = new Recorder(paths);
  receiver.recorder = recorder;
  const total = options.burst;
  const deliveries = total * paths.length;
  const maps = [...recorder.delivered.values()];
  const delivered = () => maps.reduce((sum, m) => sum + m.size, 0);
  const meter = new CpuMeter(brokerPid);
  const rss = new RssSampler();
  const started = performance.now();
  const presses: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const { key, press } = lights.change(i);
    recorder.expect(key);
    presses.push(press());
  }
  let rssPeak = 0;
  let cpu: CpuSample;
  try {
    await Promise.all([
      ...presses,
      // Until the dispatcher has recorded the last answers too, so that their writes count in this burst.
      recorder.until(
        () =>
          recorder.emitted.size === total &&
          maps.every((m) => m.size === total) &&
          recorder.markDeliveredMs.length === deliveries,
        started + options.phaseTimeoutMs,
        () =>
          `${total} changes × ${paths.length} subscriptions: ${recorder.emitted.size} events, ` +
          `${delivered()} of ${deliveries} deliveries, ${recorder.markDeliveredMs.length} recorded`,
      ),
    ]);
  } finally {
    cpu = meter.stop();
    rssPeak = rss.stop();
    receiver.recorder = undefined;
  }
  const lastEmit = Math.max(...recorder.emitted.values());
  // Without subscriptions, the burst ends with its last event.
  const lastDelivery = Math.max(lastEmit, ...maps.map((m) => Math.max(...m.values())));
  const waits: number[] = [];
  for (const m of maps) for (const [key, at] of m) waits.push(at - (recorder.emitted.get(key) as number));
  const durationMs = lastDelivery - started;
  const result: BurstRound = {
    subscriptions: paths.length,
    round,
    events: total,
    deliveries,
    durationMs,
    deliveriesPerSecond: round0((deliveries / durationMs) * 1000),
    ingestMs: lastEmit - started,
    waits,
    enqueueMs: recorder.enqueueMs,
    markDeliveredMs: recorder.markDeliveredMs,
    cpu,
    rssPeak,
  };
  process.stderr.write(
    `  burst of ${total} × ${paths.length} subscriptions, round ${round}: ${result.deliveriesPerSecond} deliveries/s, ` +
      `${round0((total / result.ingestMs) * 1000)} events/s in, ${(durationMs / 1000).toFixed(1)} s\n`,
  );
  return result;
}

const round0 = (value: number) => round(value, 0);

/** The rounds of one subscription count as one result. */
function burstResult(rounds: readonly BurstRound[]): BurstResult {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const first = rounds[0] as BurstRound;
  const events = sum(rounds.map((r) => r.events));
  const deliveries = sum(rounds.map((r) => r.deliveries));
  const durationMs = sum(rounds.map((r) => r.durationMs));
  const cpu = cpuPercents(rounds.map((r) => r.cpu));
  const wallMs = sum(rounds.map((r) => r.cpu.wallMs));
  return {
    subscriptions: first.subscriptions,
    rounds: rounds.length,
    events,
    deliveries,
    durationMs: round(durationMs, 1),
    deliveriesPerSecond: deliveries > 0 ? round0((deliveries / durationMs) * 1000) : 0,
    roundDeliveriesPerSecond: rounds.map((r) => r.deliveriesPerSecond),
    eventsPerSecond: round0((events / sum(rounds.map((r) => r.ingestMs))) * 1000),
    eventToDelivery: statsOf(rounds.flatMap((r) => r.waits)),
    writes: writesOf(
      rounds.flatMap((r) => r.enqueueMs),
      rounds.flatMap((r) => r.markDeliveredMs),
      durationMs,
    ),
    cpuPercent: round0(cpu.self),
    cpuMsPerDelivery: deliveries > 0 ? round(((cpu.self / 100) * wallMs) / deliveries, 3) : null,
    brokerCpuPercent: cpu.broker === null ? null : round0(cpu.broker),
    otherCpuPercent: cpu.other === null ? null : round0(cpu.other),
    rssPeakMiB: round(Math.max(...rounds.map((r) => r.rssPeak)) / MIB, 1),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Subscriptions

interface Subscribed {
  id: string;
  path: string;
}

/** Makes or removes subscriptions through the admin API until exactly `count` exist, `/s1`… in order. */
async function subscribe(
  rig: HearthRig,
  receiver: Receiver,
  agent: http.Agent,
  current: Subscribed[],
  count: number,
): Promise<void> {
  const base = new URL(rig.bridge.httpUrl);
  const authorization = `Bearer ${rig.token}`;
  while (current.length > count) {
    const gone = current.pop() as Subscribed;
    const answer = await httpRequest(agent, base, {
      method: "DELETE",
      path: `/api/v1/subscriptions/${gone.id}`,
      headers: { authorization },
    });
    if (answer.status !== 204) throw new Error(`removing a subscription: HTTP ${answer.status}: ${answer.text}`);
  }
  while (current.length < count) {
    const path = `/s${current.length + 1}`;
    const answer = await httpRequest(agent, base, {
      method: "POST",
      path: "/api/v1/subscriptions",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url(path), events: ["device.state"] }),
    });
    const created = answer.status === 201 ? (JSON.parse(answer.text) as { id?: string; secret?: string }) : {};
    if (typeof created.id !== "string" || typeof created.secret !== "string") {
      throw new Error(`making a subscription: HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
    }
    receiver.addSecret(path, created.secret);
    current.push({ id: created.id, path });
  }
}

/**
 * Waits until the dispatcher has recorded every answer, then checks that nothing took a second attempt or
 * died: a retry would come 5 s later as a repeat, and none may be left to come.
 */
async function settleOutbox(bridge: TestBridge): Promise<void> {
  const db = bridge.daemon.store.db;
  const count = (where: string) =>
    (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE ${where}`).get() as { n: number }).n;
  await waitUntil(() => count("state = 'pending'") === 0, SETTLE_MS, "the outbox to have no pending delivery");
  const retried = count("attempts > 1");
  const dead = count("state = 'dead'");
  if (retried > 0 || dead > 0) throw new Error(`the outbox holds ${retried} retried and ${dead} dead deliveries`);
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const LATENCY_COLUMNS = ["from the press to", "changes", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"];
const BURST_COLUMNS = [
  "subscriptions",
  "rounds",
  "deliveries",
  "time s",
  "deliveries/s",
  "per round",
  "events/s in",
  "wait p50 ms",
  "wait p99 ms",
  "wait max ms",
  "CPU %",
  "CPU ms/delivery",
  "mosq %",
  "other %",
  "RSS MiB",
];
const WRITE_COLUMNS = ["phase", "enqueue", "p50 ms", "p99 ms", "markDelivered", "p50 ms", "p99 ms", "loop %"];

function latencyRow(name: string, s: Stats): string[] {
  return [name, String(s.count), ...latencyCells(s), s.meanMs.toFixed(2)];
}

function burstRow(r: BurstResult): string[] {
  const some = r.deliveries > 0;
  const ifSome = (text: string) => (some ? text : "-");
  return [
    String(r.subscriptions),
    String(r.rounds),
    String(r.deliveries),
    (r.durationMs / 1000).toFixed(2),
    ifSome(String(r.deliveriesPerSecond)),
    ifSome(r.roundDeliveriesPerSecond.join("/")),
    String(r.eventsPerSecond),
    ifSome(r.eventToDelivery.p50Ms.toFixed(0)),
    ifSome(r.eventToDelivery.p99Ms.toFixed(0)),
    ifSome(r.eventToDelivery.maxMs.toFixed(0)),
    String(r.cpuPercent),
    ifSome(r.cpuMsPerDelivery?.toFixed(2) ?? "-"),
    r.brokerCpuPercent === null ? "-" : String(r.brokerCpuPercent),
    r.otherCpuPercent === null ? "-" : String(r.otherCpuPercent),
    r.rssPeakMiB.toFixed(0),
  ];
}

function writeRow(phase: string, w: Writes): string[] {
  return [
    phase,
    String(w.enqueue.count),
    w.enqueue.p50Ms.toFixed(2),
    w.enqueue.p99Ms.toFixed(2),
    String(w.markDelivered.count),
    w.markDelivered.p50Ms.toFixed(2),
    w.markDelivered.p99Ms.toFixed(2),
    String(w.loopPercent),
  ];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

async function run(options: Options): Promise<number> {
  const teardown = new Teardown();
  teardown.stopOnSignals();
  const processRss = new RssSampler();
  teardown.add("RSS sampler", () => {
    processRss.stop();
  });
  process.stderr.write(
    `Webhook deliveries: ${options.devices} lights, ${options.changes} sequential changes after ${options.warmup}, ` +
      `bursts of ${options.burst} with ${options.subscriptions.join(", ")} subscriptions × ${options.rounds} rounds, ` +
      `receiver answering after ${options.answerDelayMs} ms\n`,
  );

  let logs: TestBridge | undefined;
  let mosquittoVersion: string | undefined;
  let latency: LatencyResult;
  const rounds: BurstRound[] = [];
  let receiver: Receiver;
  let hooks: DaemonHooks;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  teardown.add("admin API agent", () => agent.destroy());
  try {
    receiver = await Receiver.start(options.answerDelayMs);
    const started = receiver;
    teardown.add("receiver", () => started.stop());
    const rig = await startHearth(options.broker, options.devices, teardown, {
      "webhooks.allowPrivateDestinations": true,
    });
    logs = rig.bridge;
    if (rig.bridge.mosquitto) mosquittoVersion = mosquittoVersionOf(rig.bridge.mosquitto.logs());
    hooks = instrumentDaemon(rig, receiver, teardown);
    const lights = new Lights(rig);
    const subscriptions: Subscribed[] = [];

    await subscribe(rig, receiver, agent, subscriptions, 1);
    latency = await latencyPhase(lights, receiver, (subscriptions[0] as Subscribed).path, options, rig.brokerPid);
    for (let turn = 1; turn <= options.rounds; turn++) {
      for (const count of options.subscriptions) {
        // The previous burst's last answers are recorded, and checked, before the next burst starts.
        await settleOutbox(rig.bridge);
        await subscribe(rig, receiver, agent, subscriptions, count);
        const paths = subscriptions.map((s) => s.path);
        rounds.push(await burstRound(lights, receiver, paths, turn, options, rig.brokerPid));
      }
    }
    await settleOutbox(rig.bridge);
    if (receiver.lateFailure) throw receiver.lateFailure;
    if (hooks.recorded !== receiver.received) {
      throw new Error(`${receiver.received} deliveries received, but ${hooks.recorded} recorded as delivered`);
    }
  } catch (error) {
    return abortRun(error, teardown, logs);
  }
  await teardown.unwind();
  const peakRssMiB = round(processRss.stop() / MIB, 1);

  const bursts = options.subscriptions.map((count) => burstResult(rounds.filter((r) => r.subscriptions === count)));
  // Deliveries against the fewest subscriptions that deliver; the intake against the burst without any.
  const delivering = bursts.filter((b) => b.subscriptions > 0).sort((a, b) => a.subscriptions - b.subscriptions);
  const base = delivering[0];
  const floor = bursts.find((b) => b.subscriptions === 0);
  const ratios = delivering.slice(1).map((b) => ({
    subscriptions: b.subscriptions,
    against: (base as BurstResult).subscriptions,
    deliveriesPerSecond: round(b.deliveriesPerSecond / (base as BurstResult).deliveriesPerSecond, 2),
    cpuPerDelivery: round((b.cpuMsPerDelivery as number) / ((base as BurstResult).cpuMsPerDelivery as number), 2),
  }));
  const intake = floor
    ? delivering.map((b) => ({
        subscriptions: b.subscriptions,
        eventsPerSecond: round(b.eventsPerSecond / floor.eventsPerSecond, 2),
      }))
    : [];
  const info = machine(mosquittoVersion, "in-process (same event loop as the daemon and the simulated nodes)");
  const lines = [
    "",
    `Webhook deliveries — ${info.cpus} × ${info.cpuModel}, Node ${info.node}, broker ${options.broker}` +
      `${mosquittoVersion ? ` ${mosquittoVersion}` : ""}; ${options.devices} simulated lights, receiver on 127.0.0.1 ` +
      `answering 200 after ${options.answerDelayMs} ms; everything in one process`,
    "",
    `Latency: ${latency.changes} sequential changes (after ${latency.warmup} unmeasured), 1 subscription`,
    "",
    table(LATENCY_COLUMNS, [
      latencyRow("device.state on the bus", latency.busEvent),
      latencyRow("event handled (outbox written)", latency.handled),
      latencyRow("delivery received", latency.delivered),
      latencyRow("delivery recorded (200 + outbox)", latency.recorded),
    ]),
    "",
    `delivery / bus event: p50 ${latency.ratio.p50.toFixed(2)}×, p90 ${latency.ratio.p90.toFixed(2)}×, ` +
      `p99 ${latency.ratio.p99.toFixed(2)}×; the outbox adds ${latency.addedP50Ms.total.toFixed(2)} ms at p50, ` +
      `${latency.addedP50Ms.write.toFixed(2)} ms of it before the event's listeners return ` +
      `(CPU ${latency.cpuPercent} %, other ${latency.otherCpuPercent ?? "-"} %)`,
    "",
    `Bursts: ${options.burst} changes at once over ${options.devices} lights, ${plural(options.rounds, "round")} ` +
      `in turns; wait = bus event → delivery received`,
    "",
    table(BURST_COLUMNS, bursts.map(burstRow)),
  ];
  if (ratios.length + intake.length > 0) lines.push("");
  for (const r of ratios) {
    lines.push(
      `${r.subscriptions} / ${r.against} subscriptions: deliveries/s ${r.deliveriesPerSecond.toFixed(2)}×, ` +
        `CPU per delivery ${r.cpuPerDelivery.toFixed(2)}×`,
    );
  }
  if (intake.length > 0) {
    lines.push(
      `events/s in against the burst without subscriptions: ` +
        intake.map((r) => `${plural(r.subscriptions, "subscription")} ${r.eventsPerSecond.toFixed(2)}×`).join(", "),
    );
  }
  lines.push(
    "",
    "Outbox writes (each a synchronous=FULL commit on the event loop; loop % = their time over the phase's)",
    "",
    table(WRITE_COLUMNS, [
      writeRow("latency", latency.writes),
      ...delivering.map((b) => writeRow(`burst, ${plural(b.subscriptions, "subscription")}`, b.writes)),
    ]),
    "",
    `Exactly once: ${receiver.received} deliveries received and recorded, every webhook-id once, none lost, ` +
      `none retried or dead; ${receiver.verified} signatures verified (1 in ${SIGNATURE_SAMPLE})`,
    "",
    `Peak RSS of the process over the whole run: ${peakRssMiB.toFixed(0)} MiB`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);

  if (options.writeJson) {
    const file = await writeResults(BENCHMARK, {
      benchmark: BENCHMARK,
      finishedAt: new Date().toISOString(),
      machine: info,
      options: { ...options, signatureSample: SIGNATURE_SAMPLE },
      latency,
      bursts,
      rounds: rounds.map((r) => ({
        subscriptions: r.subscriptions,
        round: r.round,
        deliveries: r.deliveries,
        durationMs: round(r.durationMs, 1),
        deliveriesPerSecond: r.deliveriesPerSecond,
        ingestMs: round(r.ingestMs, 1),
      })),
      ratios,
      intake,
      received: receiver.received,
      signaturesVerified: receiver.verified,
      peakRssMiB,
    });
    process.stdout.write(`\nresults written to ${file}\n`);
  }
  return 0;
}

runMain(async () => {
  const parsed = optionsOrExit(() => parseOptions(process.argv.slice(2), process.env), HELP);
  if (typeof parsed === "number") return parsed;
  return run(parsed);
});
