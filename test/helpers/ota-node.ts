/**
 * A node that updates its firmware the way protocol §14.1 says, played with a plain MQTT client so that the
 * bridge's side is tested against the protocol rather than against our own code: it declares `services.ota`,
 * answers the `ota` command, really downloads the URL over HTTP, checks the size and SHA-256, reports each
 * step on `ota/status`, "reboots" (publishes `offline`, disconnects, comes back announcing the new
 * `fw.version`) and then reports `success`. Options make it refuse, fail, stay silent or pause where a test
 * needs it to.
 */
import { createHash } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import type { CommandPayload, OtaStatus } from "../../src/devices/protocol.ts";
import { PREFIX } from "./integration.ts";

export interface OtaNodeOptions {
  url: string;
  nodeId: string;
  password: string;
  /** The firmware it runs. */
  version: string;
  /** Declares `services.ota` (default true). */
  ota?: boolean;
  /** How it answers an `ota` command (default `accepted`). */
  answer?: "accepted" | "busy" | "bad_request";
  /** Changes a byte of what it downloaded, as a bad flash read would: `sha256_mismatch`. */
  corrupt?: boolean;
  /** Accepts the update and then says nothing more. */
  silent?: boolean;
  /** Pause between two steps, so that a follower sees each one. */
  stepDelayMs?: number;
  /** Waits for this before it downloads. */
  beforeDownload?: () => Promise<void>;
  /** Waits for this while "rebooting", after it has disconnected. */
  beforeReconnect?: () => Promise<void>;
}

export interface Download {
  status: number;
  contentType: string | null;
  contentLength: string | null;
  bytes: Buffer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise with its resolver, for the pauses a test releases. */
export function gate(): { wait: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { wait: () => opened, release };
}

export class OtaNode {
  version: string;
  /** Every `ota` command received, as parsed JSON. */
  readonly commands: CommandPayload[] = [];
  readonly downloads: Download[] = [];
  /** Every `ota/status` it published. */
  readonly reports: OtaStatus[] = [];
  private client: MqttClient;
  private readonly executed: string[] = [];
  private updating = false;
  private closed = false;
  /** The update running across a "reboot". */
  private task: Promise<void> | undefined;
  private announcing: Promise<void> | undefined;

  private constructor(private readonly options: OtaNodeOptions) {
    this.version = options.version;
    this.client = this.connect();
  }

  static async start(options: OtaNodeOptions): Promise<OtaNode> {
    const node = new OtaNode(options);
    await node.announced();
    return node;
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  private topic(suffix: string): string {
    return `${PREFIX}/${this.options.nodeId}/${suffix}`;
  }

  private connect(): MqttClient {
    const client = mqtt.connect(this.options.url, {
      clientId: this.options.nodeId,
      username: this.options.nodeId,
      password: this.options.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 200,
      connectTimeout: 2000,
      will: { topic: this.topic("status"), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    // Every (re)connection, a restarted broker's included, announces the node again: config, then online.
    client.on("connect", () => {
      this.announcing = this.announce(client).catch(() => undefined);
    });
    client.on("message", (topic, payload, packet) => {
      if (topic === this.topic("cmd")) this.onCommand(payload).catch(() => undefined);
      // A live `online` from the bridge (not the retained one) asks for a fresh announcement (§13).
      if (topic === `${PREFIX}/bridge/status` && payload.toString() === "online" && !packet.retain)
        this.announce(client).catch(() => undefined);
    });
    client.on("error", () => undefined);
    return client;
  }

  private async announce(client: MqttClient): Promise<void> {
    await client.subscribeAsync([this.topic("cmd"), `${PREFIX}/bridge/status`], { qos: 1 });
    const config = {
      node_id: this.options.nodeId,
      proto: 1,
      name: "OTA test node",
      fw: { version: this.version },
      hw: { model: "test-board", chip: "esp32c3" },
      devices: [],
      services: { ota: this.options.ota ?? true },
    };
    await client.publishAsync(this.topic("config"), JSON.stringify(config), { qos: 1, retain: true });
    await client.publishAsync(this.topic("status"), "online", { qos: 1, retain: true });
  }

  private async announced(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.once("connect", () => resolve());
      this.client.once("error", reject);
    });
    await this.announcing;
  }

  private async answer(id: string | null | undefined, status: string, msg?: string): Promise<void> {
    const body = { id: id ?? null, status, ...(msg ? { msg } : {}) };
    await this.client.publishAsync(this.topic("cmd/res"), JSON.stringify(body), { qos: 1 });
  }

  private async report(status: OtaStatus): Promise<void> {
    this.reports.push(status);
    await this.client.publishAsync(this.topic("ota/status"), JSON.stringify(status), { qos: 1 });
  }

  private async onCommand(payload: Buffer): Promise<void> {
    const command = JSON.parse(payload.toString("utf8")) as CommandPayload;
    if (command.op !== "ota") return this.answer(command.id, "bad_request", "only ota here");
    this.commands.push(command);
    if (command.id && this.executed.includes(command.id)) return this.answer(command.id, "duplicate");
    const { url, sha256, size, version } = command;
    if (!url || !sha256 || !size || !version || command.dev !== undefined)
      return this.answer(command.id, "bad_request", "url, sha256, size and version are needed");
    if (this.updating || this.options.answer === "busy") return this.answer(command.id, "busy", "an update is running");
    if (this.options.answer === "bad_request") return this.answer(command.id, "bad_request", "refused by the test");
    this.executed.push(command.id as string);
    this.updating = true;
    await this.answer(command.id, "accepted");
    this.task = this.update(command.id as string, url, sha256, size, version).finally(() => {
      this.updating = false;
    });
  }

  private async update(id: string, url: string, sha256: string, size: number, version: string): Promise<void> {
    if (this.options.silent) return;
    if (version === this.version) {
      return this.report({ id, state: "rejected", version, error: "same_version", msg: `already runs ${version}` });
    }
    const step = () => sleep(this.options.stepDelayMs ?? 0);
    await this.options.beforeDownload?.();
    await this.report({ id, state: "downloading", progress: 0, version });
    await step();
    let image: Buffer;
    try {
      const response = await fetch(url);
      const chunks: Buffer[] = [];
      let received = 0;
      let reported = 0;
      if (response.ok && response.body) {
        for await (const chunk of response.body) {
          chunks.push(Buffer.from(chunk));
          received += chunk.length;
          const progress = Math.floor((received * 10) / size) * 10;
          if (progress > reported && progress <= 100) {
            reported = progress;
            await this.report({ id, state: "downloading", progress, version });
            await step();
          }
        }
      } else {
        await response.arrayBuffer().catch(() => undefined);
      }
      image = Buffer.concat(chunks);
      this.downloads.push({
        status: response.status,
        contentType: response.headers.get("content-type"),
        contentLength: response.headers.get("content-length"),
        bytes: image,
      });
      if (!response.ok) {
        return this.report({ id, state: "failed", version, error: "download_failed", msg: `HTTP ${response.status}` });
      }
    } catch (error) {
      return this.report({ id, state: "failed", version, error: "download_failed", msg: (error as Error).message });
    }
    await this.report({ id, state: "verifying", version });
    await step();
    if (this.options.corrupt && image.length > 0) image[image.length - 1] = (image[image.length - 1] as number) ^ 0xff;
    if (image.length !== size) {
      return this.report({ id, state: "failed", version, error: "size_mismatch", msg: `got ${image.length} bytes` });
    }
    if (createHash("sha256").update(image).digest("hex") !== sha256) {
      return this.report({
        id,
        state: "failed",
        version,
        error: "sha256_mismatch",
        msg: "image sha256 does not match",
      });
    }
    await this.report({ id, state: "rebooting", version });
    await step();
    await this.reboot(version);
    // The new image has connected and announced itself: only now does it say so.
    await this.report({ id, state: "success", version });
  }

  /** Goes offline cleanly, "restarts" into `version` and announces itself again. */
  private async reboot(version: string): Promise<void> {
    await this.client.publishAsync(this.topic("status"), "offline", { qos: 1, retain: true });
    await this.client.endAsync();
    await this.options.beforeReconnect?.();
    if (this.closed) return;
    this.version = version;
    this.announcing = undefined;
    this.client = this.connect();
    // `success` comes after the new image's config and `online` (§14.1).
    while (this.announcing === undefined) await sleep(20);
    await this.announcing;
  }

  /** Resolves once the update it is running has finished (or at once). */
  async settled(): Promise<void> {
    await this.task;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.endAsync(true);
  }
}
