import { resolve } from "node:path";
import { Command } from "commander";
import type { BackupResult } from "../store/backup.ts";
import { type CommonOptions, cliConfig, printJson, withCommonOptions } from "./context.ts";

interface BackupOptions extends CommonOptions {
  force?: boolean;
  json?: boolean;
}

/** `--json` prints this: snake_case like the rest of the CLI's JSON. */
function backupView(result: BackupResult) {
  return {
    file: result.file,
    bytes: result.bytes,
    schema_version: result.schemaVersion,
    integrity: result.integrity,
    foreign_key_violations: result.foreignKeyViolations,
    counts: result.counts,
    pages: result.pages,
    restarts: result.restarts,
    elapsed_ms: result.elapsedMs,
  };
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function backupCommand(): Command {
  return withCommonOptions(new Command("backup"))
    .description("copy the database to a file while Hearth runs (SQLite's online backup) and check the copy")
    .argument("<file>", "the backup file to write, outside the data dir")
    .option("--force", "replace the file if it exists")
    .option("--json", "print one JSON object")
    .action(async (file: string, options: BackupOptions) => {
      // The config only gives the data dir: the backup works whether or not Hearth is running.
      const { config } = await cliConfig(options);
      const { backupDatabase, databasePath } = await import("../store/index.ts");
      const dataDir = resolve(config.dataDir);
      const result = await backupDatabase({
        source: databasePath(dataDir),
        dataDir,
        destination: file,
        force: options.force ?? false,
      });
      if (result.foreignKeyViolations > 0) {
        process.stderr.write(
          `hearth: warning: the database has ${plural(result.foreignKeyViolations, "row")} that PRAGMA foreign_key_check reports; the backup is a faithful copy of them\n`,
        );
      }
      if (options.json) return printJson(backupView(result));
      const { counts } = result;
      process.stdout.write(
        [
          `Backed up ${databasePath(dataDir)} to ${result.file}`,
          `  size            ${size(result.bytes)} (${result.bytes} bytes)`,
          `  schema version  ${result.schemaVersion}`,
          "  integrity       ok",
          `  contents        ${plural(counts.nodes, "node")}, ${plural(counts.devices, "device")}, ${plural(counts.users, "user")}, ${plural(counts.clients, "client")}`,
          `  took            ${result.elapsedMs} ms${result.restarts > 0 ? ` (started again ${plural(result.restarts, "time")} as Hearth wrote)` : ""}`,
          "",
          "The file holds secrets (hook and subscription signing secrets, Alexa event-gateway tokens) and is",
          "readable by its owner only: keep it that way wherever you copy it.",
          "",
        ].join("\n"),
      );
    });
}
