/**
 * Firmware updates (protocol §14.1), the bridge's side: a push stores the image, creates a job and sends the
 * node an `ota` command through the confirmed-command path; the node's `ota/status` reports move the job
 * on; `success` counts only when the node also announces the job's version. A job that hears nothing for
 * `ota.jobTimeoutSeconds` ends as `timeout`. Jobs live in the database and their images in
 * `<dataDir>/firmware/<jobId>.bin`, so a restart of Hearth does not end an update (the node reboots anyway);
 * an image is deleted as soon as its job ends. Every change of a job is announced on the bus (`ota.job`).
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EventBus, OtaStatusEvent } from "../bus.ts";
import type { Config } from "../config/index.ts";
import type { CommandService } from "../devices/commands.ts";
import { FIRMWARE_VERSION_PATTERN } from "../devices/protocol.ts";
import { HttpError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import { CommandError } from "../model/index.ts";
import { generateSecret, hashSecret, newId, verifySecret } from "../security/secrets.ts";
import type { Store } from "../store/index.ts";
import { ActiveJobExists, type OtaJob, type OtaJobChange, OtaJobStore } from "./jobs.ts";

/** The longest URL an `ota` command may carry (§14.1). */
const MAX_URL_CHARS = 256;

/** Node answers that start an update: `duplicate` answers the retry of a command the node already took. */
const ACCEPTING = new Set(["accepted", "ok", "duplicate"]);

export type OtaErrorCode =
  | "invalid_version"
  | "empty_image"
  | "image_too_large"
  | "unknown_node"
  | "ota_unsupported"
  | "ota_in_progress"
  | "offline"
  | "bridge_unavailable"
  | "ota_url_too_long"
  | "unknown_ota_job";

const OTA_ERROR_STATUS: Record<OtaErrorCode, number> = {
  invalid_version: 400,
  empty_image: 400,
  image_too_large: 413,
  unknown_node: 404,
  unknown_ota_job: 404,
  ota_unsupported: 409,
  ota_in_progress: 409,
  offline: 503,
  bridge_unavailable: 503,
  ota_url_too_long: 500,
};

/** A push Hearth refuses; an HttpError, so the API's one error handler answers it. */
export class OtaError extends HttpError {
  constructor(
    override readonly code: OtaErrorCode,
    message: string,
  ) {
    super(OTA_ERROR_STATUS[code], code, message);
  }
}

export interface PushRequest {
  nodeId: string;
  version: string;
  image: Buffer;
  actor: string;
}

export interface OtaServiceOptions {
  store: Store;
  commands: CommandService;
  bus: EventBus;
  log: Logger;
  config: Config;
  /** Where nodes download images from; known only once the HTTP server listens (its port may be 0). */
  baseUrl: () => string;
  now?: () => number;
}

/** `ota.baseUrl`, else `publicUrl`, else Hearth's own HTTP address (which 0.0.0.0 or :: is not). */
export function otaBaseUrl(config: Config, httpPort: number): string {
  const configured = config.ota.baseUrl ?? config.publicUrl;
  if (configured) return configured.replace(/\/+$/, "");
  const host = config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host;
  return `http://${host}:${httpPort}`;
}

/** True when nodes would be told to download from an address that means "any" and reaches nothing. */
export function otaBaseUrlUnreachable(config: Config): boolean {
  return !config.ota.baseUrl && !config.publicUrl && ["0.0.0.0", "::"].includes(config.http.host);
}

export function firmwareDir(dataDir: string): string {
  return join(dataDir, "firmware");
}

export class OtaService {
  readonly jobs: OtaJobStore;
  private readonly now: () => number;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly dir: string;
  private stopped = false;

  constructor(private readonly options: OtaServiceOptions) {
    this.now = options.now ?? Date.now;
    this.jobs = new OtaJobStore(options.store.db);
    this.dir = firmwareDir(resolve(options.config.dataDir));
  }

  /** Follows the nodes' reports; jobs left running by the previous run get a fresh timeout window. */
  start(): void {
    const { bus, log, config } = this.options;
    bus.on("ota", "ota.status", (event) => this.onStatus(event));
    const active = this.jobs.active();
    for (const job of active) this.arm(job.id);
    if (active.length > 0) log.info({ jobs: active.map((job) => job.id) }, "firmware updates still running");
    this.removeOrphanImages(new Set(active.map((job) => job.id)));
    if (otaBaseUrlUnreachable(config)) {
      log.warn(
        `http.host is ${config.http.host} and neither ota.baseUrl nor publicUrl is set: nodes cannot download firmware from ${config.http.host}; set ota.baseUrl (HEARTH_OTA_BASE_URL) to an address they reach, e.g. http://192.168.1.10:${config.http.port}`,
      );
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.options.bus.removeListeners("ota");
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  get(jobId: string): OtaJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new OtaError("unknown_ota_job", `no firmware update "${jobId}"`);
    return job;
  }

  /**
   * Checks the push, stores the image, creates the job and sends the `ota` command; resolves once the node
   * has answered it (the job is then `sent`, or `failed` with the node's answer) or the command failed.
   */
  async push(request: PushRequest): Promise<OtaJob> {
    const { store, config, log } = this.options;
    const { nodeId, version, image } = request;
    if (!FIRMWARE_VERSION_PATTERN.test(version)) {
      throw new OtaError("invalid_version", "version: 1–32 printable characters without spaces, such as 1.4.3");
    }
    if (image.length === 0) throw new OtaError("empty_image", "the image is empty");
    if (image.length > config.ota.maxImageBytes) {
      throw new OtaError(
        "image_too_large",
        `the image has ${image.length} bytes; ota.maxImageBytes allows ${config.ota.maxImageBytes}`,
      );
    }
    const node = store.nodes.get(nodeId);
    if (!node) throw new OtaError("unknown_node", `no node "${nodeId}"`);
    const running = this.jobs.activeFor(nodeId);
    if (running) throw this.inProgress(running);
    if (node.services.ota !== true) {
      throw new OtaError(
        "ota_unsupported",
        `the node "${nodeId}" does not declare the ota service: its firmware cannot update itself`,
      );
    }
    if (!store.nodes.isOnline(nodeId)) throw new OtaError("offline", `the node "${nodeId}" is offline`);

    const id = newId();
    const token = generateSecret(24);
    const url = `${this.options.baseUrl()}/ota/${id}/${token}`;
    if (url.length > MAX_URL_CHARS) {
      throw new OtaError(
        "ota_url_too_long",
        `the download URL would have ${url.length} characters, more than the ${MAX_URL_CHARS} a node takes: shorten ota.baseUrl`,
      );
    }
    const sha256 = createHash("sha256").update(image).digest("hex");
    const path = this.imagePath(id);
    // The image is on disk before the job exists, and the job before the command: a node that acts at once
    // finds both. Nothing is awaited in between, so two pushes cannot both pass the one-job check.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, image, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    let job: OtaJob;
    try {
      job = this.jobs.create(
        {
          id,
          nodeId,
          version,
          fromVersion: node.fwVersion,
          size: image.length,
          sha256,
          tokenHash: hashSecret(token),
          actor: request.actor,
        },
        this.now(),
      );
    } catch (error) {
      rmSync(path, { force: true });
      if (error instanceof ActiveJobExists) throw this.inProgress(this.jobs.activeFor(nodeId));
      throw error;
    }
    log.info({ job: id, node: nodeId, version, size: image.length, sha256 }, "firmware update created");
    this.announce(job);
    this.arm(id);

    try {
      const { response } = await this.options.commands.sendToNode({
        nodeId,
        id,
        payload: { op: "ota", url, sha256, size: image.length, version },
      });
      if (ACCEPTING.has(response.status)) this.advance(id, { state: "sent" }, "pending");
      else
        this.finish(id, {
          state: "failed",
          error: response.status,
          msg: response.msg ?? `the node answered "${response.status}"`,
        });
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      this.finish(id, { state: "failed", error: error.code, msg: error.message });
    }
    return this.jobs.get(id) as OtaJob;
  }

  /**
   * The image file of an active job whose token matches, or nothing. The token is compared in constant
   * time with the stored hash; an unknown job is compared against a hash that matches nothing, so the
   * answer takes the same work whichever way it fails.
   */
  download(jobId: string, token: string): { path: string; size: number } | undefined {
    const stored = this.jobs.activeTokenHash(jobId);
    const matches = verifySecret(token, stored ?? hashSecret(`${jobId}\u0000unknown`)) && stored !== undefined;
    if (!matches) return undefined;
    const job = this.jobs.get(jobId) as OtaJob;
    return { path: this.imagePath(jobId), size: job.size };
  }

  private imagePath(jobId: string): string {
    return join(this.dir, `${jobId}.bin`);
  }

  private inProgress(job: OtaJob | undefined): OtaError {
    const what = job ? ` (job ${job.id}, ${job.version}, ${job.state})` : "";
    return new OtaError("ota_in_progress", `a firmware update of this node is already running${what}`);
  }

  private onStatus(event: OtaStatusEvent): void {
    const { log, store } = this.options;
    const job = this.jobs.get(event.id);
    // Only the node the job was sent to can move it: another node naming the id is ignored.
    if (!job || job.nodeId !== event.nodeId) {
      log.debug({ node: event.nodeId, id: event.id }, "ota status for no update of this node; ignored");
      return;
    }
    if (job.endedAt !== null) {
      log.debug({ job: job.id, state: event.state }, "ota status for an update that has ended; ignored");
      return;
    }
    switch (event.state) {
      case "downloading":
        this.advance(job.id, { state: "downloading", progress: event.progress ?? job.progress ?? 0 });
        return;
      case "verifying":
        this.advance(job.id, { state: "verifying", progress: 100 });
        return;
      case "rebooting":
        this.advance(job.id, { state: "rebooting" });
        return;
      case "success": {
        // The new image published its config before `online` and `success`: its announced version is known.
        const announced = store.nodes.get(job.nodeId)?.fwVersion ?? null;
        if (announced === job.version) this.finish(job.id, { state: "success", error: null, msg: event.msg ?? null });
        else
          this.finish(job.id, {
            state: "failed",
            error: "version_mismatch",
            msg: `the node reported success but announces ${announced === null ? "no version" : `version ${announced}`}, not ${job.version}`,
          });
        return;
      }
      case "failed":
      case "rejected":
        this.finish(job.id, {
          state: event.state,
          error: event.error ?? "unknown",
          msg: event.msg ?? null,
        });
        return;
    }
  }

  /** Moves an active job on (only from `onlyFrom`, when given) and restarts its timeout. */
  private advance(jobId: string, change: OtaJobChange, onlyFrom?: OtaJob["state"]): void {
    if (this.stopped) return;
    if (onlyFrom !== undefined && this.jobs.get(jobId)?.state !== onlyFrom) return;
    const job = this.jobs.update(jobId, change, this.now());
    if (!job) return;
    this.announce(job);
    this.arm(jobId);
  }

  /** Ends a job: the outcome is written durably, the image deleted, the timer dropped. */
  private finish(jobId: string, change: OtaJobChange): void {
    if (this.stopped) return;
    const job = this.jobs.update(jobId, change, this.now());
    if (!job) return;
    clearTimeout(this.timers.get(jobId));
    this.timers.delete(jobId);
    rmSync(this.imagePath(jobId), { force: true });
    const fields = { job: job.id, node: job.nodeId, version: job.version, state: job.state, error: job.error };
    if (job.state === "success") this.options.log.info(fields, "firmware update succeeded");
    else this.options.log.warn({ ...fields, msg: job.msg }, "firmware update did not succeed");
    this.announce(job);
  }

  private arm(jobId: string): void {
    clearTimeout(this.timers.get(jobId));
    const seconds = this.options.config.ota.jobTimeoutSeconds;
    const timer = setTimeout(() => {
      this.timers.delete(jobId);
      this.finish(jobId, { state: "timeout", error: "timeout", msg: `no word from the node for ${seconds} s` });
    }, seconds * 1000);
    timer.unref();
    this.timers.set(jobId, timer);
  }

  private announce(job: OtaJob): void {
    this.options.bus.emit("ota.job", {
      jobId: job.id,
      nodeId: job.nodeId,
      version: job.version,
      state: job.state,
      progress: job.progress,
      ...(job.error === null ? {} : { error: job.error }),
      at: job.updatedAt,
    });
  }

  /** Images of jobs that are no longer active (a crash between the end of a job and the delete). */
  private removeOrphanImages(active: ReadonlySet<string>): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.endsWith(".bin") && !active.has(name.slice(0, -4))) rmSync(join(this.dir, name), { force: true });
    }
  }
}
