import { Command } from "commander";
import type { Finding, Report } from "../doctor/index.ts";
import { type CommonOptions, printJson, withCommonOptions } from "./context.ts";

interface DoctorOptions extends CommonOptions {
  json?: boolean;
  offline?: boolean;
}

/** Past this, a check that left something open (a socket the remote end never closed) cannot keep us. */
const EXIT_GRACE_MS = 1_000;

function printReport(report: Report): void {
  const width = Math.max(...report.checks.map((check) => check.id.length), 0);
  const line = (check: Finding) =>
    `${check.status.padEnd(5)}  ${check.id.padEnd(width)}  ${check.message}${check.fix ? ` → fix: ${check.fix}` : ""}`;
  const lines = report.checks.map(line);
  const count = (status: Finding["status"]) => report.checks.filter((check) => check.status === status).length;
  lines.push("", `${count("ok")} ok, ${count("warn")} warning(s), ${count("error")} error(s)`);
  // Grouped by reason: an invalid configuration skips everything else, --offline a handful.
  const reasons = new Map<string, string[]>();
  for (const skip of report.skipped) reasons.set(skip.reason, [...(reasons.get(skip.reason) ?? []), skip.id]);
  for (const [reason, ids] of reasons) lines.push(`skipped (${reason}): ${ids.join(", ")}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function doctorCommand(): Command {
  return withCommonOptions(new Command("doctor"))
    .description("check the configuration, files, broker, assistants and nodes, and say how to fix what is wrong")
    .option("--json", "print {checks: [{id, status, message, fix}], skipped: [{id, reason}]}")
    .option("--offline", "skip the checks that leave this machine (Amazon, Google, the public URL, a remote broker)")
    .action(async (options: DoctorOptions) => {
      const { hasErrors, runDoctor } = await import("../doctor/index.ts");
      const report = await runDoctor({
        ...(options.config ? { configFile: options.config } : {}),
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
        offline: options.offline ?? false,
      });
      if (options.json) printJson(report);
      else printReport(report);
      process.exitCode = hasErrors(report) ? 1 : 0;
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    });
}
