/**
 * The documentation against the code: README's set-up lines, its configuration table, CLI and error
 * references; the protocol description's topics, statuses and examples; the mosquitto guide's ACL.
 *
 * Examples in docs/protocol.md are labelled with an HTML comment on the line before the fence:
 * `<!-- schema: NodeConfig -->`, `State`, `Command`, `CommandResponse`, `Event`, `Telemetry`, `OtaStatus`, or `none`
 * for an informative block. `State` may name the device it belongs to (`<!-- schema: State dev=light -->`);
 * the device is looked up in the document's config examples. Every ```json block must carry a label.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { Command } from "commander";
import { adminCommand } from "../../src/cli/admin.ts";
import { backupCommand } from "../../src/cli/backup.ts";
import { clientCommand } from "../../src/cli/client.ts";
import { devicesCommand } from "../../src/cli/devices.ts";
import { doctorCommand } from "../../src/cli/doctor.ts";
import { hookCommand } from "../../src/cli/hook.ts";
import { linksCommand } from "../../src/cli/links.ts";
import { nodeCommand } from "../../src/cli/node.ts";
import { otaCommand } from "../../src/cli/ota.ts";
import { sendCommand } from "../../src/cli/send.ts";
import { simCommand } from "../../src/cli/sim.ts";
import { startCommand } from "../../src/cli/start.ts";
import { subscriptionCommand } from "../../src/cli/subscription.ts";
import { userCommand } from "../../src/cli/user.ts";
import { configReference, type SettingReference } from "../../src/config/index.ts";
import { BRIDGE_USERNAME } from "../../src/daemon.ts";
import { NodeRegistryError } from "../../src/devices/node-registry.ts";
import {
  COMMAND_STATUSES,
  CommandPayloadSchema,
  CommandResponseSchema,
  DEFAULT_TOPIC_PREFIX,
  EventPayloadSchema,
  LIMITS,
  NodeConfigSchema,
  OtaStatusSchema,
  StatePayloadSchema,
  TelemetryPayloadSchema,
  Topics,
} from "../../src/devices/protocol.ts";
import { errorHandler } from "../../src/http/errors.ts";
import { createLogger } from "../../src/log.ts";
import {
  COMMAND_ERROR_CODES,
  CommandError,
  DEVICE_OPS,
  type DeviceDefinition,
  type DeviceOp,
  filterReportedState,
  resolveDeclaration,
  validateCommand,
} from "../../src/model/index.ts";

function readDoc(path: string): string {
  return readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
}

const readme = readDoc("README.md");
const protocol = readDoc("docs/protocol.md");
const mosquitto = readDoc("docs/mosquitto.md");

/** The HTTP status the API's error handler gives an error. */
function httpStatusOf(error: Error): number {
  let status = 0;
  const res = {
    headersSent: false,
    status(code: number) {
      status = code;
      return res;
    },
    json() {
      return res;
    },
  };
  const handle = errorHandler(createLogger("silent")) as unknown as (
    error: unknown,
    req: unknown,
    res: unknown,
    next: () => void,
  ) => void;
  handle(error, {}, res, () => undefined);
  return status;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** True when some Markdown table row starts with these cells. */
function hasRow(doc: string, ...cells: string[]): boolean {
  const pattern = new RegExp(`^\\|\\s*${cells.map(escapeRegExp).join("\\s*\\|\\s*")}\\s*\\|`, "m");
  return pattern.test(doc);
}

describe("README", () => {
  test("the first non-empty lines are the two set-up commands", () => {
    const lines = readme
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "");
    assert.ok(lines[0]?.includes("npm ci && npm start"), `first line: ${lines[0]}`);
    assert.ok(lines[1]?.includes("npm ci && npm test"), `second line: ${lines[1]}`);
  });

  test("every setting's environment variable appears", () => {
    for (const setting of configReference()) assert.ok(readme.includes(setting.env), setting.env);
  });

  test("the configuration table has exactly one row per setting, matching configReference()", () => {
    const formatDefault = (setting: SettingReference) =>
      setting.default === undefined
        ? "(none)"
        : `\`${typeof setting.default === "object" ? JSON.stringify(setting.default) : String(setting.default)}\``;
    const reference = configReference();
    for (const setting of reference) {
      const row = `| \`${setting.path.join(".")}\` | \`${setting.env}\` | ${formatDefault(setting)} | ${setting.description} |`;
      assert.ok(readme.split("\n").includes(row), `missing or different row:\n${row}`);
    }
    const documented = [...readme.matchAll(/^\| `[A-Za-z.]+` \| `(HEARTH_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), reference.map((s) => s.env).sort());
  });

  test("every model error code is in the error table with the HTTP status the API gives it", () => {
    for (const code of COMMAND_ERROR_CODES) {
      const status = httpStatusOf(new CommandError(code, "test"));
      assert.ok(status >= 400, `${code} has no HTTP status`);
      assert.ok(hasRow(readme, `\`${code}\``, String(status)), `${code} → ${status} is not documented`);
    }
  });

  test("every node registry error is in the error table with its HTTP status", () => {
    const codes: Record<NodeRegistryError["code"], true> = {
      invalid_node_id: true,
      node_exists: true,
      unknown_node: true,
    };
    for (const code of Object.keys(codes) as Array<NodeRegistryError["code"]>) {
      const status = httpStatusOf(new NodeRegistryError(code, "test"));
      assert.ok(hasRow(readme, `\`${code}\``, String(status)), `${code} → ${status} is not documented`);
    }
  });

  test("every CLI command and option is in the CLI reference", () => {
    const roots = [
      startCommand(),
      backupCommand(),
      nodeCommand(),
      devicesCommand(),
      sendCommand(),
      simCommand(),
      adminCommand(),
      userCommand(),
      clientCommand(),
      linksCommand(),
      hookCommand(),
      subscriptionCommand(),
      otaCommand(),
      doctorCommand(),
    ];
    const visit = (command: Command, path: string[]) => {
      const here = [...path, command.name()];
      if (command.commands.length > 0) {
        for (const sub of command.commands) visit(sub, here);
        return;
      }
      assert.ok(readme.includes(`\`hearth ${here.join(" ")}`), `command "hearth ${here.join(" ")}" is not documented`);
      for (const option of command.options) {
        const flag = option.long ?? option.short;
        assert.ok(
          flag && readme.includes(`\`${flag}`),
          `option ${flag} of "hearth ${here.join(" ")}" is not documented`,
        );
      }
    };
    for (const root of roots) visit(root, []);
  });

  test("the documents it links to exist", () => {
    for (const [, target] of readme.matchAll(/\]\((docs\/[a-z-]+\.md)(#[^)]*)?\)/g)) {
      assert.ok(existsSync(new URL(`../../${target}`, import.meta.url)), target as string);
    }
  });
});

describe("docs/protocol.md", () => {
  test("names every topic the code builds, under the default prefix", () => {
    const topics = new Topics(DEFAULT_TOPIC_PREFIX);
    const builders = Object.getOwnPropertyNames(Topics.prototype).filter(
      (name) => !["constructor", "parse"].includes(name),
    );
    assert.ok(builders.length >= 10, "Topics has fewer builders than expected");
    for (const name of builders) {
      const descriptor = Object.getOwnPropertyDescriptor(Topics.prototype, name);
      assert.ok(descriptor, name);
      const built: unknown = descriptor.get
        ? descriptor.get.call(topics)
        : (descriptor.value as (nodeId: string, devId: string) => unknown).call(topics, "<node>", "<dev>");
      for (const topic of [built].flat()) {
        assert.equal(typeof topic, "string", name);
        assert.ok(protocol.includes(`\`${topic}\``), `${name}: ${topic} is not in docs/protocol.md`);
      }
    }
  });

  test("describes every command status in the status table", () => {
    for (const status of COMMAND_STATUSES) assert.ok(hasRow(protocol, `\`${status}\``), status);
  });

  test("states the size limits of the code", () => {
    for (const limit of [LIMITS.configBytes, LIMITS.messageBytes, LIMITS.topicBytes]) {
      assert.ok(protocol.includes(`${limit} bytes`), `${limit} bytes`);
    }
    assert.ok(
      protocol.includes(`last ${LIMITS.dedupeWindow} executed ids`) ||
        protocol.includes(`last **${LIMITS.dedupeWindow}**`),
    );
    assert.ok(hasRow(protocol, "devices per node", String(LIMITS.devicesPerNode)));
    assert.ok(hasRow(protocol, "params per device", String(LIMITS.paramsPerDevice)));
    assert.ok(hasRow(protocol, "command `id`", `${LIMITS.commandIdChars} characters`));
  });

  interface Example {
    label: string;
    attributes: Record<string, string>;
    json: string;
    line: number;
  }

  function examples(): Example[] {
    const found: Example[] = [];
    const lines = protocol.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]?.trim() !== "```json") continue;
      let end = i + 1;
      while (end < lines.length && lines[end]?.trim() !== "```") end++;
      let before = i - 1;
      while (before >= 0 && lines[before]?.trim() === "") before--;
      const label = /^<!--\s*schema:\s*(\w+)((?:\s+\w+=[\w-]+)*)\s*-->$/.exec(lines[before]?.trim() ?? "");
      assert.ok(label, `the json block at line ${i + 1} has no <!-- schema: … --> label`);
      const attributes = Object.fromEntries(
        [...(label[2] ?? "").matchAll(/(\w+)=([\w-]+)/g)].map((m) => [m[1] as string, m[2] as string]),
      );
      found.push({ label: label[1] as string, attributes, json: lines.slice(i + 1, end).join("\n"), line: i + 1 });
      i = end;
    }
    return found;
  }

  const schemas = {
    NodeConfig: NodeConfigSchema,
    State: StatePayloadSchema,
    Command: CommandPayloadSchema,
    CommandResponse: CommandResponseSchema,
    Event: EventPayloadSchema,
    Telemetry: TelemetryPayloadSchema,
    OtaStatus: OtaStatusSchema,
  } as const;

  test("every labelled JSON example is valid against its schema, fits the size limit and the declarations", () => {
    const all = examples();
    const labels = new Set(all.map((e) => e.label));
    for (const label of Object.keys(schemas)) assert.ok(labels.has(label), `no ${label} example`);

    const parsed = all.map((example) => {
      const where = `${example.label} example at line ${example.line}`;
      let value: unknown;
      try {
        value = JSON.parse(example.json);
      } catch (error) {
        assert.fail(`${where} is not valid JSON: ${(error as Error).message}`);
      }
      return { ...example, where, value };
    });

    // Devices declared by the config examples, to check the other examples against.
    const devices = new Map<string, DeviceDefinition>();
    for (const example of parsed.filter((e) => e.label === "NodeConfig")) {
      const config = NodeConfigSchema.parse(example.value);
      for (const declaration of config.devices) {
        assert.ok(
          !devices.has(declaration.id),
          `${example.where}: device id "${declaration.id}" is used by two examples`,
        );
        devices.set(declaration.id, resolveDeclaration(declaration));
      }
    }

    for (const example of parsed) {
      if (example.label === "none") continue;
      const schema = schemas[example.label as keyof typeof schemas];
      assert.ok(schema, `${example.where}: unknown label "${example.label}"`);
      const result = schema.safeParse(example.value);
      assert.ok(
        result.success,
        `${example.where}: ${result.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
      const bytes = Buffer.byteLength(JSON.stringify(example.value));
      const limit = example.label === "NodeConfig" ? LIMITS.configBytes : LIMITS.messageBytes;
      assert.ok(bytes <= limit, `${example.where} is ${bytes} bytes, over ${limit}`);

      if (example.label === "State") {
        const dev = example.attributes.dev;
        assert.ok(dev, `${example.where}: name its device (<!-- schema: State dev=… -->)`);
        const device = devices.get(dev);
        assert.ok(device, `${example.where}: no config example declares "${dev}"`);
        const { values } = StatePayloadSchema.parse(example.value);
        assert.deepEqual(filterReportedState(device, values).rejected, [], example.where);
      }
      if (example.label === "Command") {
        const command = CommandPayloadSchema.parse(example.value);
        if (command.dev === undefined) continue;
        const device = devices.get(command.dev);
        assert.ok(device, `${example.where}: no config example declares "${command.dev}"`);
        assert.ok((DEVICE_OPS as readonly string[]).includes(command.op), example.where);
        assert.doesNotThrow(() => validateCommand(device, command.op as DeviceOp, command.params ?? {}), example.where);
      }
      if (example.label === "CommandResponse") {
        const response = CommandResponseSchema.parse(example.value);
        if (response.dev === undefined || response.state === undefined) continue;
        const device = devices.get(response.dev);
        assert.ok(device, `${example.where}: no config example declares "${response.dev}"`);
        assert.deepEqual(filterReportedState(device, response.state).rejected, [], example.where);
      }
    }
  });
});

describe("docs/mosquitto.md", () => {
  test("has the ACL and broker settings the mosquitto test harness is verified with", () => {
    for (const line of [
      `user ${BRIDGE_USERNAME}`,
      `topic readwrite ${DEFAULT_TOPIC_PREFIX}/#`,
      `pattern readwrite ${DEFAULT_TOPIC_PREFIX}/%u/#`,
      `pattern read ${DEFAULT_TOPIC_PREFIX}/bridge/status`,
      "allow_anonymous false",
      "password_file ",
      "acl_file ",
      "set_tcp_nodelay true",
    ]) {
      assert.ok(
        mosquitto.split("\n").some((l) => l.startsWith(line)),
        line,
      );
    }
  });

  test("uses the environment variables the configuration really has", () => {
    const envs = new Set(configReference().flatMap((s) => [s.env, `${s.env}_FILE`]));
    for (const [name] of mosquitto.matchAll(/HEARTH_[A-Z0-9_]+/g)) {
      assert.ok(envs.has(name) || name === "HEARTH_CONFIG", `${name} is not a setting`);
    }
  });
});
