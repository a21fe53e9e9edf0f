/**
 * The configuration: it loads and validates as the daemon would load it, every refused value is named with
 * the file or environment variable that set it, the development defaults still in effect are listed, and a
 * config file that holds secrets is readable by its owner only.
 */
import { statSync } from "node:fs";
import { ConfigError, developmentDefaults, envName } from "../config/index.ts";
import { type Check, type Finding, finding } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const ID = "config";
const REFERENCE = "the configuration reference in README.md lists what each setting takes";

/** Settings a config file should not show to other users. */
const SECRET_SETTINGS: ReadonlyArray<readonly string[]> = [
  ["mqtt", "password"],
  ["alexa", "clientSecret"],
  ["alexa", "forwarderSecret"],
  ["metrics", "token"],
];

/** Reported by their own checks, with more context: the public URL and the Alexa forwarder's secret. */
const REPORTED_ELSEWHERE = new Set(["publicUrl", "alexa.forwarderSecret"]);

function whereToChange(source: string, setting: string): string {
  if (setting === "(top level)") return `correct the top level of ${source}`;
  if (source === "default") return `set ${setting} in the config file or its HEARTH_* variable`;
  if (source.startsWith("--")) return `change the ${source} option`;
  if (source.startsWith("HEARTH_")) {
    return `change ${source} (in the environment, or the service's Environment= / EnvironmentFile=)`;
  }
  return `change ${setting} in ${source}`;
}

function problemFinding(problem: string): Finding {
  if (problem.startsWith("note: ")) {
    return finding(ID, "warn", problem.slice("note: ".length), "remove or rename the variable");
  }
  if (problem.startsWith("config file ")) {
    return finding(ID, "error", problem, "fix the file, or point --config / HEARTH_CONFIG at the right one");
  }
  if (problem.startsWith("HEARTH_")) {
    return finding(ID, "error", problem, "fix or unset the variable named");
  }
  return finding(ID, "error", problem, REFERENCE);
}

function loadFailure(ctx: DoctorContext): Finding[] {
  const error = ctx.configError;
  if (!(error instanceof ConfigError)) {
    return [finding(ID, "error", `the configuration cannot be loaded: ${(error as Error)?.message}`, REFERENCE)];
  }
  const findings: Finding[] = [];
  const described = new Set<string>();
  for (const issue of error.issues) {
    findings.push(
      finding(
        ID,
        "error",
        `${issue.setting}: ${issue.message} (set by ${issue.source === "default" ? "the default" : issue.source})`,
        `${whereToChange(issue.source, issue.setting)}; ${REFERENCE}`,
      ),
    );
    described.add(issue.setting);
  }
  // The problems that are not the schema's (an unreadable file, a variable that is not a number, settings
  // that go together); the schema's own are described above, with their source.
  for (const problem of error.problems) {
    const isIssue = [...described].some(
      (setting) => problem.startsWith(`${setting}: `) || problem.startsWith(`${setting} (HEARTH_`),
    );
    if (!isIssue) findings.push(problemFinding(problem));
  }
  return findings;
}

export const configCheck: Check = {
  id: ID,
  run(ctx) {
    if (!ctx.loaded) return loadFailure(ctx);
    const { config, notices } = ctx.loaded;
    const findings: Finding[] = [
      finding(
        ID,
        "ok",
        ctx.configFile
          ? `the configuration in ${ctx.configFile} is valid`
          : "the configuration (defaults and HEARTH_* variables, no config file) is valid",
      ),
    ];
    for (const notice of notices) findings.push(finding(ID, "warn", notice, "remove or rename the variable"));
    if (ctx.configFile) {
      // A secret that is set, but not by its variable (or its _FILE variant), has no default: the file holds it.
      const secrets = SECRET_SETTINGS.filter((path) => {
        const [group, key] = path as [string, string];
        const value = (config as unknown as Record<string, Record<string, unknown>>)[group]?.[key];
        const env = envName(path);
        return value !== undefined && ctx.env[env] === undefined && ctx.env[`${env}_FILE`] === undefined;
      });
      try {
        const mode = statSync(ctx.configFile).mode & 0o777;
        if (secrets.length > 0 && (mode & 0o004) !== 0) {
          findings.push(
            finding(
              ID,
              "warn",
              `${ctx.configFile} is readable by every user (mode ${mode.toString(8).padStart(4, "0")}) while secrets are set (${secrets.map((s) => s.join(".")).join(", ")})`,
              `chmod 640 ${ctx.configFile} (owner and Hearth's group), or move the secrets to HEARTH_*_FILE variables`,
            ),
          );
        }
      } catch {
        // It loaded a moment ago; a file gone since is not this check's business.
      }
    }
    for (const found of developmentDefaults(config)) {
      if (REPORTED_ELSEWHERE.has(found.setting)) continue;
      findings.push(finding("config.defaults", "warn", `development default: ${found.problem}`, found.fix));
    }
    return findings;
  },
};
