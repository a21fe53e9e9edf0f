import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError } from "commander";
import type { Config } from "../config/index.ts";
import { readAppVersion } from "../ota/image.ts";
import { OtaJobStore, type OtaJobView, otaJobView } from "../ota/jobs.ts";
import type { Store } from "../store/index.ts";
import {
  type ApiResponse,
  apiErrorMessage,
  CliError,
  type CommonOptions,
  callDaemon,
  printJson,
  printTable,
  withCommonOptions,
  withStore,
} from "./context.ts";

interface PushOptions extends CommonOptions {
  version?: string;
  wait: boolean;
  timeout: number;
  json?: boolean;
}

const FINAL_STATES = new Set(["success", "failed", "rejected", "timeout"]);
const POLL_MS = 250;
const DEFAULT_TIMEOUT_S = 600;

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("a whole number of seconds, at least 1");
  return parsed;
}

/** The version to push: `--version`, else the one in the image's ESP-IDF app description. */
export function imageVersion(image: Buffer, file: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const found = readAppVersion(image);
  if (found.found) return found.version;
  if (found.reason === "bad_version") {
    throw new CliError(`the version in ${file}'s app description ("${found.raw}") cannot be used: pass --version`);
  }
  throw new CliError(`${file} has no ESP-IDF app description to read its version from: pass --version`);
}

/** One line per step a user cares about; nothing while the job waits for the node to answer. */
function progressLine(job: OtaJobView): string | undefined {
  switch (job.state) {
    case "sent":
      return `accepted by ${job.node}`;
    case "downloading":
      return `downloading ${job.progress ?? 0} %`;
    case "verifying":
    case "rebooting":
      return job.state;
    default:
      return undefined;
  }
}

/** `failed: sha256_mismatch (image sha256 does not match)`; the reason once when the code says it all. */
export function outcomeLine(job: OtaJobView): string {
  if (job.state === "success") return `success: ${job.node} now runs ${job.version}`;
  const parts = [job.error !== null && job.error !== job.state ? job.error : undefined, job.msg ?? undefined].filter(
    (part) => part !== undefined,
  );
  if (parts.length === 2) return `${job.state}: ${parts[0]} (${parts[1]})`;
  return parts.length === 1 ? `${job.state}: ${parts[0]}` : job.state;
}

async function push(nodeId: string, file: string, options: PushOptions, store: Store, config: Config): Promise<void> {
  let image: Buffer;
  try {
    image = readFileSync(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const version = imageVersion(image, file, options.version);
  const say = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };
  const sha256 = createHash("sha256").update(image).digest("hex");
  say(`Pushing ${version} (${image.length} bytes, sha256 ${sha256.slice(0, 12)}…) to ${nodeId}`);

  // One token for the whole update rather than one per poll; it expires shortly after the wait would.
  const session = store.adminTokens.create("cli", Date.now(), (options.timeout + 60) * 1000);
  try {
    const call = (method: string, path: string, body?: Buffer) =>
      callDaemon(config, store, method, path, body, { token: session.token });
    const pushed = await call(
      "POST",
      `/api/v1/nodes/${encodeURIComponent(nodeId)}/ota?version=${encodeURIComponent(version)}`,
      image,
    );
    if (pushed.status !== 202) throw new CliError(apiErrorMessage(pushed));
    let job = pushed.body as OtaJobView;
    let shown: string | undefined;
    const show = () => {
      const line = progressLine(job);
      if (line !== undefined && line !== shown) say(line);
      shown = line ?? shown;
    };
    show();
    const deadline = Date.now() + options.timeout * 1000;
    while (options.wait && !FINAL_STATES.has(job.state) && Date.now() < deadline) {
      await sleep(POLL_MS);
      const polled = await poll(call, job.id);
      if (!polled) continue;
      job = polled;
      show();
    }
    if (options.json) printJson(job);
    if (!FINAL_STATES.has(job.state)) {
      if (!options.wait)
        return say(`Update ${job.id} is running; follow it with \`hearth ota list --node ${nodeId}\`.`);
      throw new CliError(
        `the update is still ${job.state} after ${options.timeout} s; follow it with \`hearth ota list --node ${nodeId}\``,
      );
    }
    if (job.state !== "success") throw new CliError(outcomeLine(job));
    say(outcomeLine(job));
  } finally {
    store.adminTokens.revoke(session.id);
  }
}

/** The job now, or nothing when Hearth cannot be reached for a moment (it may be restarting). */
async function poll(
  call: (method: string, path: string) => Promise<ApiResponse>,
  jobId: string,
): Promise<OtaJobView | undefined> {
  let response: ApiResponse;
  try {
    response = await call("GET", `/api/v1/ota/${encodeURIComponent(jobId)}`);
  } catch (error) {
    if (error instanceof CliError) return undefined;
    throw error;
  }
  if (response.status !== 200) throw new CliError(apiErrorMessage(response));
  return response.body as OtaJobView;
}

export function otaCommand(): Command {
  const ota = new Command("ota").description("update the firmware of nodes over the air");

  withCommonOptions(ota.command("push <node-id> <file>"))
    .description("send a firmware image to a node through the running daemon and follow the update")
    .option("--version <version>", "the image's version (default: read from its ESP-IDF app description)")
    .option("--no-wait", "return once the node has accepted the update")
    .option("--timeout <seconds>", "how long to follow the update", seconds, DEFAULT_TIMEOUT_S)
    .option("--json", "print the job as JSON at the end")
    .action((nodeId: string, file: string, options: PushOptions) =>
      withStore(options, (store, config) => push(nodeId, file, options, store, config)),
    );

  // Not listCommand: --node filters the rows.
  withCommonOptions(ota.command("list"))
    .description("list firmware updates, newest first")
    .option("--node <node-id>", "only this node's updates")
    .option("--json", "print JSON")
    .action((options: CommonOptions & { node?: string; json?: boolean }) =>
      withStore(options, (store) => {
        const jobs = new OtaJobStore(store.db)
          .list({ ...(options.node ? { nodeId: options.node } : {}) })
          .map(otaJobView);
        if (options.json) return printJson(jobs);
        if (jobs.length === 0) {
          return void process.stdout.write(
            "No firmware updates yet: push one with `hearth ota push <node-id> <image.bin>`.\n",
          );
        }
        printTable(
          ["JOB", "NODE", "VERSION", "STATE", "PROGRESS", "ERROR", "STARTED"],
          jobs.map((job) => [
            job.id,
            job.node,
            job.version,
            job.state,
            job.progress === null ? null : `${job.progress} %`,
            job.error,
            job.created_at,
          ]),
        );
      }),
    );

  return ota;
}
