/**
 * A real mosquitto 2.x broker for integration tests: its own config, password file and ACL in a temp dir,
 * listening on a free loopback port. The password file is written with `mosquittoPasswordLine`, so every test
 * that logs in through this broker also proves that the generated `$7$` lines are what mosquitto accepts.
 *
 * Permissions: when started as root, mosquitto drops privileges to the `mosquitto` user before it opens the
 * password and ACL files, at start-up and again on every SIGHUP reload. `mkdtemp` creates a 0700 dir, which makes
 * the broker exit with "Unable to open pwfile". The dir is therefore made 0755 and every file 0644 instead of
 * adding `user root` to the config: the broker keeps the permission model it has in production, and the files
 * only hold salted hashes and a test ACL. The temp dir's parents must be searchable by that user too (`/tmp`
 * is); a `TMPDIR` under `/root` is not.
 *
 * Logging: the config uses `log_dest stderr`, not `stdout`. Into a pipe, mosquitto's stdout is block-buffered
 * and nothing arrives before the broker exits, so neither "running" nor "Reloading config." could be observed;
 * stderr is unbuffered. Everything the broker prints is kept for `logs()` and for error messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, rmSync } from "node:fs";
import { chmod, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import mqtt from "mqtt";
import { mosquittoPasswordLine } from "../../src/devices/mosquitto-passwd.ts";
import { freePort } from "./ports.ts";

export interface MosquittoUser {
  username: string;
  password: string;
}

export interface RunningMosquitto {
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The temp dir holding `mosquitto.conf`, `passwd` and `acl`; removed by `stop()`. */
  dir: string;
  /** The broker's process id: a SIGHUP to it reloads the password file. */
  pid: number;
  /** Its `password_file`. */
  passwordFile: string;
  /**
   * Adds (or replaces) a user: rewrites the password file, sends SIGHUP and resolves once the broker has
   * reloaded and accepts the new credentials.
   */
  addUser(user: MosquittoUser): Promise<void>;
  /** The same for many users with one reload. */
  addUsers(users: readonly MosquittoUser[]): Promise<void>;
  /** SIGTERM, SIGKILL after 3 s, then removes the temp dir. Safe to call more than once. */
  stop(): Promise<void>;
  /** Everything the broker logged so far. */
  logs(): string;
}

export interface StartMosquittoOptions {
  users: MosquittoUser[];
  /** Default `hearth/v1`. */
  topicPrefix?: string;
  /** The user with read/write access to the whole prefix. Default `hearth_bridge`. */
  bridgeUsername?: string;
  /** A misconfigured broker that lets clients in without credentials (for tests that must notice it). */
  allowAnonymous?: boolean;
}

const READY_TIMEOUT_MS = 5_000;
const RELOAD_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;
const PORT_ATTEMPTS = 5;
const POLL_MS = 20;

const RUNNING_LINE = /mosquitto version \S+ running/;
const RELOAD_LINE = "Reloading config.";

/** Brokers still alive, killed synchronously if the test process exits without stopping them. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [child, dir] of live) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function findMosquittoBinary(): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, "mosquitto");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    "the mosquitto broker was not found in PATH or /usr/sbin: install Debian's mosquitto package " +
      "(apt-get install mosquitto)",
  );
}

/** Writes a file the broker can read after dropping privileges, replacing any old one atomically. */
async function writeReadable(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temporary, text, { mode: 0o644 });
  await chmod(temporary, 0o644); // the umask may have removed bits
  await rename(temporary, path);
}

function passwordFile(users: Map<string, string>): string {
  return [...users].map(([username, password]) => `${mosquittoPasswordLine(username, password)}\n`).join("");
}

function aclFile(bridgeUsername: string, prefix: string): string {
  // mosquitto warns that the last pattern has no %u/%c; a `topic` line outside a `user` block would only apply
  // to anonymous clients, so a pattern is the way to give every node read access to the bridge status.
  return [
    `user ${bridgeUsername}`,
    `topic readwrite ${prefix}/#`,
    "",
    `pattern readwrite ${prefix}/%u/#`,
    `pattern read ${prefix}/bridge/status`,
    "",
  ].join("\n");
}

function configFile(port: number, dir: string, allowAnonymous = false): string {
  return [
    "per_listener_settings false",
    `listener ${port} 127.0.0.1`,
    // The client id becomes the authenticated username: a node cannot claim another node's client id and
    // take over its session (which would fire the victim's will and show it offline). A client without a
    // username has nothing to take its id from and is refused, so an anonymous broker goes without.
    ...(allowAnonymous ? [] : ["use_username_as_clientid true"]),
    `allow_anonymous ${allowAnonymous}`,
    `password_file ${join(dir, "passwd")}`,
    `acl_file ${join(dir, "acl")}`,
    "persistence false",
    "set_tcp_nodelay true",
    "log_dest stderr",
    "",
  ].join("\n");
}

function validateNames(prefix: string, bridgeUsername: string): void {
  if (!/^[^\s#+]+$/.test(prefix) || prefix.startsWith("/") || prefix.endsWith("/")) {
    throw new Error(`invalid topic prefix for the test broker: ${JSON.stringify(prefix)}`);
  }
  if (!/^[^\s:]+$/.test(bridgeUsername)) {
    throw new Error(`invalid bridge username for the test broker: ${JSON.stringify(bridgeUsername)}`);
  }
}

/** One spawned broker process and what it printed. */
class BrokerProcess {
  private output = "";
  private exitDescription: string | undefined;
  readonly closed: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    private readonly onClosed: () => void,
  ) {
    const append = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.closed = new Promise((resolve) => {
      child.once("error", (error) => {
        this.output += `[harness] could not run mosquitto: ${error.message}\n`;
        this.exitDescription ??= `failed to start (${error.message})`;
        // No "close" follows when the spawn itself failed.
        if (child.pid === undefined) {
          this.onClosed();
          resolve();
        }
      });
      child.once("close", (code, signal) => {
        this.exitDescription ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.onClosed();
        resolve();
      });
    });
  }

  get exited(): string | undefined {
    return this.exitDescription;
  }

  logs(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.exitDescription === undefined) {
      this.child.kill("SIGTERM");
      const killTimer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
      await this.closed;
      clearTimeout(killTimer);
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: "127.0.0.1" });
    socket.setTimeout(500);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

function withLogs(message: string, logs: string): Error {
  const hint = logs.includes("Unable to open")
    ? "\n(the broker runs as user mosquitto when started as root: the temp dir and its parents must be readable)"
    : "";
  return new Error(`${message}${hint}\n--- mosquitto log ---\n${logs.trimEnd() || "(empty)"}`);
}

type ReadyResult = { ok: true } | { ok: false; portInUse: boolean; reason: string };

async function waitUntilReady(broker: BrokerProcess, port: number): Promise<ReadyResult> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (broker.exited !== undefined) {
      return {
        ok: false,
        portInUse: broker.logs().includes("Address already in use"),
        reason: `mosquitto ${broker.exited} before it was ready`,
      };
    }
    // The log line proves this broker owns the port; the connect proves the listener accepts.
    if (RUNNING_LINE.test(broker.logs()) && (await canConnect(port)) && broker.exited === undefined) {
      return { ok: true };
    }
    await sleep(POLL_MS);
  }
  return { ok: false, portInUse: false, reason: `mosquitto was not ready within ${READY_TIMEOUT_MS} ms` };
}

/** Resolves when `username` can log in, retrying refusals until the deadline. */
async function waitForLogin(url: string, user: MosquittoUser, deadline: number): Promise<void> {
  let lastError = "";
  while (Date.now() < deadline) {
    const error = await tryLogin(url, user, Math.max(100, deadline - Date.now()));
    if (error === undefined) return;
    lastError = error;
    await sleep(POLL_MS);
  }
  throw new Error(`user ${user.username} still cannot log in after the reload: ${lastError}`);
}

function tryLogin(url: string, user: MosquittoUser, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      clientId: `hearth-harness-probe-${randomBytes(4).toString("hex")}`,
      username: user.username,
      password: user.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    const finish = (error: string | undefined) => {
      client.removeAllListeners();
      client.on("error", () => {});
      client.end(true, () => resolve(error));
    };
    client.once("connect", () => finish(undefined));
    client.once("error", (error) => finish(error.message));
    client.once("close", () => finish("connection closed"));
  });
}

export async function startMosquitto(options: StartMosquittoOptions): Promise<RunningMosquitto> {
  const binary = findMosquittoBinary();
  const prefix = options.topicPrefix ?? "hearth/v1";
  const bridgeUsername = options.bridgeUsername ?? "hearth_bridge";
  validateNames(prefix, bridgeUsername);
  const users = new Map<string, string>();
  for (const user of options.users) users.set(user.username, user.password);

  const dir = await mkdtemp(join(tmpdir(), "hearth-mosquitto-"));
  try {
    await chmod(dir, 0o755);
    const passwdPath = join(dir, "passwd");
    const configPath = join(dir, "mosquitto.conf");
    await writeReadable(passwdPath, passwordFile(users));
    await writeReadable(join(dir, "acl"), aclFile(bridgeUsername, prefix));

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await writeReadable(configPath, configFile(port, dir, options.allowAnonymous));
      installExitHook();
      const child = spawn(binary, ["-c", configPath], { stdio: ["ignore", "pipe", "pipe"] });
      live.set(child, dir);
      const broker = new BrokerProcess(child, () => live.delete(child));
      const ready = await waitUntilReady(broker, port);
      if (ready.ok) return running(broker, port, dir, passwdPath, users);
      await broker.stop();
      if (!ready.portInUse || attempt >= PORT_ATTEMPTS) {
        throw withLogs(`${ready.reason} (port ${port}, attempt ${attempt})`, broker.logs());
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function running(
  broker: BrokerProcess,
  port: number,
  dir: string,
  passwdPath: string,
  users: Map<string, string>,
): RunningMosquitto {
  const url = `mqtt://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  // Reloads are serialised: two SIGHUPs close together may be handled as one, and each caller waits for the
  // "Reloading config." line that follows its own signal.
  let reloads: Promise<void> = Promise.resolve();

  const reload = async (added: readonly MosquittoUser[]): Promise<void> => {
    if (stopping !== undefined || broker.exited !== undefined) {
      throw withLogs("the test broker is not running", broker.logs());
    }
    const updated = new Map(users);
    for (const user of added) updated.set(user.username, user.password);
    await writeReadable(passwdPath, passwordFile(updated));
    for (const user of added) users.set(user.username, user.password);
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    const logOffset = broker.logs().length;
    broker.child.kill("SIGHUP");
    while (!broker.logs().slice(logOffset).includes(RELOAD_LINE)) {
      if (broker.exited !== undefined) throw withLogs(`mosquitto ${broker.exited} during a reload`, broker.logs());
      if (Date.now() >= deadline) throw withLogs("mosquitto did not log a reload after SIGHUP", broker.logs());
      await sleep(POLL_MS);
    }
    // The broker reloads in one step of its single-threaded loop after logging the line, so a login that
    // reaches it now sees the new file; the probe confirms it rather than trusting the log.
    try {
      // One file, one reload: when the last user can log in, all of them can.
      const last = added.at(-1);
      if (last) await waitForLogin(url, last, deadline);
    } catch (error) {
      throw withLogs((error as Error).message, broker.logs());
    }
  };

  return {
    url,
    port,
    dir,
    pid: broker.child.pid as number,
    passwordFile: passwdPath,
    addUser(user) {
      return this.addUsers([user]);
    },
    addUsers(added) {
      const next = reloads.then(() => reload(added));
      reloads = next.catch(() => {});
      return next;
    },
    stop() {
      stopping ??= (async () => {
        await reloads;
        await broker.stop();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    logs: () => broker.logs(),
  };
}
