/**
 * Starts a real Hearth daemon for integration tests: a temp data dir with a real SQLite file, HTTP on a
 * random port, and either the embedded broker or Debian's mosquitto on a random loopback port. Every
 * integration suite runs once per broker kind.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type Config, loadConfig } from "../../src/config/index.ts";
import { BRIDGE_USERNAME, Daemon } from "../../src/daemon.ts";
import { addNode, type NodeCredentials } from "../../src/devices/node-registry.ts";
import { createLogger } from "../../src/log.ts";
import { generateSecret } from "../../src/security/secrets.ts";
import { type RunningMosquitto, startMosquitto } from "./mosquitto.ts";

export const BROKER_KINDS = ["embedded", "mosquitto"] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

export interface BridgeOptions {
  /** Extra settings, as in a config file. */
  settings?: Record<string, unknown>;
  /** With mosquitto: Hearth keeps node lines in the broker's password file and reloads it (mqtt.nodeAccountsFile). */
  brokerAccounts?: boolean;
}

/** Collects the daemon's JSON log lines so tests can assert what was logged (and what was not). */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: kept in raw only
      }
    }
    done();
  }
  text(): string {
    return this.raw.join("\n");
  }
  find(predicate: (line: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find(predicate);
  }
}

export class TestBridge {
  daemon!: Daemon;
  readonly logs = new LogCapture();
  private adminToken: string | undefined;

  private constructor(
    readonly kind: BrokerKind,
    readonly dataDir: string,
    readonly config: Config,
    readonly mosquitto: RunningMosquitto | undefined,
  ) {}

  static async start(kind: BrokerKind, options: BridgeOptions = {}): Promise<TestBridge> {
    const dataDir = await mkdtemp(join(tmpdir(), "hearth-test-"));
    let mosquitto: RunningMosquitto | undefined;
    const settings: Record<string, unknown> = {
      "http.port": 0,
      "mqtt.port": 0,
      "commands.timeoutMs": 1500,
      logLevel: "debug",
      ...options.settings,
    };
    if (kind === "mosquitto") {
      const bridgePassword = generateSecret();
      mosquitto = await startMosquitto({ users: [{ username: BRIDGE_USERNAME, password: bridgePassword }] });
      settings["mqtt.url"] = mosquitto.url;
      settings["mqtt.username"] = BRIDGE_USERNAME;
      settings["mqtt.password"] = bridgePassword;
      if (options.brokerAccounts) {
        const pidFile = join(dataDir, "mosquitto.pid");
        await writeFile(pidFile, `${mosquitto.pid}\n`);
        settings["mqtt.nodeAccountsFile"] = mosquitto.passwordFile;
        settings["mqtt.reloadPidFile"] = pidFile;
      }
    }
    const { config } = loadConfig({ env: {}, overrides: { dataDir, ...settings } });
    const bridge = new TestBridge(kind, dataDir, config, mosquitto);
    await bridge.startDaemon();
    return bridge;
  }

  private async startDaemon(): Promise<void> {
    this.daemon = await Daemon.start(this.config, createLogger(this.config.logLevel, this.logs));
  }

  /** The broker URL nodes connect to. */
  get mqttUrl(): string {
    return this.mosquitto ? this.mosquitto.url : (this.daemon.broker?.url as string);
  }

  get httpUrl(): string {
    return this.daemon.httpUrl;
  }

  /** Registers a node the way a user does, and on mosquitto also installs its password line. */
  async addNode(nodeId: string): Promise<NodeCredentials> {
    const credentials = addNode(this.daemon.store, this.config, nodeId, { rotate: true });
    if (this.mosquitto) await this.mosquitto.addUser({ username: nodeId, password: credentials.password });
    return credentials;
  }

  /** The same for many nodes, with one broker reload. */
  async addNodes(nodeIds: readonly string[]): Promise<NodeCredentials[]> {
    const all = nodeIds.map((nodeId) => addNode(this.daemon.store, this.config, nodeId, { rotate: true }));
    await this.mosquitto?.addUsers(all.map((c) => ({ username: c.node_id, password: c.password })));
    return all;
  }

  /** Stops and starts the daemon on the same data dir (and, with mosquitto, the same broker). */
  async restart(): Promise<void> {
    const embeddedPort = this.daemon.broker?.port;
    await this.daemon.stop();
    // The embedded broker comes back on the same port, so nodes reconnect to the URL they know.
    if (embeddedPort) (this.config.mqtt as { port: number }).port = embeddedPort;
    this.adminToken = undefined;
    await this.startDaemon();
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: any; headers: Headers }> {
    if (token === undefined && this.adminToken === undefined) {
      this.adminToken = this.daemon.store.adminTokens.create("test", Date.now()).token;
    }
    const response = await fetch(`${this.httpUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? this.adminToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // non-JSON body kept as text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    await this.mosquitto?.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Polls until `check` returns a truthy value or the time runs out; returns that value. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 3000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
