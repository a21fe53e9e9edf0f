import { Command, InvalidArgumentError } from "commander";
import { type CommonOptions, printJson, printTable, withCommonOptions, withStore } from "./context.ts";
import type { PushOptions } from "./ota-push.ts";

const DEFAULT_TIMEOUT_S = 600;

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("a whole number of seconds, at least 1");
  return parsed;
}

export function otaCommand(): Command {
  const ota = new Command("ota").description("update the firmware of nodes over the air");

  withCommonOptions(ota.command("push <node-id> <file>"))
    .description("send a firmware image to a node through the running daemon and follow the update")
    .option("--version <version>", "the image's version (default: read from its ESP-IDF app description)")
    .option("--no-wait", "return once the node has accepted the update")
    .option("--timeout <seconds>", "how long to follow the update", seconds, DEFAULT_TIMEOUT_S)
    .option("--json", "print the job as JSON at the end")
    .action(async (nodeId: string, file: string, options: PushOptions) => {
      const { push } = await import("./ota-push.ts");
      return withStore(options, (store, config) => push(nodeId, file, options, store, config));
    });

  // Not listCommand: --node filters the rows.
  withCommonOptions(ota.command("list"))
    .description("list firmware updates, newest first")
    .option("--node <node-id>", "only this node's updates")
    .option("--json", "print JSON")
    .action((options: CommonOptions & { node?: string; json?: boolean }) =>
      withStore(options, async (store) => {
        const { OtaJobStore, otaJobView } = await import("../ota/jobs.ts");
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
