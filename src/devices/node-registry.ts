/**
 * Adding and removing nodes: the one place that creates node credentials, shared by the CLI (working on
 * the database directly) and the admin API (inside the running daemon).
 */
import type { Config } from "../config/index.ts";
import { generateSecret, hashSecret } from "../security/secrets.ts";
import type { Store } from "../store/index.ts";
import { mosquittoPasswordLine } from "./mosquitto-passwd.ts";
import { isValidNodeId, NODE_ID_PATTERN, RESERVED_NODE_IDS } from "./protocol.ts";

export interface NodeCredentials {
  node_id: string;
  username: string;
  password: string;
  mqtt_url: string;
  /** The node's line for an external mosquitto's password_file. */
  mosquitto_password_line?: string;
}

export class NodeRegistryError extends Error {
  override readonly name = "NodeRegistryError";
  constructor(
    readonly code: "invalid_node_id" | "node_exists" | "unknown_node",
    message: string,
  ) {
    super(message);
  }
}

export function nodeIdProblem(nodeId: string): string | undefined {
  if (RESERVED_NODE_IDS.has(nodeId)) return `"${nodeId}" is reserved for the bridge`;
  if (!NODE_ID_PATTERN.test(nodeId)) {
    return `"${nodeId}" is not a valid node id: 3–32 characters of a-z, 0-9 and "-", starting with a letter or digit`;
  }
  return undefined;
}

/** The broker URL a node should use, as printed by `hearth node add`. */
export function advertisedMqttUrl(config: Config, embeddedPort?: number): string {
  if (config.mqtt.advertisedUrl) return config.mqtt.advertisedUrl;
  if (config.mqtt.url) {
    const url = new URL(config.mqtt.url);
    url.username = "";
    url.password = "";
    return url.toString().replace(/\/$/, "");
  }
  const host = ["0.0.0.0", "::"].includes(config.mqtt.host) ? "127.0.0.1" : config.mqtt.host;
  return `mqtt://${host}:${embeddedPort ?? config.mqtt.port}`;
}

/**
 * Registers a node and returns its new credentials, shown once: only a hash is stored. With `rotate`,
 * an existing node gets a new password and the old one stops working at its next connect.
 */
export function addNode(
  store: Store,
  config: Config,
  nodeId: string,
  options: { rotate?: boolean; embeddedPort?: number; now?: number } = {},
): NodeCredentials {
  const problem = nodeIdProblem(nodeId);
  if (problem || !isValidNodeId(nodeId)) throw new NodeRegistryError("invalid_node_id", problem ?? "invalid node id");
  const password = generateSecret(24);
  const existed = store.nodes.exists(nodeId);
  if (existed && !options.rotate) {
    throw new NodeRegistryError(
      "node_exists",
      `node "${nodeId}" already exists; use --rotate to give it a new password`,
    );
  }
  store.nodes.add(nodeId, hashSecret(password), options.now ?? Date.now(), true);
  const credentials: NodeCredentials = {
    node_id: nodeId,
    username: nodeId,
    password,
    mqtt_url: advertisedMqttUrl(config, options.embeddedPort),
  };
  if (config.mqtt.url) credentials.mosquitto_password_line = mosquittoPasswordLine(nodeId, password);
  return credentials;
}
