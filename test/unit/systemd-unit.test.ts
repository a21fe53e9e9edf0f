/**
 * systemd/hearth.service against the code it runs. `systemd/check` (in CI) verifies the unit's syntax and
 * scores its hardening, but knows nothing about Hearth: whether ExecStart names the file the build makes and
 * a real command, whether the variables are Hearth's settings, whether TimeoutStopSec leaves room for
 * shutdownTimeoutMs, whether the default ports need a capability the unit does not give; and whether
 * systemd/hearth-cli runs the CLI with the daemon's user and settings.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { startCommand } from "../../src/cli/start.ts";
import { ConfigSchema, loadConfig } from "../../src/config/index.ts";
import { parseUnit, type UnitSection, unitText } from "../helpers/systemd-unit.ts";

type Section = UnitSection;

const text = unitText("hearth.service");
const unit = parseUnit(text, "hearth.service");
const service = unit.get("Service") as Section;

/** The last value of a key, as systemd applies it. */
function value(key: string): string | undefined {
  return service.get(key)?.at(-1);
}

/** Environment= lines as variables, with the specifiers of a system unit expanded. */
function environment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of service.get("Environment") ?? []) {
    for (const assignment of line.split(/\s+/)) {
      const eq = assignment.indexOf("=");
      env[assignment.slice(0, eq)] = assignment
        .slice(eq + 1)
        .replaceAll("%S", "/var/lib")
        .replaceAll("%E", "/etc");
    }
  }
  return env;
}

/** A systemd time span in milliseconds ("30", "30s", "1min 30s"). */
function timespanMs(span: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000 };
  let total = 0;
  for (const [, amount, unitName] of span.matchAll(/(\d+)\s*([a-z]*)/g)) {
    const factor = units[unitName || "s"];
    assert.ok(factor, `unexpected time unit in ${span}`);
    total += Number(amount) * factor;
  }
  return total;
}

describe("systemd/hearth.service", () => {
  test("readiness and the watchdog come from the daemon itself", () => {
    assert.equal(value("Type"), "notify");
    assert.equal(value("NotifyAccess"), "main");
    assert.ok(timespanMs(value("WatchdogSec") ?? "0") >= 10_000, "a watchdog of at least 10 s");
    assert.equal(value("Restart"), "on-failure");
  });

  test("ExecStart runs the built entry point's start command directly, not through a wrapper", () => {
    const [node, script, command, ...rest] = (value("ExecStart") ?? "").split(/\s+/);
    assert.equal(node, "/usr/bin/node");
    // tsconfig.build.json compiles src/ into dist/, so src/main.ts becomes dist/main.js.
    const build = JSON.parse(readFileSync(new URL("../../tsconfig.build.json", import.meta.url), "utf8"));
    assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ["src", "dist"]);
    assert.equal(script, "/opt/hearth/dist/main.js");
    assert.ok(existsSync(new URL("../../src/main.ts", import.meta.url)));
    assert.equal(command, startCommand().name());
    assert.deepEqual(rest, []);
  });

  test("the variables are Hearth's, and the data dir is the state directory", () => {
    const env = environment();
    assert.equal(value("StateDirectory"), "hearth");
    assert.equal(env.HEARTH_DATA_DIR, "/var/lib/hearth");
    assert.equal(env.HEARTH_CONFIG, "/etc/hearth/hearth.yaml");
    assert.equal(value("ConfigurationDirectory"), "hearth");
    // HEARTH_CONFIG names a file that does not exist here; every other variable must be a setting.
    const { HEARTH_CONFIG: _file, ...settings } = env;
    const { config, notices } = loadConfig({ env: settings });
    assert.deepEqual(notices, []);
    assert.equal(config.dataDir, "/var/lib/hearth");
  });

  test("systemd waits longer for a stop than Hearth's own shutdown limit", () => {
    const defaults = ConfigSchema.parse({});
    assert.ok(timespanMs(value("TimeoutStopSec") ?? "0") > defaults.shutdownTimeoutMs);
    assert.equal(value("KillMode"), "mixed");
  });

  test("no capabilities, so the default ports must stay above 1023", () => {
    assert.equal(value("CapabilityBoundingSet"), "");
    assert.equal(value("AmbientCapabilities"), "");
    const defaults = ConfigSchema.parse({});
    assert.ok(defaults.http.port >= 1024 && defaults.mqtt.port >= 1024);
  });

  test("systemd/hearth-cli runs the CLI as the service runs the daemon", () => {
    const cli = readFileSync(new URL("../../systemd/hearth-cli", import.meta.url), "utf8");
    const exported = Object.fromEntries(
      (/^export (.+)$/m.exec(cli)?.[1] ?? "").split(/\s+/).map((assignment) => assignment.split("=", 2)),
    );
    assert.deepEqual(exported, environment());
    assert.equal(/^STATE=(.+)$/m.exec(cli)?.[1], environment().HEARTH_DATA_DIR);
    assert.equal(`-${/^SECRETS=(.+)$/m.exec(cli)?.[1]}`, value("EnvironmentFile"));
    const exec = /^exec runuser -u (\S+) -- (.+) "\$@"$/m.exec(cli);
    assert.equal(exec?.[1], value("User"));
    assert.equal(`${exec?.[2]} start`, value("ExecStart"));
  });

  test("no MemoryDenyWriteExecute: V8's JIT aborts under it", () => {
    assert.equal(service.has("MemoryDenyWriteExecute"), false);
    assert.match(text, /^# No MemoryDenyWriteExecute=yes: /m, "the reason stays in the unit");
  });
});
