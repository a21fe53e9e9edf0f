/**
 * ConfigError.issues: each value the schema refuses, with where it came from, so that `hearth doctor`
 * can name the variable, flag or file to change.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, type ConfigIssue, type LoadOptions, loadConfig } from "../../src/config/index.ts";

function issuesOf(options: LoadOptions): ConfigIssue[] {
  try {
    loadConfig(options);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues;
  }
  assert.fail("expected a ConfigError");
}

describe("ConfigError.issues", () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-config-issues-"));

  test("a value from the environment names its variable", () => {
    const [issue] = issuesOf({ env: { HEARTH_HTTP_PORT: "70000" } });
    assert.equal(issue?.setting, "http.port");
    assert.equal(issue?.source, "HEARTH_HTTP_PORT");
    assert.match(issue?.message ?? "", /65535/);
  });

  test("a value read through a _FILE variable names that variable", () => {
    const file = join(dir, "level");
    writeFileSync(file, "loud\n");
    const [issue] = issuesOf({ env: { HEARTH_LOG_LEVEL_FILE: file } });
    assert.deepEqual([issue?.setting, issue?.source], ["logLevel", "HEARTH_LOG_LEVEL_FILE"]);
  });

  test("a value from the config file names the file, the environment still winning over it", () => {
    const file = join(dir, "hearth.yaml");
    writeFileSync(file, "http:\n  port: 99999\nmqtt:\n  port: 1883\n");
    assert.deepEqual(
      issuesOf({ file, env: {} }).map((issue) => [issue.setting, issue.source]),
      [["http.port", file]],
    );
    assert.deepEqual(
      issuesOf({ file, env: { HEARTH_MQTT_PORT: "-1" } }).map((issue) => [issue.setting, issue.source]),
      [
        ["http.port", file],
        ["mqtt.port", "HEARTH_MQTT_PORT"],
      ],
    );
  });

  test("a value given as a flag names the flag", () => {
    const [issue] = issuesOf({ env: {}, overrides: { dataDir: "" } });
    assert.deepEqual([issue?.setting, issue?.source], ["dataDir", "--data-dir"]);
  });

  test("an issue deep inside a JSON setting names the variable that holds the whole of it", () => {
    const issues = issuesOf({ env: { HEARTH_DEVICES: JSON.stringify({ "n.light": { class: "nonsense" } }) } });
    assert.ok(issues.length > 0);
    for (const issue of issues) assert.equal(issue.source, "HEARTH_DEVICES", issue.setting);
  });
});
