import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type Config,
  ConfigError,
  configReference,
  developmentDefaultWarnings,
  envName,
  type LoadOptions,
  loadConfig,
} from "../../src/config/index.ts";

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-config-test-"));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeTemp(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Loads with an explicit (possibly empty) environment, never the real one. */
function load(options: LoadOptions = {}) {
  return loadConfig({ env: {}, ...options });
}

/** Expects a ConfigError and returns its problems. */
function problemsOf(options: LoadOptions): string[] {
  try {
    load(options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(error.problems.length > 0);
    for (const problem of error.problems) assert.ok(error.message.includes(problem), "message lists every problem");
    return error.problems;
  }
  assert.fail("expected the configuration to be refused");
}

const externalBroker = {
  HEARTH_MQTT_URL: "mqtts://broker.example.net:8883",
  HEARTH_MQTT_USERNAME: "hearth-bridge",
  HEARTH_MQTT_PASSWORD: "s3cret",
};

describe("defaults", () => {
  test("an empty environment and no file give the documented defaults", () => {
    const { config, notices } = load();
    assert.deepEqual(config, {
      dataDir: "./data",
      logLevel: "info",
      shutdownTimeoutMs: 10_000,
      http: { host: "127.0.0.1", port: 8080, trustProxy: false, bodyLimitBytes: 65_536 },
      mqtt: { host: "127.0.0.1", port: 1883, topicPrefix: "hearth/v1", maxKeepaliveSeconds: 120 },
      commands: { timeoutMs: 5000, desiredTtlSeconds: 600 },
      alexa: {
        region: "NA",
        lwaTokenUrl: "https://api.amazon.com/auth/o2/token",
        commandTimeoutMs: 5000,
        changeReportDelayMs: 500,
        manufacturerName: "Hearth",
      },
      google: {
        homegraphUrl: "https://homegraph.googleapis.com",
        executeTimeoutMs: 2500,
        reportStateDelayMs: 500,
        requestSyncDelayMs: 2000,
        pinAttempts: 5,
        pinLockoutSeconds: 900,
      },
      webhooks: { allowPrivateDestinations: false, requestsPerMinute: 60, deliveryTimeoutMs: 15_000 },
      ota: { maxImageBytes: 4 * 1024 * 1024, jobTimeoutSeconds: 600 },
      metrics: { enabled: true },
      scenes: [],
      devices: {},
    });
    assert.deepEqual(notices, []);
  });

  test("changing one loaded config does not change the defaults of the next", () => {
    const first = load().config;
    first.http.port = 1;
    first.mqtt.host = "0.0.0.0";
    const second = load().config;
    assert.equal(second.http.port, 8080);
    assert.equal(second.mqtt.host, "127.0.0.1");
  });

  test("every setting has an environment variable derived from its path", () => {
    const reference = configReference();
    const byPath = new Map(reference.map((s) => [s.path.join("."), s]));
    assert.equal(byPath.get("http.port")?.env, "HEARTH_HTTP_PORT");
    assert.equal(byPath.get("mqtt.url")?.env, "HEARTH_MQTT_URL");
    assert.equal(byPath.get("http.trustProxy")?.env, "HEARTH_HTTP_TRUST_PROXY");
    assert.equal(byPath.get("mqtt.maxKeepaliveSeconds")?.env, "HEARTH_MQTT_MAX_KEEPALIVE_SECONDS");
    assert.equal(byPath.get("dataDir")?.env, "HEARTH_DATA_DIR");
    assert.equal(byPath.get("http.port")?.kind, "number");
    assert.equal(byPath.get("http.trustProxy")?.kind, "boolean");
    assert.equal(byPath.get("http.port")?.default, 8080);
    for (const setting of reference) {
      assert.equal(setting.env, envName(setting.path));
      assert.notEqual(setting.description, "", `${setting.env} has no description`);
    }
    assert.equal(new Set(reference.map((s) => s.env)).size, reference.length, "env names are unique");
  });
});

describe("config file", () => {
  test("a YAML file sets nested values and leaves the rest at their defaults", () => {
    const file = writeTemp(
      "hearth.yaml",
      [
        "# Hearth",
        "dataDir: /var/lib/hearth",
        "logLevel: warn",
        "http:",
        "  port: 9000",
        "  trustProxy: true",
        "",
      ].join("\n"),
    );
    const { config } = load({ file });
    assert.equal(config.dataDir, "/var/lib/hearth");
    assert.equal(config.logLevel, "warn");
    assert.equal(config.http.port, 9000);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.http.host, "127.0.0.1");
    assert.equal(config.http.bodyLimitBytes, 65_536);
    assert.equal(config.mqtt.port, 1883);
  });

  test("a JSON file is read as JSON", () => {
    const file = writeTemp("hearth.json", JSON.stringify({ mqtt: { port: 1884, topicPrefix: "home/hearth" } }));
    const { config } = load({ file });
    assert.equal(config.mqtt.port, 1884);
    assert.equal(config.mqtt.topicPrefix, "home/hearth");
    assert.equal(config.mqtt.host, "127.0.0.1");
  });

  test("HEARTH_CONFIG names the file when none is given", () => {
    const file = writeTemp("from-env.yaml", "http:\n  port: 9100\n");
    const { config, notices } = loadConfig({ env: { HEARTH_CONFIG: file } });
    assert.equal(config.http.port, 9100);
    assert.deepEqual(notices, []);
  });

  test("an empty file means all defaults", () => {
    const file = writeTemp("empty.yaml", "");
    assert.equal(load({ file }).config.http.port, 8080);
  });

  test("an unknown key in the file is rejected and named", () => {
    const file = writeTemp("unknown.yaml", "http:\n  port: 9000\n  prot: 9001\nmqtt_url: mqtt://x\n");
    const problems = problemsOf({ file });
    assert.ok(
      problems.some((p) => p.includes("prot")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.includes("mqtt_url")),
      problems.join("\n"),
    );
  });

  test("a missing file is reported with its path", () => {
    const file = join(dir, "does-not-exist.yaml");
    const problems = problemsOf({ file });
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /does-not-exist\.yaml: ENOENT/);
  });

  test("invalid YAML and invalid JSON are reported as such", () => {
    const yaml = writeTemp("broken.yaml", "http:\n  port: [9000\n");
    assert.match(problemsOf({ file: yaml }).join("\n"), /broken\.yaml: not valid YAML/);
    const json = writeTemp("broken.json", '{"http": {"port": 9000}');
    assert.match(problemsOf({ file: json }).join("\n"), /broken\.json: not valid JSON/);
    const upper = writeTemp("BROKEN.JSON", '{"http": ');
    assert.match(problemsOf({ file: upper }).join("\n"), /BROKEN\.JSON: not valid JSON/);
  });

  test("a file whose top level is not a mapping is refused", () => {
    const file = writeTemp("list.yaml", "- port: 9000\n");
    assert.match(problemsOf({ file }).join("\n"), /top level must be a mapping/);
  });

  test("a wrongly typed value in the file is reported with its path and variable", () => {
    const file = writeTemp("typed.yaml", 'http:\n  port: "eighty"\n');
    const problems = problemsOf({ file });
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^http\.port \(HEARTH_HTTP_PORT\): /);
  });
});

describe("environment and overrides", () => {
  test("an environment variable beats the file", () => {
    const file = writeTemp("port.yaml", "http:\n  port: 9000\n  host: 0.0.0.0\n");
    const { config } = load({ file, env: { HEARTH_HTTP_PORT: "9200" } });
    assert.equal(config.http.port, 9200);
    assert.equal(config.http.host, "0.0.0.0", "the rest of the file still applies");
  });

  test("an override beats the environment and the file", () => {
    const file = writeTemp("data.yaml", "dataDir: /from/file\n");
    const { config } = load({
      file,
      env: { HEARTH_DATA_DIR: "/from/env", HEARTH_HTTP_PORT: "9200" },
      overrides: { dataDir: "/from/flag", "http.port": 9300 },
    });
    assert.equal(config.dataDir, "/from/flag");
    assert.equal(config.http.port, 9300);
  });

  test("an override left undefined does not hide the environment", () => {
    const { config } = load({ env: { HEARTH_DATA_DIR: "/from/env" }, overrides: { dataDir: undefined } });
    assert.equal(config.dataDir, "/from/env");
  });

  test("numbers and booleans are read from their text", () => {
    const { config } = load({
      env: {
        HEARTH_HTTP_PORT: " 8443 ",
        HEARTH_HTTP_TRUST_PROXY: "yes",
        HEARTH_COMMANDS_TIMEOUT_MS: "2500",
        HEARTH_LOG_LEVEL: "warn",
      },
    });
    assert.equal(config.http.port, 8443);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.commands.timeoutMs, 2500);
    assert.equal(config.logLevel, "warn");
    for (const [raw, expected] of [
      ["true", true],
      ["TRUE", true],
      ["1", true],
      ["on", true],
      ["false", false],
      ["0", false],
      ["no", false],
      ["Off", false],
    ] as const) {
      assert.equal(load({ env: { HEARTH_HTTP_TRUST_PROXY: raw } }).config.http.trustProxy, expected, raw);
    }
  });

  test("a number variable that is not a number is refused with the variable and the text", () => {
    for (const raw of ["eighty", "", "  ", "80 80", "Infinity", "0x1F90", "1e3"]) {
      const problems = problemsOf({ env: { HEARTH_HTTP_PORT: raw } });
      assert.deepEqual(problems, [`HEARTH_HTTP_PORT: expected a number, got "${raw}"`]);
    }
  });

  test("a number outside the allowed range is refused and names the variable", () => {
    const problems = problemsOf({ env: { HEARTH_HTTP_PORT: "70000" } });
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^http\.port \(HEARTH_HTTP_PORT\): .*65535/);
    assert.match(problemsOf({ env: { HEARTH_HTTP_PORT: "80.5" } })[0] as string, /HEARTH_HTTP_PORT/);
  });

  test("a boolean variable that is not a boolean is refused with the variable and the text", () => {
    const problems = problemsOf({ env: { HEARTH_HTTP_TRUST_PROXY: "maybe" } });
    assert.deepEqual(problems, ['HEARTH_HTTP_TRUST_PROXY: expected true or false, got "maybe"']);
  });

  test("a _FILE variable reads the value from that file, without the trailing newline", () => {
    const secret = writeTemp("mqtt-password", "from-a-file\n");
    const { config } = load({
      env: {
        HEARTH_MQTT_URL: "mqtts://broker.example.net",
        HEARTH_MQTT_USERNAME: "bridge",
        HEARTH_MQTT_PASSWORD_FILE: secret,
      },
    });
    assert.equal(config.mqtt.password, "from-a-file");
  });

  test("a _FILE variable is coerced like the plain one", () => {
    const port = writeTemp("port", "9400\n");
    assert.equal(load({ env: { HEARTH_HTTP_PORT_FILE: port } }).config.http.port, 9400);
  });

  test("a _FILE variable naming a missing file is refused", () => {
    const missing = join(dir, "no-such-secret");
    const problems = problemsOf({ env: { HEARTH_MQTT_PASSWORD_FILE: missing } });
    assert.deepEqual(problems, [`HEARTH_MQTT_PASSWORD_FILE: ${missing} cannot be read (ENOENT)`]);
  });

  test("setting both a variable and its _FILE variant is refused", () => {
    const secret = writeTemp("password-both", "one\n");
    const problems = problemsOf({ env: { HEARTH_MQTT_PASSWORD: "two", HEARTH_MQTT_PASSWORD_FILE: secret } });
    assert.deepEqual(problems, ["HEARTH_MQTT_PASSWORD and HEARTH_MQTT_PASSWORD_FILE are both set; keep one"]);
  });

  test("an unknown HEARTH_ variable gives a notice, not an error", () => {
    const { config, notices } = load({ env: { HEARTH_FOO: "1", HEARTH_HTTP_PORTT: "9000", PATH: "/usr/bin" } });
    assert.equal(config.http.port, 8080);
    assert.equal(notices.length, 2);
    assert.ok(notices.some((n) => n.startsWith("HEARTH_FOO is not a Hearth setting")));
    assert.ok(notices.some((n) => n.startsWith("HEARTH_HTTP_PORTT is not a Hearth setting")));
  });

  test("a notice about an unknown variable is listed with the problems it may explain", () => {
    const problems = problemsOf({
      env: {
        HEARTH_MQTT_URL: "mqtt://broker.example.net",
        HEARTH_MQTT_USERNAME: "hearth_bridge",
        HEARTH_MQTT_PASWORD: "x",
      },
    });
    assert.ok(problems.some((p) => p.startsWith("mqtt.url is set")));
    assert.ok(problems.some((p) => p.startsWith("note: HEARTH_MQTT_PASWORD is not a Hearth setting")));
  });

  test("variables read by the CLI and _FILE variants are not reported as unknown", () => {
    const secret = writeTemp("password-notice", "pw\n");
    const { notices } = load({
      env: {
        ...externalBroker,
        HEARTH_MQTT_PASSWORD: undefined,
        HEARTH_MQTT_PASSWORD_FILE: secret,
        HEARTH_ADMIN_TOKEN: "t",
        HEARTH_URL: "http://127.0.0.1:8080",
      },
    });
    assert.deepEqual(notices, []);
  });
});

describe("problems are reported together", () => {
  test("every problem from the file and the environment is listed in one ConfigError", () => {
    const file = writeTemp("many.yaml", "logLevel: loud\nhttp:\n  port: -1\nmqtt:\n  colour: blue\n");
    const problems = problemsOf({
      file,
      env: { HEARTH_HTTP_TRUST_PROXY: "perhaps", HEARTH_COMMANDS_TIMEOUT_MS: "soon", HEARTH_PUBLIC_URL: "ftp://x" },
    });
    const expected = [
      /^HEARTH_HTTP_TRUST_PROXY: expected true or false/,
      /^HEARTH_COMMANDS_TIMEOUT_MS: expected a number/,
      /^logLevel \(HEARTH_LOG_LEVEL\): /,
      /^http\.port \(HEARTH_HTTP_PORT\): /,
      /^publicUrl \(HEARTH_PUBLIC_URL\): /,
      /colour/,
    ];
    for (const pattern of expected) {
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `${pattern} not in:\n${problems.join("\n")}`,
      );
    }
    assert.ok(new Set(problems).size >= 6);
  });

  test("a missing broker account is listed together with the other problems", () => {
    const problems = problemsOf({
      env: { HEARTH_MQTT_URL: "mqtts://broker.example.net", HEARTH_HTTP_PORT: "70000", HEARTH_LOG_LEVEL: "loud" },
    });
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.ok(problems.some((p) => p.startsWith("mqtt.url is set")));
    assert.ok(problems.some((p) => p.startsWith("http.port")));
    assert.ok(problems.some((p) => p.startsWith("logLevel")));
  });
});

describe("external broker", () => {
  test("mqtt.url without username and password is refused", () => {
    for (const env of [
      { HEARTH_MQTT_URL: "mqtts://broker.example.net" },
      { HEARTH_MQTT_URL: "mqtts://broker.example.net", HEARTH_MQTT_USERNAME: "bridge" },
      { HEARTH_MQTT_URL: "mqtts://broker.example.net", HEARTH_MQTT_PASSWORD: "pw" },
    ]) {
      const problems = problemsOf({ env });
      assert.equal(problems.length, 1);
      assert.match(problems[0] as string, /mqtt\.url is set: also set mqtt\.username and mqtt\.password/);
    }
  });

  test("mqtt.url with username and password is accepted", () => {
    const { config } = load({ env: externalBroker });
    assert.equal(config.mqtt.url, "mqtts://broker.example.net:8883");
    assert.equal(config.mqtt.username, "hearth-bridge");
    assert.equal(config.mqtt.password, "s3cret");
  });

  test("the broker account may come from the file", () => {
    const file = writeTemp(
      "broker.yaml",
      "mqtt:\n  url: mqtts://broker.example.net\n  username: hearth-bridge\n  password: s3cret\n",
    );
    assert.equal(load({ file }).config.mqtt.username, "hearth-bridge");
  });

  test("a broker URL with a scheme other than mqtt, mqtts, tcp or tls is refused", () => {
    const problems = problemsOf({ env: { ...externalBroker, HEARTH_MQTT_URL: "ws://broker.example.net" } });
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^mqtt\.url \(HEARTH_MQTT_URL\): /);
  });

  test("a broker URL without a host is refused", () => {
    const problems = problemsOf({ env: { ...externalBroker, HEARTH_MQTT_URL: "mqtt:broker" } });
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^mqtt\.url \(HEARTH_MQTT_URL\): /);
  });

  test("firmware downloads: ota.baseUrl is an http(s) URL of at most 200 characters", () => {
    const { config } = load({ env: { HEARTH_OTA_BASE_URL: "http://192.168.1.10:8080" } });
    assert.equal(config.ota.baseUrl, "http://192.168.1.10:8080");
    for (const url of ["ftp://192.168.1.10/", "http:192.168.1.10", `http://h.example/${"a".repeat(200)}`]) {
      const problems = problemsOf({ env: { HEARTH_OTA_BASE_URL: url } });
      assert.equal(problems.length, 1, url);
      assert.match(problems[0] as string, /^ota\.baseUrl \(HEARTH_OTA_BASE_URL\): /);
    }
  });

  test("the Alexa Skill Messaging client id and secret come together", () => {
    const problems = problemsOf({ env: { HEARTH_ALEXA_CLIENT_ID: "amzn1.application-oa2-client.x" } });
    assert.match(problems.join("\n"), /alexa\.clientId and alexa\.clientSecret go together/);
  });

  test("scenes and device overrides are JSON in the environment, and bad JSON is named", () => {
    const { config } = load({
      env: {
        HEARTH_DEVICES: '{"kitchen-1.light":{"name":"Kitchen","class":"garage"}}',
        HEARTH_SCENES: '[{"id":"night","name":"Night","actions":[{"device":"kitchen-1.light","params":{"on":false}}]}]',
      },
    });
    assert.equal(config.devices["kitchen-1.light"]?.class, "garage");
    assert.equal(config.scenes[0]?.name, "Night");
    const problems = problemsOf({ env: { HEARTH_SCENES: "[{" } });
    assert.match(problems[0] as string, /^HEARTH_SCENES: expected JSON/);
    const unknownClass = problemsOf({ env: { HEARTH_DEVICES: '{"a-1.b":{"class":"rocket"}}' } });
    assert.match(unknownClass.join("\n"), /devices\.a-1\.b\.class/);
  });

  test("a topic prefix with wildcards is refused", () => {
    for (const prefix of ["hearth/#", "hearth/+/v1", "/hearth", "hearth/"]) {
      const problems = problemsOf({ env: { HEARTH_MQTT_TOPIC_PREFIX: prefix } });
      assert.match(problems[0] as string, /a topic prefix is plain levels without wildcards/, prefix);
    }
  });
});

describe("developmentDefaultWarnings", () => {
  const configWith = (env: Record<string, string>): Config => load({ env }).config;

  const hardened = {
    HEARTH_PUBLIC_URL: "https://hearth.example.net",
    HEARTH_HTTP_HOST: "127.0.0.1",
    HEARTH_ALEXA_FORWARDER_SECRET: "a-long-random-forwarder-secret",
    HEARTH_METRICS_TOKEN: "a-long-random-metrics-token",
    ...externalBroker,
  };

  test("a hardened config gives no warning", () => {
    assert.deepEqual(developmentDefaultWarnings(configWith(hardened)), []);
  });

  test("an HTTP server behind a trusted proxy and an embedded broker on loopback give no warning", () => {
    const config = configWith({
      HEARTH_PUBLIC_URL: "https://hearth.example.net",
      HEARTH_HTTP_HOST: "0.0.0.0",
      HEARTH_HTTP_TRUST_PROXY: "true",
      HEARTH_MQTT_HOST: "localhost",
      HEARTH_ALEXA_FORWARDER_SECRET: "a-long-random-forwarder-secret",
      HEARTH_METRICS_TOKEN: "a-long-random-metrics-token",
    });
    assert.deepEqual(developmentDefaultWarnings(config), []);
  });

  test("the defaults warn that the bridge cannot be reached by voice platforms", () => {
    const warnings = developmentDefaultWarnings(load().config);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /^publicUrl is not set/);
  });

  test("a plain-HTTP public URL is warned about, whatever the case of its scheme", () => {
    for (const url of ["http://hearth.example.net", "HTTP://hearth.example.net"]) {
      const warnings = developmentDefaultWarnings(configWith({ ...hardened, HEARTH_PUBLIC_URL: url }));
      assert.equal(warnings.length, 1, url);
      assert.match(warnings[0] as string, /is plain HTTP/);
    }
  });

  test("an HTTP server on a public address without a trusted proxy is warned about", () => {
    const warnings = developmentDefaultWarnings(configWith({ ...hardened, HEARTH_HTTP_HOST: "0.0.0.0" }));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /HTTP server listens on 0\.0\.0\.0 without TLS/);
  });

  test("an embedded broker on a non-loopback address is warned about", () => {
    const config = configWith({
      HEARTH_PUBLIC_URL: "https://hearth.example.net",
      HEARTH_MQTT_HOST: "0.0.0.0",
      HEARTH_ALEXA_FORWARDER_SECRET: "a-long-random-forwarder-secret",
    });
    const warnings = developmentDefaultWarnings(config);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /embedded MQTT broker listens on 0\.0\.0\.0 without TLS/);
  });

  test("an external broker on another machine without TLS is warned about, whatever the case of its scheme", () => {
    for (const url of ["mqtt://broker.lan:1883", "tcp://broker.lan", "MQTT://broker.lan"]) {
      const warnings = developmentDefaultWarnings(configWith({ ...hardened, HEARTH_MQTT_URL: url }));
      assert.equal(warnings.length, 1, url);
      assert.match(warnings[0] as string, /external broker broker\.lan is reached without TLS/);
    }
  });

  test("an external broker without TLS on loopback, or with TLS anywhere, is not warned about", () => {
    for (const url of ["mqtt://127.0.0.1:1883", "mqtt://localhost", "mqtt://[::1]:1883", "tls://broker.lan"]) {
      assert.deepEqual(developmentDefaultWarnings(configWith({ ...hardened, HEARTH_MQTT_URL: url })), [], url);
    }
  });

  test("debug and trace log levels are warned about", () => {
    for (const level of ["debug", "trace"]) {
      const warnings = developmentDefaultWarnings(configWith({ ...hardened, HEARTH_LOG_LEVEL: level }));
      assert.equal(warnings.length, 1, level);
      assert.match(warnings[0] as string, new RegExp(`logLevel is ${level}: message payloads are logged`));
    }
  });

  test("each development default adds its own warning", () => {
    const config = configWith({
      HEARTH_PUBLIC_URL: "http://hearth.example.net",
      HEARTH_HTTP_HOST: "0.0.0.0",
      HEARTH_MQTT_HOST: "0.0.0.0",
      HEARTH_LOG_LEVEL: "debug",
    });
    assert.equal(developmentDefaultWarnings(config).length, 6);
  });

  test("metrics open to the network are warned about: beyond loopback without metrics.token, proxy or not", () => {
    const { HEARTH_METRICS_TOKEN: _, ...open } = hardened;
    for (const proxied of ["true", "false"]) {
      const warnings = developmentDefaultWarnings(
        configWith({ ...open, HEARTH_HTTP_HOST: "0.0.0.0", HEARTH_HTTP_TRUST_PROXY: proxied }),
      ).filter((warning) => warning.startsWith("metrics.token"));
      assert.equal(warnings.length, 1, proxied);
      assert.match(
        warnings[0] as string,
        /GET \/metrics answers anyone who reaches 0\.0\.0\.0; set HEARTH_METRICS_TOKEN/,
      );
    }
    assert.deepEqual(developmentDefaultWarnings(configWith(open)), [], "on loopback");
    assert.deepEqual(
      developmentDefaultWarnings(
        configWith({
          ...open,
          HEARTH_HTTP_HOST: "0.0.0.0",
          HEARTH_HTTP_TRUST_PROXY: "true",
          HEARTH_METRICS_ENABLED: "false",
        }),
      ),
      [],
      "metrics off",
    );
  });

  test("a public bridge without the Alexa forwarder's secret is warned about", () => {
    const { HEARTH_ALEXA_FORWARDER_SECRET: _, ...open } = hardened;
    const warnings = developmentDefaultWarnings(configWith(open));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /alexa\.forwarderSecret is not set/);
  });
});
