import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import type { Config } from "../config/index.ts";
import { DEVICE_TYPES, type DeviceType, isDeviceType } from "../model/index.ts";
import { CliError, type CommonOptions, cliConfig, openStore, withCommonOptions } from "./context.ts";

interface SimOptions extends CommonOptions {
  nodes?: number;
  node?: string;
  password?: string;
  passwordStdin?: boolean;
  credentials?: string;
  devices: DeviceType[];
  url?: string;
  latency?: number;
  actuation?: number;
  dropAcks?: number;
  sensorInterval?: number;
  keepalive?: number;
  disconnectEvery?: number;
}

const integer = (name: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}`);
  return n;
};

function deviceList(value: string): DeviceType[] {
  const types = value
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = types.filter((t) => !isDeviceType(t));
  if (unknown.length > 0 || types.length === 0) {
    throw new InvalidArgumentError(`unknown device type ${unknown.join(", ")}; choose from ${DEVICE_TYPES.join(", ")}`);
  }
  return types as DeviceType[];
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError("--drop-acks is a probability from 0 to 1");
  return n;
}

function readCredentialsFile(path: string): Array<{ nodeId: string; password: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CliError(`--credentials ${path}: ${(error as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((entry, i) => {
    const { node_id, password } = (entry ?? {}) as { node_id?: unknown; password?: unknown };
    if (typeof node_id !== "string" || typeof password !== "string") {
      throw new CliError(
        `--credentials ${path}: entry ${i} needs "node_id" and "password" (the output of hearth node add --json)`,
      );
    }
    return { nodeId: node_id, password };
  });
}

export function simCommand(): Command {
  return withCommonOptions(new Command("sim"))
    .description("run simulated ESP32 nodes that speak the node protocol (for demos, tests and benchmarks)")
    .option(
      "--nodes <n>",
      "run N nodes sim-1…sim-N, registered (or re-keyed) in the local data dir",
      integer("--nodes", 1),
    )
    .option("--node <node-id>", "run one registered node with its own password")
    .option("--password <password>", "that node's password (or HEARTH_SIM_PASSWORD, or --password-stdin)")
    .option("--password-stdin", "read that node's password from standard input")
    .option("--credentials <file>", "JSON from `hearth node add --json` (one object or an array)")
    .option("--devices <types>", `device types per node, comma-separated: ${DEVICE_TYPES.join(",")}`, deviceList, [
      "light",
      "sensor",
    ] as DeviceType[])
    .option("--url <mqtt-url>", "broker URL (default: the one `hearth node add` prints)")
    .option("--latency <ms>", "delay before answering each command", integer("--latency", 0))
    .option(
      "--actuation <ms>",
      "locks and covers take this long to move: commands are answered `accepted` and the final state follows",
      integer("--actuation", 0),
    )
    .option("--drop-acks <rate>", "probability of ignoring a command entirely (tests the bridge's retry)", rate)
    .option("--sensor-interval <ms>", "publish sensor changes at this interval", integer("--sensor-interval", 100))
    .option("--keepalive <s>", "MQTT keepalive in seconds", integer("--keepalive", 5))
    .option(
      "--disconnect-every <s>",
      "drop the connection every N seconds and reconnect (flaky Wi-Fi)",
      integer("--disconnect-every", 1),
    )
    .action(async (options: SimOptions) => {
      const { config } = await cliConfig(options);
      const nodes = await resolveNodes(options, config);
      const { advertisedMqttUrl } = await import("../devices/node-registry.ts");
      const url = options.url ?? advertisedMqttUrl(config);
      const { SimFleet } = await import("../sim/index.ts");
      const fleet = await SimFleet.start({
        url,
        prefix: config.mqtt.topicPrefix,
        nodes,
        devices: options.devices,
        ...(options.keepalive === undefined ? {} : { keepaliveSeconds: options.keepalive }),
        ...(options.latency === undefined ? {} : { latencyMs: options.latency }),
        ...(options.actuation === undefined ? {} : { actuationMs: options.actuation }),
        ...(options.dropAcks === undefined ? {} : { dropAckRate: options.dropAcks }),
        ...(options.sensorInterval === undefined ? {} : { sensorIntervalMs: options.sensorInterval }),
        ...(options.disconnectEvery === undefined ? {} : { disconnectEveryMs: options.disconnectEvery * 1000 }),
      }).catch((error: Error) => {
        throw new CliError(`cannot start the simulated nodes on ${url}: ${error.message}`);
      });
      const ids = fleet.nodes.map((n) => n.nodeId);
      process.stderr.write(
        `Simulating ${ids.length} node(s) on ${url}: ${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}\n` +
          `Devices per node: ${options.devices.join(", ")}. Press Ctrl+C to stop (nodes go offline cleanly).\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await fleet.stop();
    });
}

async function resolveNodes(options: SimOptions, config: Config) {
  const modes = [options.nodes !== undefined, options.node !== undefined, options.credentials !== undefined].filter(
    Boolean,
  );
  if (modes.length > 1) throw new CliError("use one of --nodes, --node or --credentials");
  if (options.credentials) return readCredentialsFile(options.credentials);
  if (options.node) {
    const password = options.passwordStdin
      ? (await readStdin()).trim()
      : (options.password ?? process.env.HEARTH_SIM_PASSWORD);
    if (!password)
      throw new CliError(
        `--node ${options.node} needs its password: --password, HEARTH_SIM_PASSWORD or --password-stdin`,
      );
    return [{ nodeId: options.node, password }];
  }
  if (config.mqtt.url) {
    throw new CliError("with an external broker, add the nodes to it and pass --credentials (see docs/mosquitto.md)");
  }
  const count = options.nodes ?? 1;
  const { addNode } = await import("../devices/node-registry.ts");
  const store = await openStore(config);
  try {
    // Simulated nodes get a fresh password at every run: nothing to remember, nothing left valid.
    return Array.from({ length: count }, (_, i) => {
      const credentials = addNode(store, config, `sim-${i + 1}`, { rotate: true });
      return { nodeId: credentials.node_id, password: credentials.password };
    });
  } finally {
    store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
