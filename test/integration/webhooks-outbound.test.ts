/**
 * Outbound webhooks against a local receiver on 127.0.0.1, on real SQLite files. reliability-perf.md §A2:
 * success is 2xx only and a redirect is a failure; `410` disables the endpoint; `Retry-After` is honoured;
 * the Standard Webhooks schedule is immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, then
 * dead, with a replay; every attempt has the same `webhook-id` and a fresh `webhook-timestamp`; SSRF is
 * guarded against; and a kill -9 during the backoff loses neither the delivery nor its attempt count.
 *
 * The schedule runs on a dispatcher with a fake clock and timers that never fire (the test drives it with
 * `drain()`); what a user sees runs on a real daemon with a simulated node, the admin API and the CLI.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DeviceStateEvent, EventBus } from "../../src/bus.ts";
import { type Config, ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { type DeliveryRecord, Store } from "../../src/store/index.ts";
import { checkDestination, DestinationError, type Resolver } from "../../src/webhooks/destination.ts";
import { WebhookPayloadSchema } from "../../src/webhooks/events.ts";
import { type Timers, WebhookDispatcher } from "../../src/webhooks/outbox.ts";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from "../../src/webhooks/retry-schedule.ts";
import { signStandard, verifyStandard } from "../../src/webhooks/signature.ts";
import { addSubscription, replayDelivery, SubscriptionError } from "../../src/webhooks/subscriptions.ts";
import { eventually, LogCapture, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, Cleanup } from "../helpers/integration.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const SECOND = 1000;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = { status: number; headers?: Record<string, string> } | "hang";

/** A webhook receiver: records every request and answers as told, per path. */
class Receiver {
  readonly requests: Received[] = [];
  /** Requests being answered right now, and the most there ever were at once. */
  open = 0;
  maxOpen = 0;
  private answer: (path: string) => Answer = () => ({ status: 204 });
  private held: Array<() => void> = [];

  private constructor(private readonly server: ReturnType<typeof createServer>) {}

  static async start(): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = createServer((req, res) => receiver?.handle(req, res));
    receiver = new Receiver(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  answerWith(answer: Answer | ((path: string) => Answer)): void {
    this.answer = typeof answer === "function" ? answer : () => answer;
  }

  /** Holds every request until release() is called. */
  hold(): void {
    this.answer = () => "hang";
  }

  release(status = 200): void {
    this.answer = () => ({ status });
    for (const finish of this.held.splice(0)) finish();
  }

  at(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      // Counted until the answer is written: the sender cannot start another request before it has one.
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      const answer = this.answer(path);
      if (answer === "hang") {
        this.held.push(() => {
          this.open--;
          res.writeHead(200).end();
        });
        return;
      }
      this.open--;
      res.writeHead(answer.status, answer.headers ?? {}).end();
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Timers that never fire: the test moves the clock and calls drain(). */
const MANUAL_TIMERS: Timers = { setTimeout: () => undefined, clearTimeout: () => undefined };

/** Resolves the given names to the given addresses, and no others. */
function resolverOf(addresses: Record<string, string>): Resolver {
  return async (hostname) => {
    const address = addresses[hostname];
    if (!address) throw Object.assign(new Error(`no ${hostname}`), { code: "ENOTFOUND" });
    return [{ address, family: address.includes(":") ? 6 : 4 }];
  };
}

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-webhooks-out-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

function webhooksConfig(settings: Partial<Config["webhooks"]> = {}): Config["webhooks"] {
  return ConfigSchema.shape.webhooks.parse({ allowPrivateDestinations: true, ...settings });
}

function stateEvent(at: number, on = true): DeviceStateEvent {
  return { deviceId: "hall-1.light", nodeId: "hall-1", state: { on }, changed: ["on"], cause: "report", at };
}

interface Fixture {
  dir: string;
  store: Store;
  bus: EventBus;
  clock: { t: number };
  dispatcher: WebhookDispatcher;
  config: Config["webhooks"];
  logs: LogCapture;
  secrets: string[];
  /** A subscription created the way the API creates one. */
  subscribe(url: string, events?: string[]): Promise<string>;
  /** The only delivery of a subscription. */
  delivery(subscriptionId: string): DeliveryRecord;
  close(): Promise<void>;
}

interface SetupOptions {
  settings?: Partial<Config["webhooks"]>;
  random?: () => number;
  resolve?: Resolver;
}

async function setup(options: SetupOptions = {}): Promise<Fixture> {
  const dir = join(root, `data-${++counter}`);
  const store = Store.open(dir);
  const bus = new EventBus();
  // A whole second, so that HTTP dates (second precision) compare exactly.
  const clock = { t: Math.floor(Date.now() / SECOND) * SECOND };
  const config = webhooksConfig(options.settings);
  const logs = new LogCapture();
  const dispatcher = new WebhookDispatcher({
    store,
    bus,
    config,
    log: createLogger("debug", logs),
    now: () => clock.t,
    timers: MANUAL_TIMERS,
    ...(options.random ? { random: options.random } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  dispatcher.start();
  const secrets: string[] = [];
  return {
    dir,
    store,
    bus,
    clock,
    dispatcher,
    config,
    logs,
    secrets,
    async subscribe(url, events = ["device.state"]) {
      const created = await addSubscription(
        store,
        config,
        { url, events },
        { now: clock.t, ...(options.resolve ? { resolve: options.resolve } : {}) },
      );
      secrets.push(created.secret);
      return created.subscription.id;
    },
    delivery(subscriptionId) {
      const [only, ...more] = store.outbox.list(subscriptionId);
      assert.ok(only, "a delivery was queued");
      assert.equal(more.length, 0, "one delivery");
      return only;
    },
    async close() {
      await dispatcher.stop();
      assertNoSecretsLogged(logs, secrets);
      store.close();
    },
  };
}

function assertNoSecretsLogged(logs: LogCapture, secrets: readonly string[]): void {
  const text = logs.text();
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), "a signing secret reached the log");
    assert.ok(!text.includes(secret.slice("whsec_".length)), "a signing key reached the log");
  }
  assert.ok(!text.includes("v1,"), "a signature reached the log");
}

describe("the retry schedule (fake clock)", () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await Receiver.start();
  });
  after(() => receiver.stop());

  test("500s are retried after 5 s, 5 min, … 24 h (±10 %) with the same webhook-id, then dead; a replay delivers it", async () => {
    const f = await setup();
    const path = "/always-500";
    receiver.answerWith({ status: 500 });
    const sub = await f.subscribe(receiver.url(path));
    f.bus.emit("device.state", stateEvent(f.clock.t));
    await f.dispatcher.drain();
    assert.equal(receiver.at(path).length, 1, "the first attempt is immediate");

    for (let retry = 1; retry < MAX_ATTEMPTS; retry++) {
      const row = f.delivery(sub);
      assert.equal(row.state, "pending");
      assert.equal(row.attempts, retry);
      assert.equal(row.lastStatus, 500);
      const wait = row.nextAttemptAt - f.clock.t;
      const planned = RETRY_DELAYS_MS[retry - 1] as number;
      assert.ok(wait >= planned * 0.9 && wait <= planned * 1.1, `retry ${retry}: waits ${wait} ms, planned ${planned}`);
      f.clock.t = row.nextAttemptAt - 1;
      await f.dispatcher.drain();
      assert.equal(receiver.at(path).length, retry, "nothing is sent before the retry is due");
      f.clock.t = row.nextAttemptAt;
      await f.dispatcher.drain();
      assert.equal(receiver.at(path).length, retry + 1);
    }

    const dead = f.delivery(sub);
    assert.equal(dead.state, "dead");
    assert.equal(dead.attempts, 10);
    assert.equal(dead.lastError, "HTTP 500");
    assert.equal(f.store.subscriptions.get(sub)?.lastError, "HTTP 500");
    f.clock.t += 100 * 3600 * SECOND;
    await f.dispatcher.drain();
    assert.equal(receiver.at(path).length, 10, "a dead delivery is not retried");

    const attempts = receiver.at(path);
    assert.equal(new Set(attempts.map((r) => r.headers["webhook-id"])).size, 1, "one webhook-id for every attempt");
    assert.equal(attempts[0]?.headers["webhook-id"], dead.id);
    const timestamps = attempts.map((r) => Number(r.headers["webhook-timestamp"]));
    assert.equal(new Set(timestamps).size, 10, "a fresh webhook-timestamp for every attempt");

    receiver.answerWith({ status: 200 });
    const replayed = replayDelivery(f.store, dead.id, f.clock.t);
    assert.equal(replayed.state, "pending");
    assert.equal(replayed.attempts, 0, "a replay starts a new schedule");
    f.dispatcher.wake();
    await f.dispatcher.drain();
    const last = receiver.at(path).at(-1);
    assert.equal(receiver.at(path).length, 11);
    assert.equal(last?.headers["webhook-id"], dead.id, "the replay has the same webhook-id");
    assert.equal(last?.body, attempts[0]?.body, "and the same payload");
    const delivered = f.delivery(sub);
    assert.equal(delivered.state, "delivered");
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.deliveredAt, f.clock.t);
    assert.equal(f.store.subscriptions.get(sub)?.lastError, null, "a success clears the subscription's last error");
    await f.close();
  });

  test("Retry-After is honoured in seconds and as an HTTP date, but never makes a retry earlier than the schedule", async () => {
    const f = await setup({ random: () => 0.5 });
    const path = "/throttled";
    const sub = await f.subscribe(receiver.url(path));

    receiver.answerWith({ status: 429, headers: { "retry-after": "600" } });
    f.bus.emit("device.state", stateEvent(f.clock.t));
    await f.dispatcher.drain();
    let row = f.delivery(sub);
    assert.equal(row.lastStatus, 429);
    assert.equal(row.nextAttemptAt, f.clock.t + 600 * SECOND, "600 s rather than 5 s");

    f.clock.t = row.nextAttemptAt;
    const inTwoHours = new Date(f.clock.t + 2 * 3600 * SECOND).toUTCString();
    receiver.answerWith({ status: 503, headers: { "retry-after": inTwoHours } });
    await f.dispatcher.drain();
    row = f.delivery(sub);
    assert.equal(row.attempts, 2);
    assert.equal(row.nextAttemptAt, Date.parse(inTwoHours), "the date rather than 5 min");

    f.clock.t = row.nextAttemptAt;
    receiver.answerWith({ status: 429, headers: { "retry-after": "1" } });
    await f.dispatcher.drain();
    row = f.delivery(sub);
    assert.equal(row.attempts, 3);
    assert.equal(row.nextAttemptAt, f.clock.t + 30 * 60 * SECOND, "the schedule's 30 min, not 1 s");
    assert.equal(receiver.at(path).length, 3);
    await f.close();
  });

  test("410 Gone disables the subscription and ends its pending deliveries; nothing more is queued or replayed", async () => {
    const f = await setup();
    const path = "/gone";
    const sub = await f.subscribe(receiver.url(path));
    receiver.answerWith({ status: 500 });
    f.bus.emit("device.state", stateEvent(f.clock.t, true));
    await f.dispatcher.drain();
    const [first] = f.store.outbox.list(sub);
    assert.equal(first?.state, "pending");

    receiver.answerWith({ status: 410 });
    f.bus.emit("device.state", stateEvent(f.clock.t, false));
    await f.dispatcher.drain();
    const subscription = f.store.subscriptions.get(sub);
    assert.equal(subscription?.state, "disabled");
    assert.equal(subscription?.disabledAt, f.clock.t);
    assert.match(subscription?.lastError ?? "", /410 Gone/);
    const rows = f.store.outbox.list(sub);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.state, "dead", row.id);
      assert.match(row.lastError ?? "", /410 Gone/);
    }
    const answered = rows.find((row) => row.id !== first?.id);
    assert.equal(answered?.lastStatus, 410);
    assert.equal(answered?.attempts, 1);
    assert.equal(f.store.outbox.get(first?.id as string)?.lastStatus, 500, "the other one was never answered 410");

    f.bus.emit("device.state", stateEvent(f.clock.t, true));
    assert.equal(f.store.outbox.list(sub).length, 2, "a disabled subscription gets nothing new");
    f.clock.t += 3600 * SECOND;
    await f.dispatcher.drain();
    assert.equal(receiver.at(path).length, 2);
    assert.throws(
      () => replayDelivery(f.store, first?.id as string),
      (error: unknown) => error instanceof SubscriptionError && error.code === "subscription_disabled",
    );
    await f.close();
  });

  test("a receiver that does not answer within webhooks.deliveryTimeoutMs is a failure, retried later", async () => {
    const f = await setup({ settings: { deliveryTimeoutMs: 1000 } });
    const path = "/hangs";
    const sub = await f.subscribe(receiver.url(path));
    receiver.hold();
    try {
      f.bus.emit("device.state", stateEvent(f.clock.t));
      await f.dispatcher.drain();
    } finally {
      receiver.release();
    }
    const row = f.delivery(sub);
    assert.equal(row.state, "pending");
    assert.equal(row.attempts, 1);
    assert.equal(row.lastStatus, null);
    assert.equal(row.lastError, "no answer within 1 s");
    assert.equal(receiver.at(path).length, 1);
    await f.close();
  });

  test("a redirect is not followed: it is a failure like any other non-2xx", async () => {
    const f = await setup();
    const sub = await f.subscribe(receiver.url("/moved"));
    receiver.answerWith((path) =>
      path === "/moved" ? { status: 307, headers: { location: receiver.url("/elsewhere") } } : { status: 200 },
    );
    f.bus.emit("device.state", stateEvent(f.clock.t));
    await f.dispatcher.drain();
    assert.equal(receiver.at("/moved").length, 1);
    assert.equal(receiver.at("/elsewhere").length, 0, "the Location was not followed");
    const row = f.delivery(sub);
    assert.equal(row.state, "pending");
    assert.equal(row.lastStatus, 307);
    assert.match(row.lastError ?? "", /redirects are not followed/);
    await f.close();
  });

  test("at most four requests are in flight, two per subscription, however many deliveries are due", async () => {
    const f = await setup();
    const subs = [await f.subscribe(receiver.url("/slow-a")), await f.subscribe(receiver.url("/slow-b"))];
    receiver.maxOpen = 0;
    receiver.hold();
    for (let i = 0; i < 7; i++) f.bus.emit("device.state", stateEvent(f.clock.t + i, i % 2 === 0));
    const drained = f.dispatcher.drain();
    await eventually(
      () => receiver.at("/slow-a").length === 2 && receiver.at("/slow-b").length === 2,
      3000,
      "two requests per subscription held by the receiver",
    );
    receiver.release(200);
    await drained;
    assert.equal(receiver.at("/slow-a").length + receiver.at("/slow-b").length, 14);
    assert.equal(receiver.maxOpen, 4);
    for (const sub of subs) assert.ok(f.store.outbox.list(sub).every((row) => row.state === "delivered"));
    await f.close();
  });

  test("a receiver that does not answer holds up only its own subscription", async () => {
    const f = await setup();
    await f.subscribe(receiver.url("/hang"));
    await f.subscribe(receiver.url("/fine"));
    receiver.answerWith((path) => (path === "/hang" ? "hang" : { status: 200 }));
    for (let i = 0; i < 6; i++) f.bus.emit("device.state", stateEvent(f.clock.t + i, i % 2 === 0));
    f.dispatcher.wake();
    await eventually(() => receiver.at("/fine").length === 6, 3000, "every delivery to the healthy receiver");
    assert.equal(receiver.at("/hang").length, 2, "the silent one ties up two requests, no more");
    receiver.release(200);
    await f.dispatcher.drain();
    await f.close();
  });
});

describe("the SSRF guard", () => {
  const PRIVATE_URLS = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.9/hook",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://2130706433/hook",
  ];
  const resolve = resolverOf({ "hooks.example.com": "93.184.216.34", "intranet.example.com": "10.0.0.5" });

  test("refuses loopback, private, CGNAT, link-local, unique-local and unspecified addresses, literal or resolved", async () => {
    for (const url of [...PRIVATE_URLS, "https://intranet.example.com/hook"]) {
      await assert.rejects(
        checkDestination(url, { allowPrivate: false, resolve }),
        (error: unknown) =>
          error instanceof DestinationError && /webhooks\.allowPrivateDestinations/.test(error.message),
        url,
      );
    }
    await assert.rejects(checkDestination("https://localhost/hook", { allowPrivate: false }), DestinationError);
    const url = await checkDestination("https://hooks.example.com/hook?token=x", { allowPrivate: false, resolve });
    assert.equal(url.href, "https://hooks.example.com/hook?token=x");
  });

  test("plain http:, credentials in the URL and names that do not resolve are refused; private destinations may be allowed", async () => {
    await assert.rejects(checkDestination("http://hooks.example.com/", { allowPrivate: false, resolve }), /https:\/\//);
    await assert.rejects(
      checkDestination("https://user:pw@hooks.example.com/", { allowPrivate: false, resolve }),
      /user name or password/,
    );
    await assert.rejects(checkDestination("ftp://hooks.example.com/", { allowPrivate: true, resolve }), /https:\/\//);
    await assert.rejects(
      checkDestination("https://nowhere.example.com/", { allowPrivate: false, resolve }),
      /cannot resolve/,
    );
    for (const url of [...PRIVATE_URLS, "http://intranet.example.com:8080/hook"]) {
      await checkDestination(url, { allowPrivate: true, resolve });
    }
  });

  test("a subscription to a private address is refused when it is created", async () => {
    const f = await setup({ settings: { allowPrivateDestinations: false }, resolve });
    for (const url of ["https://127.0.0.1:8443/hook", "https://intranet.example.com/hook"]) {
      await assert.rejects(
        f.subscribe(url),
        (error: unknown) => error instanceof SubscriptionError && error.code === "forbidden_destination",
      );
    }
    assert.deepEqual(f.store.subscriptions.list(), []);
    await f.close();
  });

  test("every delivery checks the address it connects to: a name re-pointed at a private address is refused", async () => {
    const receiver = await Receiver.start();
    const addresses: Record<string, string> = { "hooks.example.com": "93.184.216.34" };
    const pointing = resolverOf(addresses);
    const f = await setup({ settings: { allowPrivateDestinations: false }, resolve: pointing });
    const sub = await f.subscribe(`https://hooks.example.com:${receiver.port}/hook`);
    addresses["hooks.example.com"] = "127.0.0.1";
    f.bus.emit("device.state", stateEvent(f.clock.t));
    await f.dispatcher.drain();
    const row = f.delivery(sub);
    assert.equal(row.state, "pending", "retried: the name may be pointed back");
    assert.equal(row.lastStatus, null);
    assert.match(row.lastError ?? "", /^refused: hooks\.example\.com resolves to 127\.0\.0\.1/);
    assert.equal(receiver.requests.length, 0, "nothing reached the private address");
    await f.close();

    // Allowed, the very same name reaches the receiver at the address the lookup gave.
    const g = await setup({ resolve: pointing });
    const allowed = await g.subscribe(`http://hooks.example.com:${receiver.port}/hook`);
    g.bus.emit("device.state", stateEvent(g.clock.t));
    await g.dispatcher.drain();
    assert.equal(g.delivery(allowed).state, "delivered");
    assert.equal(receiver.requests[0]?.headers.host, `hooks.example.com:${receiver.port}`);
    // Private destinations turned off after the subscription was made: its next delivery is refused.
    const h = new WebhookDispatcher({
      store: g.store,
      bus: g.bus,
      config: webhooksConfig({ allowPrivateDestinations: false }),
      log: createLogger("silent"),
      now: () => g.clock.t,
      timers: MANUAL_TIMERS,
      resolve: pointing,
    });
    await g.dispatcher.stop();
    const literal = g.store.subscriptions.add(
      { url: receiver.url("/literal"), secret: "whsec_AAAA", events: ["device.state"] },
      0,
    );
    h.start();
    g.bus.emit("device.state", stateEvent(g.clock.t));
    await h.drain();
    await h.stop();
    const [refused] = g.store.outbox.list(literal.id);
    assert.match(refused?.lastError ?? "", /^refused: .*webhooks\.allowPrivateDestinations/);
    assert.equal(receiver.at("/literal").length, 0);
    await g.close();
    await receiver.stop();
  });
});

describe("delivery from a running daemon", () => {
  const cleanup = new Cleanup();
  let bridge: TestBridge;
  let receiver: Receiver;
  let hall: SimNode;
  const NODE = "wh-hall-1";
  const LIGHT = `${NODE}.light`;

  before(async () => {
    receiver = cleanup.add(await Receiver.start(), (r) => r.stop());
    bridge = cleanup.add(
      await TestBridge.start("embedded", { settings: { "webhooks.allowPrivateDestinations": true } }),
      (b) => b.stop(),
    );
    ({ sim: hall } = await addAndConnectNode(bridge, NODE, { devices: ["light"] }));
    cleanup.add(hall, (s) => s.close());
  });
  after(() => cleanup.run());

  function cliEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (key.startsWith("HEARTH_")) env[key] = undefined;
    return {
      ...env,
      HEARTH_DATA_DIR: bridge.dataDir,
      HEARTH_URL: bridge.httpUrl,
      HEARTH_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS: "true",
    };
  }

  function runCli(args: string[], env: NodeJS.ProcessEnv = cliEnv()) {
    return runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
  }

  test("a state change on a node is delivered signed, with the Standard Webhooks headers and a thin payload", async () => {
    const created = await bridge.api("POST", "/api/v1/subscriptions", {
      url: receiver.url("/state"),
      events: ["device.state"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { id, secret } = created.body as { id: string; secret: string };
    assert.match(secret, /^whsec_/);

    await hall.press("light", { on: true, brightness: 35 });
    const [request] = await eventually(() => (receiver.at("/state").length > 0 ? receiver.at("/state") : undefined));
    assert.ok(request);
    const { headers, body } = request;
    assert.equal(headers["content-type"], "application/json");
    assert.match(headers["webhook-id"] as string, /^msg_/);
    const nowS = Math.floor(Date.now() / SECOND);
    assert.equal(
      verifyStandard(
        [secret],
        {
          id: headers["webhook-id"] as string,
          timestamp: headers["webhook-timestamp"] as string,
          signature: headers["webhook-signature"] as string,
        },
        Buffer.from(body),
        nowS,
      ),
      undefined,
      "the signature verifies with the subscription's secret",
    );
    assert.equal(
      headers["webhook-signature"],
      signStandard(secret, headers["webhook-id"] as string, Number(headers["webhook-timestamp"]), body),
    );
    assert.ok(Buffer.byteLength(body) < 20_000);
    const payload = WebhookPayloadSchema.parse(JSON.parse(body));
    assert.equal(payload.type, "device.state");
    assert.ok(!Number.isNaN(Date.parse(payload.timestamp)));
    assert.equal(payload.type === "device.state" && payload.data.device, LIGHT);
    const { state, changed, ...rest } = payload.data as { state: Record<string, unknown>; changed: string[] };
    assert.deepEqual(rest, { device: LIGHT, node: NODE, cause: "report" });
    assert.deepEqual([...changed].sort(), ["brightness", "on"]);
    assert.equal(state.brightness, 35);
    assert.equal(state.on, true);

    const deliveries = await eventually(async () => {
      const response = await bridge.api("GET", `/api/v1/subscriptions/${id}/deliveries?state=delivered`);
      return response.body.length > 0 ? response.body : undefined;
    });
    assert.equal(deliveries[0].id, headers["webhook-id"], "the webhook-id is the delivery's id");
    assert.equal(deliveries[0].attempts, 1);
    assert.equal(deliveries[0].last_status, 204);
    assert.deepEqual(deliveries[0].payload, JSON.parse(body));
    assert.ok(!bridge.logs.text().includes(secret), "the secret is not logged");
    assert.equal((await bridge.api("DELETE", `/api/v1/subscriptions/${id}`)).status, 204);
  });

  test("each subscription gets only the events it asked for", async () => {
    const states = await bridge.api("POST", "/api/v1/subscriptions", {
      url: receiver.url("/only-states"),
      events: ["device.state"],
    });
    const results = await bridge.api("POST", "/api/v1/subscriptions", {
      url: receiver.url("/only-results"),
      events: ["command.result"],
    });
    const command = await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { on: false } });
    assert.equal(command.status, 200, JSON.stringify(command.body));
    await eventually(() => receiver.at("/only-states").length > 0 && receiver.at("/only-results").length > 0);
    await bridge.daemon.webhooks.drain();
    const typeOf = (r: Received) => (JSON.parse(r.body) as { type: string }).type;
    assert.deepEqual([...new Set(receiver.at("/only-states").map(typeOf))], ["device.state"]);
    assert.deepEqual(receiver.at("/only-results").map(typeOf), ["command.result"]);
    const result = WebhookPayloadSchema.parse(JSON.parse(receiver.at("/only-results")[0]?.body as string));
    assert.equal(result.type, "command.result");
    assert.deepEqual(
      { ...result.data, latency_ms: 0 },
      { command_id: command.body.command_id, device: LIGHT, actor: "admin:test", status: "ok", latency_ms: 0 },
    );
    for (const created of [states, results]) await bridge.api("DELETE", `/api/v1/subscriptions/${created.body.id}`);
  });

  test("the admin API lists, shows, filters, replays and removes, and refuses what is invalid", async () => {
    receiver.answerWith((path) => (path === "/api-dead" ? { status: 500 } : { status: 204 }));
    const created = await bridge.api("POST", "/api/v1/subscriptions", {
      url: receiver.url("/api-dead"),
      events: ["device.availability", "device.state"],
    });
    const id = created.body.id as string;
    const list = await bridge.api("GET", "/api/v1/subscriptions");
    assert.equal(list.status, 200);
    const listed = list.body.find((s: { id: string }) => s.id === id);
    assert.deepEqual(Object.keys(listed).sort(), [
      "created_at",
      "disabled_at",
      "events",
      "id",
      "last_error",
      "state",
      "url",
    ]);
    assert.deepEqual(listed.events, ["device.availability", "device.state"]);
    assert.ok(!JSON.stringify(list.body).includes(created.body.secret), "no secret after creation");
    assert.deepEqual((await bridge.api("GET", `/api/v1/subscriptions/${id}`)).body, listed);

    await hall.press("light", { on: true });
    const pending = await eventually(async () => {
      const response = await bridge.api("GET", `/api/v1/subscriptions/${id}/deliveries?state=pending`);
      return response.body.find((d: { attempts: number }) => d.attempts === 1);
    });
    assert.equal(pending.last_status, 500);
    assert.ok(pending.next_attempt_at);
    assert.deepEqual((await bridge.api("GET", `/api/v1/subscriptions/${id}/deliveries?state=delivered`)).body, []);

    receiver.answerWith({ status: 204 });
    const replay = await bridge.api("POST", `/api/v1/subscriptions/${id}/deliveries/${pending.id}/replay`);
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.body.id, pending.id);
    const delivered = await eventually(async () => {
      const response = await bridge.api("GET", `/api/v1/subscriptions/${id}/deliveries?state=delivered`);
      return response.body.find((d: { id: string }) => d.id === pending.id);
    });
    assert.equal(delivered.attempts, 1, "a replay starts a new schedule");
    const attempts = receiver.at("/api-dead").filter((r) => r.headers["webhook-id"] === pending.id);
    assert.ok(attempts.length >= 2, "the failed attempt(s) and the replay, with the same webhook-id");

    const refusals: Array<[string, string, unknown, number, string]> = [
      [
        "POST",
        "/api/v1/subscriptions",
        { url: receiver.url(), events: ["device.exploded"] },
        400,
        "invalid_subscription",
      ],
      ["POST", "/api/v1/subscriptions", { url: receiver.url(), events: [] }, 400, "invalid_subscription"],
      [
        "POST",
        "/api/v1/subscriptions",
        { url: "ftp://example.com/", events: ["device.state"] },
        400,
        "forbidden_destination",
      ],
      ["GET", "/api/v1/subscriptions/sub_nope", undefined, 404, "unknown_subscription"],
      ["DELETE", "/api/v1/subscriptions/sub_nope", undefined, 404, "unknown_subscription"],
      ["GET", `/api/v1/subscriptions/${id}/deliveries?state=lost`, undefined, 400, "invalid_request"],
      ["POST", `/api/v1/subscriptions/${id}/deliveries/msg_nope/replay`, undefined, 404, "unknown_delivery"],
    ];
    for (const [method, path, body, status, code] of refusals) {
      const response = await bridge.api(method, path, body);
      assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, `${method} ${path}`);
    }

    assert.equal((await bridge.api("DELETE", `/api/v1/subscriptions/${id}`)).status, 204);
    assert.equal(bridge.daemon.store.outbox.get(pending.id), undefined, "its deliveries went with it");
  });

  test("`hearth subscription` adds, lists, shows deliveries, replays through the daemon and removes", async () => {
    const refused = await runCli(["subscription", "add", "https://10.0.0.7/hook", "--events", "device.state"], {
      ...cliEnv(),
      HEARTH_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS: undefined,
    });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^hearth: 10\.0\.0\.7 is a loopback, private or link-local address/);
    const unknownEvent = await runCli(["subscription", "add", receiver.url("/cli"), "--events", "device.state,nope"]);
    assert.equal(unknownEvent.status, 1);
    assert.match(unknownEvent.stderr, /an event is one of device\.state/);

    receiver.answerWith((path) => (path === "/cli" ? { status: 502 } : { status: 204 }));
    const added = await runCli(["subscription", "add", receiver.url("/cli"), "--events", "device.state", "--json"]);
    assert.equal(added.status, 0, added.stderr);
    const { id, secret } = JSON.parse(added.stdout) as { id: string; secret: string };
    const human = await runCli(["subscription", "add", receiver.url("/cli-2"), "--events", "command.result"]);
    assert.match(human.stdout, /Subscription id {2}sub_/);
    assert.match(human.stdout, /Signing secret {3}whsec_/);

    const listed = await runCli(["subscription", "list"]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`${id}\\s+${receiver.url("/cli").replace(/[.]/g, "\\.")}\\s+device\\.state\\s+active`),
    );
    assert.ok(!listed.stdout.includes(secret));
    const listedJson = JSON.parse((await runCli(["subscription", "list", "--json"])).stdout) as Array<{ id: string }>;
    assert.ok(listedJson.some((s) => s.id === id));
    assert.ok(!JSON.stringify(listedJson).includes("whsec_"));

    await hall.press("light", { on: false });
    const delivery = await eventually(() =>
      bridge.daemon.store.outbox.list(id, { state: "pending" }).find((d) => d.attempts === 1),
    );
    const table = await runCli(["subscription", "deliveries", id, "--state", "pending"]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`${delivery.id}\\s+device\\.state\\s+pending\\s+1\\s+502`));
    const json = JSON.parse((await runCli(["subscription", "deliveries", id, "--json"])).stdout) as Array<{
      id: string;
      payload: { type: string };
    }>;
    assert.equal(json.find((d) => d.id === delivery.id)?.payload.type, "device.state");
    const none = await runCli(["subscription", "deliveries", id, "--state", "dead"]);
    assert.equal(none.stdout, "No deliveries.\n");

    receiver.answerWith({ status: 204 });
    const replayed = await runCli(["subscription", "replay", delivery.id]);
    assert.equal(replayed.status, 0, replayed.stderr);
    assert.match(replayed.stdout, /Hearth is sending it now/);
    await eventually(() => bridge.daemon.store.outbox.get(delivery.id)?.state === "delivered");
    assert.ok(receiver.at("/cli").filter((r) => r.headers["webhook-id"] === delivery.id).length >= 2);

    const unknown = await runCli(["subscription", "replay", "msg_nope"]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no delivery "msg_nope"/);
    const removed = await runCli(["subscription", "remove", id]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(bridge.daemon.store.subscriptions.get(id), undefined);
    const again = await runCli(["subscription", "remove", id]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no subscription/);
    assert.ok(!bridge.logs.text().includes(secret));
  });
});

describe("durability", () => {
  test("a delivery in backoff when the process is killed -9 is delivered by the next daemon, attempt count and webhook-id kept", async () => {
    const receiver = await Receiver.start();
    const dir = join(root, `data-${++counter}`);
    const store = Store.open(dir);
    const config = webhooksConfig();
    const { subscription, secret } = await addSubscription(store, config, {
      url: receiver.url("/durable"),
      events: ["device.state"],
    });
    store.close();
    receiver.answerWith({ status: 503 });

    // The child's clock is an hour behind, so that its retry is already due when the next daemon starts.
    const src = (file: string) => JSON.stringify(new URL(`../../src/${file}`, import.meta.url).href);
    const script = `
      import { Store } from ${src("store/index.ts")};
      import { EventBus } from ${src("bus.ts")};
      import { WebhookDispatcher } from ${src("webhooks/outbox.ts")};
      import { createLogger } from ${src("log.ts")};
      const store = Store.open(${JSON.stringify(dir)});
      const bus = new EventBus();
      const now = Date.now() - 3_600_000;
      const dispatcher = new WebhookDispatcher({
        store, bus, config: ${JSON.stringify(config)}, log: createLogger("silent"), now: () => now,
        timers: { setTimeout: () => undefined, clearTimeout: () => undefined },
      });
      dispatcher.start();
      bus.emit("device.state", { deviceId: "hall-1.light", nodeId: "hall-1", state: { on: true }, changed: ["on"], cause: "report", at: now });
      await dispatcher.drain();
      const [row] = store.outbox.list(${JSON.stringify(subscription.id)});
      process.stdout.write(JSON.stringify(row) + "\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const child = await runProcess(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script]);
    assert.equal(child.signal, "SIGKILL", child.stderr);
    const before = JSON.parse(child.stdout) as DeliveryRecord;
    assert.equal(before.state, "pending");
    assert.equal(before.attempts, 1);
    assert.equal(before.lastStatus, 503);
    assert.equal(receiver.at("/durable").length, 1);

    const reopened = Store.open(dir);
    assert.deepEqual(reopened.outbox.get(before.id), before, "the attempt count and the next time are on disk");
    // Not a moment early: before its time, a dispatcher on the same file leaves it alone.
    const early = new WebhookDispatcher({
      store: reopened,
      bus: new EventBus(),
      config,
      log: createLogger("silent"),
      now: () => before.nextAttemptAt - 1,
      timers: MANUAL_TIMERS,
    });
    early.start();
    await early.drain();
    await early.stop();
    assert.equal(receiver.at("/durable").length, 1);
    reopened.close();

    receiver.answerWith({ status: 200 });
    const bridge = await TestBridge.start("embedded", {
      settings: { dataDir: dir, "webhooks.allowPrivateDestinations": true },
    });
    try {
      await eventually(() => bridge.daemon.store.outbox.get(before.id)?.state === "delivered");
      const row = bridge.daemon.store.outbox.get(before.id);
      assert.equal(row?.attempts, 2, "the attempt before the kill is counted");
      const [first, second] = receiver.at("/durable");
      assert.equal(second?.headers["webhook-id"], before.id);
      assert.equal(first?.headers["webhook-id"], before.id);
      assert.equal(second?.body, first?.body);
      assert.equal(
        verifyStandard(
          [secret],
          {
            id: second?.headers["webhook-id"] as string,
            timestamp: second?.headers["webhook-timestamp"] as string,
            signature: second?.headers["webhook-signature"] as string,
          },
          Buffer.from(second?.body ?? ""),
          Math.floor(Date.now() / SECOND),
        ),
        undefined,
      );
    } finally {
      await bridge.stop();
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
