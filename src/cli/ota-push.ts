/**
 * `hearth ota push`: sending an image through the running daemon and following the update. Imported by the
 * command when it runs, not by its definition (src/cli/ota.ts): the image and job modules load zod and SQLite.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../config/index.ts";
import { readAppVersion } from "../ota/image.ts";
import type { OtaJobView } from "../ota/jobs.ts";
import type { Store } from "../store/index.ts";
import { type ApiResponse, apiErrorMessage, CliError, type CommonOptions, callDaemon, printJson } from "./context.ts";

export interface PushOptions extends CommonOptions {
  version?: string;
  wait: boolean;
  timeout: number;
  json?: boolean;
}

const FINAL_STATES = new Set(["success", "failed", "rejected", "timeout"]);
const POLL_MS = 250;

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

export async function push(
  nodeId: string,
  file: string,
  options: PushOptions,
  store: Store,
  config: Config,
): Promise<void> {
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
