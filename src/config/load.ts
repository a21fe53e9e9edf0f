import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname } from "node:path";
import { configReference, ENV_PREFIX, type SettingReference } from "./reference.ts";
import { type Config, ConfigSchema } from "./schema.ts";

/** Environment variables that are not settings but are read by the CLI. */
const NON_SETTING_ENV = new Set([
  "HEARTH_CONFIG",
  "HEARTH_ADMIN_TOKEN",
  "HEARTH_URL",
  "HEARTH_SIM_PASSWORD",
  "HEARTH_DEBUG",
]);

/**
 * A value the schema refused, with where it came from, so that `hearth doctor` can say which file line or
 * environment variable to change. `source` is an environment variable (`HEARTH_HTTP_PORT`, or one with
 * `_FILE`), a command-line flag, the config file's path, or "default".
 */
export interface ConfigIssue {
  setting: string;
  message: string;
  source: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly problems: string[],
    /** The schema's refusals among `problems`, with their sources; empty for the other kinds of problem. */
    readonly issues: ConfigIssue[] = [],
  ) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export interface LoadOptions {
  /** Path of a YAML or JSON file; `HEARTH_CONFIG` names one when this is absent. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (`--data-dir`), which beat both file and environment. */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings to log at start, e.g. unknown HEARTH_* variables. */
  notices: string[];
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

function hasPath(tree: Tree, path: readonly string[]): boolean {
  let node: unknown = tree;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !(key in node)) return false;
    node = (node as Tree)[key];
  }
  return true;
}

/**
 * yaml is required only when a YAML file is read: most installations configure Hearth with environment
 * variables alone, and importing yaml costs every start and CLI command about 70 ms and 10 MiB. `require`
 * rather than `await import()` because loading the config is synchronous; yaml is a CommonJS package, so
 * this is the same module an `import` would load.
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml.parse(text);
}

function readFileTree(file: string, problems: string[]): Tree {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push(`config file ${file}: ${(error as NodeJS.ErrnoException).code ?? "cannot be read"}`);
    return {};
  }
  const isJson = extname(file).toLowerCase() === ".json";
  try {
    const parsed: unknown = isJson ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) {
      problems.push(`config file ${file}: the top level must be a mapping of settings`);
      return {};
    }
    return parsed as Tree;
  } catch (error) {
    problems.push(
      `config file ${file}: not valid ${isJson ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`,
    );
    return {};
  }
}

function coerceEnv(setting: SettingReference, raw: string, problems: string[]): unknown {
  switch (setting.kind) {
    case "number": {
      // Plain decimal only: Number() would also take "0x1F90" or "1e3", which nobody means for a port.
      const n = Number(raw.trim());
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(n)) {
        problems.push(`${setting.env}: expected a number, got "${raw}"`);
        return undefined;
      }
      return n;
    }
    case "boolean": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      problems.push(`${setting.env}: expected true or false, got "${raw}"`);
      return undefined;
    }
    case "json":
      try {
        return JSON.parse(raw);
      } catch (error) {
        problems.push(`${setting.env}: expected JSON, ${(error as Error).message}`);
        return undefined;
      }
    default:
      return raw;
  }
}

function readEnvValue(setting: SettingReference, env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  const direct = env[setting.env];
  const fileVar = `${setting.env}_FILE`;
  const fromFile = env[fileVar];
  if (direct !== undefined && fromFile !== undefined) {
    problems.push(`${setting.env} and ${fileVar} are both set; keep one`);
    return undefined;
  }
  if (fromFile !== undefined) {
    try {
      return readFileSync(fromFile, "utf8").trim();
    } catch (error) {
      problems.push(`${fileVar}: ${fromFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return undefined;
    }
  }
  return direct;
}

/**
 * Builds the configuration from defaults, an optional file, `HEARTH_*` variables and flags, in that
 * order of precedence, and validates it once. Every problem is reported together in one ConfigError.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const notices: string[] = [];
  const file = options.file ?? env.HEARTH_CONFIG;
  const tree: Tree = file ? readFileTree(file, problems) : {};
  // Which settings the file itself holds, before the environment and flags are merged over it.
  const fromFile = structuredClone(tree);

  const reference = configReference();
  const known = new Set(reference.flatMap((s) => [s.env, `${s.env}_FILE`]));
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name) && !NON_SETTING_ENV.has(name)) {
      notices.push(`${name} is not a Hearth setting and is ignored (see the config reference in README.md)`);
    }
  }
  for (const setting of reference) {
    const raw = readEnvValue(setting, env, problems);
    if (raw === undefined) continue;
    const value = coerceEnv(setting, raw, problems);
    if (value !== undefined) setPath(tree, setting.path, value);
  }
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(tree, dotted.split("."), value);
  }

  const sourceOf = (path: readonly string[]): string => {
    // A setting given as JSON (`devices`, `scenes`) is set as a whole: its issues are deeper than its path.
    const setting = reference.find((s) => s.path.every((part, i) => path[i] === part));
    const dotted = path.join(".");
    const flag = Object.keys(options.overrides ?? {}).find((key) => dotted === key || dotted.startsWith(`${key}.`));
    if (flag !== undefined) return `--${flag.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
    if (setting && env[setting.env] !== undefined) return setting.env;
    if (setting && env[`${setting.env}_FILE`] !== undefined) return `${setting.env}_FILE`;
    if (file && hasPath(fromFile, path)) return file;
    return "default";
  };
  const issues: ConfigIssue[] = [];
  const result = ConfigSchema.safeParse(tree);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String);
      const where = path.length > 0 ? path.join(".") : "(top level)";
      const envHint = reference.find((s) => s.path.join(".") === path.join("."))?.env;
      problems.push(`${where}${envHint ? ` (${envHint})` : ""}: ${issue.message}`);
      issues.push({ setting: where, message: issue.message, source: sourceOf(path) });
    }
  }
  // Checked on the merged values rather than the parsed result, so that it is reported with the others.
  const mqtt = typeof tree.mqtt === "object" && tree.mqtt !== null ? (tree.mqtt as Tree) : {};
  if (mqtt.url && (mqtt.username === undefined || mqtt.password === undefined)) {
    problems.push(
      "mqtt.url is set: also set mqtt.username and mqtt.password (HEARTH_MQTT_USERNAME, HEARTH_MQTT_PASSWORD) for the bridge's own broker account",
    );
  }
  const alexa = typeof tree.alexa === "object" && tree.alexa !== null ? (tree.alexa as Tree) : {};
  if ((alexa.clientId === undefined) !== (alexa.clientSecret === undefined)) {
    problems.push(
      "alexa.clientId and alexa.clientSecret go together (HEARTH_ALEXA_CLIENT_ID, HEARTH_ALEXA_CLIENT_SECRET): both from the console's Send Alexa Events section",
    );
  }
  // Notices go with the problems: "HEARTH_MQTT_PASWORD is not a setting" explains "set mqtt.password".
  if (problems.length > 0) {
    throw new ConfigError([...problems, ...notices.map((notice) => `note: ${notice}`)], issues);
  }
  const config = (result as { data: Config }).data;
  return { config, notices };
}
