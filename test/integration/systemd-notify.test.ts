/**
 * `hearth start` under systemd's notification protocol, as systemd/hearth.service runs it: a real AF_UNIX
 * datagram socket stands in for systemd's, and the daemon is a real child process. READY=1 comes only once
 * HTTP answers, with the main pid and a status line; WATCHDOG=1 follows at half of WATCHDOG_USEC; SIGTERM
 * gives STOPPING=1 and a clean exit. Without a socket, with another process's watchdog, or with a socket
 * that cannot be reached, Hearth runs as usual.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually } from "../helpers/bridge.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;

interface UnixDgramSocket {
  on(event: "error", listener: (error: Error) => void): unknown;
  bind(path: string): void;
  close(): void;
}

/** The optional dependency is what Hearth sends with; CI builds it, so its absence is a failure here. */
const unixDgram = createRequire(import.meta.url)("unix-dgram") as {
  createSocket(type: "unix_dgram", listener: (message: Buffer) => void): UnixDgramSocket;
};

interface Notification {
  at: number;
  fields: Record<string, string>;
}

/** systemd's side of NOTIFY_SOCKET: every datagram received, parsed into its KEY=VALUE lines. */
class NotifySocket {
  readonly received: Notification[] = [];
  private readonly socket: UnixDgramSocket;

  constructor(readonly path: string) {
    this.socket = unixDgram.createSocket("unix_dgram", (message) => {
      const fields: Record<string, string> = {};
      for (const line of message.toString("utf8").split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
      }
      this.received.push({ at: Date.now(), fields });
      this.onMessage?.(fields);
    });
    this.socket.on("error", (error) => {
      throw error;
    });
    this.socket.bind(path);
  }

  /** Called synchronously for each datagram, before anything else can happen in this process. */
  onMessage: ((fields: Record<string, string>) => void) | undefined;

  with(key: string): Notification[] {
    return this.received.filter((n) => key in n.fields);
  }

  close(): void {
    this.socket.close();
  }
}

interface Daemon {
  child: ChildProcess;
  logs: () => Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startHearth(dataDir: string, extra: NodeJS.ProcessEnv): Daemon {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing of the test runner's own environment: not its settings, and not a supervisor's socket if the
  // tests themselves run under systemd.
  for (const key of Object.keys(env)) {
    if (key.startsWith("HEARTH_") || ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].includes(key)) delete env[key];
  }
  Object.assign(env, {
    HEARTH_DATA_DIR: dataDir,
    HEARTH_HTTP_PORT: "0",
    HEARTH_MQTT_PORT: "0",
    HEARTH_LOG_LEVEL: "info",
    ...extra,
  });
  const child = spawn(process.execPath, [BIN, "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const logs = () =>
    out
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, logs, stderr: () => err, exited };
}

/** The HTTP URL from the start banner, once it is printed. */
function bannerUrl(daemon: Daemon): Promise<string> {
  return eventually(() => /HTTP\s+(http:\S+)/.exec(daemon.stderr())?.[1], START_TIMEOUT_MS, "the start banner");
}

async function stopCleanly(daemon: Daemon): Promise<void> {
  daemon.child.kill("SIGTERM");
  const { code, signal } = await daemon.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, daemon.stderr());
}

function systemdLogs(daemon: Daemon): Array<Record<string, unknown>> {
  return daemon.logs().filter((line) => line.component === "systemd");
}

describe("hearth start and systemd's notify socket", () => {
  let dir: string;
  const daemons: Daemon[] = [];
  const sockets: NotifySocket[] = [];
  let serial = 0;

  const fresh = () => {
    serial += 1;
    return { dataDir: join(dir, `data-${serial}`), socketPath: join(dir, `notify-${serial}.sock`) };
  };
  const start = (dataDir: string, env: NodeJS.ProcessEnv) => {
    const daemon = startHearth(dataDir, env);
    daemons.push(daemon);
    return daemon;
  };
  const listen = (path: string) => {
    const socket = new NotifySocket(path);
    sockets.push(socket);
    return socket;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hearth-notify-"));
  });

  after(async () => {
    for (const daemon of daemons) {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
        daemon.child.kill("SIGKILL");
        await daemon.exited;
      }
    }
    for (const socket of sockets) socket.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("READY=1 once HTTP answers, WATCHDOG=1 at half the interval, STOPPING=1 and exit 0 on SIGTERM", async () => {
    const { dataDir, socketPath } = fresh();
    const socket = listen(socketPath);
    // The health check starts the moment READY=1 arrives, before the daemon can do anything more.
    type Health = { status: number; body: { database: { ok: boolean }; mqtt: { connected: boolean } } };
    const ready = new Promise<{ fields: Record<string, string>; healthAtReady: Promise<Health> }>((resolve) => {
      socket.onMessage = (fields) => {
        if (fields.READY !== "1") return;
        const url = /listening on (http:\/\/\S+?),/.exec(fields.STATUS ?? "")?.[1];
        const healthAtReady = fetch(`${url}/healthz`).then(async (res) => ({
          status: res.status,
          body: (await res.json()) as Health["body"],
        }));
        resolve({ fields, healthAtReady });
      };
    });
    const daemon = start(dataDir, { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "200000" });

    const { fields, healthAtReady } = await Promise.race([
      ready,
      daemon.exited.then(() => assert.fail(`hearth exited before READY=1:\n${daemon.stderr()}`)),
    ]);
    assert.equal(socket.received[0]?.fields.READY, "1", "READY=1 is the first message");
    assert.equal(fields.MAINPID, String(daemon.child.pid));
    assert.match(fields.STATUS ?? "", /^listening on http:\/\/127\.0\.0\.1:\d+, MQTT mqtt:\/\/127\.0\.0\.1:\d+$/);
    const health = await healthAtReady;
    assert.equal(health.status, 200);
    assert.equal(health.body.database.ok, true);
    assert.equal(health.body.mqtt.connected, true, "the MQTT link is up at READY=1");

    // Every 100 ms for a WATCHDOG_USEC of 200 ms; the bound is loose so that a busy machine passes.
    const readyAt = socket.received[0]?.at as number;
    await eventually(
      () => socket.with("WATCHDOG").filter((n) => n.at - readyAt <= 1500).length >= 3,
      2500,
      "three WATCHDOG=1 within 1.5 s of READY=1",
    );
    assert.ok(socket.with("WATCHDOG").every((n) => n.fields.WATCHDOG === "1"));

    daemon.child.kill("SIGTERM");
    const stopping = await eventually(() => socket.with("STOPPING")[0], 5000, "STOPPING=1");
    assert.equal(stopping.fields.STOPPING, "1");
    assert.equal(stopping.fields.STATUS, "shutting down");
    // shutdownTimeoutMs (10 s by default) and 5 s for the exit.
    assert.equal(stopping.fields.EXTEND_TIMEOUT_USEC, "15000000");
    const { code, signal } = await daemon.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, daemon.stderr());
    assert.ok(
      socket.with("WATCHDOG").every((n) => n.at <= stopping.at),
      "no watchdog pings once the shutdown has begun",
    );
    assert.deepEqual(systemdLogs(daemon), [], "nothing to report about the notifications");
  });

  test("without NOTIFY_SOCKET Hearth starts and stops as usual, and logs nothing about systemd", async () => {
    const { dataDir } = fresh();
    const daemon = start(dataDir, {});
    const url = await bannerUrl(daemon);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    await stopCleanly(daemon);
    assert.deepEqual(systemdLogs(daemon), []);
    assert.deepEqual(
      daemon.logs().filter((line) => (line.level as number) >= 50),
      [],
      "no error in the log",
    );
  });

  test("with WATCHDOG_PID naming another process, READY=1 comes but no watchdog pings", async () => {
    const { dataDir, socketPath } = fresh();
    const socket = listen(socketPath);
    const daemon = start(dataDir, {
      NOTIFY_SOCKET: socketPath,
      WATCHDOG_USEC: "200000",
      WATCHDOG_PID: String(process.pid),
    });
    const ready = await eventually(() => socket.with("READY")[0], START_TIMEOUT_MS, "READY=1");
    assert.equal(ready.fields.MAINPID, String(daemon.child.pid));
    // Five intervals' worth of silence.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(socket.with("WATCHDOG"), []);
    await stopCleanly(daemon);
    assert.equal(socket.with("STOPPING").length, 1);
  });

  test("a socket that is missing, or abstract, is warned about and Hearth runs on", async () => {
    const missing = fresh();
    const abstract = fresh();
    const daemons = [
      start(missing.dataDir, { NOTIFY_SOCKET: join(dir, "no-such-dir", "notify.sock"), WATCHDOG_USEC: "200000" }),
      start(abstract.dataDir, { NOTIFY_SOCKET: "@hearth-test-notify", WATCHDOG_USEC: "200000" }),
    ];
    for (const daemon of daemons) {
      const url = await bannerUrl(daemon);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    }
    // Long enough for several failed watchdog pings from the first: they must not crash it or flood the log.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const [sendFailed, refused] = daemons.map((daemon) => systemdLogs(daemon)) as [
      Array<Record<string, unknown>>,
      Array<Record<string, unknown>>,
    ];
    assert.deepEqual(
      sendFailed.map((line) => [line.level, line.msg, line.err]),
      [[40, "a notification to systemd failed; Hearth keeps running", "ENOENT"]],
      "one warning, not one per ping",
    );
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.level, 40);
    assert.match(refused[0]?.msg as string, /abstract socket/);
    for (const daemon of daemons) await stopCleanly(daemon);
  });
});
