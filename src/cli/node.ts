import { Command } from "commander";
import type { CLAIM_TOKEN_DEFAULT_TTL_MINUTES } from "../devices/claim.ts";
import { mosquittoAccounts } from "../devices/mosquitto-accounts.ts";
import type { NodeCredentials } from "../devices/node-registry.ts";
import { nodeView } from "../http/views.ts";
import {
  apiErrorMessage,
  CliError,
  type CommonOptions,
  callDaemon,
  listCommand,
  printJson,
  withCommonOptions,
  withStore,
} from "./context.ts";

/**
 * The claim module's default for `--ttl`, shown by `--help`: a copy, because that module (zod) is loaded only
 * when a command runs. The compiler keeps the two equal.
 */
const DEFAULT_TTL_MINUTES = 10 satisfies typeof CLAIM_TOKEN_DEFAULT_TTL_MINUTES;

export function nodeCommand(): Command {
  const node = new Command("node").description("register, list and remove nodes (ESP32 boards or simulated ones)");

  withCommonOptions(node.command("add <node-id>"))
    .description("register a node and print its MQTT credentials (shown once; only a hash is kept)")
    .option("--rotate", "give an existing node a new password")
    .option("--json", "print one JSON object")
    .action((nodeId: string, options: CommonOptions & { rotate?: boolean; json?: boolean }) => {
      return withStore(options, async (store, config) => {
        const { addNode } = await import("../devices/node-registry.ts");
        const credentials = addNode(store, config, nodeId, { rotate: options.rotate ?? false });
        const accounts = mosquittoAccounts(config);
        await accounts?.upsert(credentials.username, credentials.password);
        if (options.json) printJson(credentials);
        else printCredentials(credentials, accounts?.passwordFile);
      });
    });

  withCommonOptions(node.command("claim-token"))
    .description("create a one-time token a new board trades for its MQTT credentials (POST /api/v1/claim)")
    .option("--node <node-id>", "only this node may use it; it may then re-key an existing node")
    .option("--ttl <minutes>", "minutes until it expires", String(DEFAULT_TTL_MINUTES))
    .option("--json", "print one JSON object")
    .action((options: CommonOptions & { node?: string; ttl: string; json?: boolean }) => {
      return withStore(options, async (store, config) => {
        const [{ CLAIM_TOKEN_MAX_TTL_MINUTES }, { nodeIdProblem }] = await Promise.all([
          import("../devices/claim.ts"),
          import("../devices/node-registry.ts"),
        ]);
        const minutes = Number(options.ttl);
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > CLAIM_TOKEN_MAX_TTL_MINUTES) {
          throw new CliError(`--ttl must be a whole number of minutes from 1 to ${CLAIM_TOKEN_MAX_TTL_MINUTES}`);
        }
        const problem = options.node === undefined ? undefined : nodeIdProblem(options.node);
        if (problem) throw new CliError(problem);
        const issued = store.claimTokens.issue({
          ...(options.node ? { nodeId: options.node } : {}),
          ttlMs: minutes * 60_000,
          now: Date.now(),
        });
        const bridgeUrl = config.publicUrl ?? `http://${config.http.host}:${config.http.port}`;
        if (options.json) {
          return printJson({
            claim_token: issued.token,
            node_id: issued.nodeId,
            expires_at: new Date(issued.expiresAt).toISOString(),
            claim_url: new URL("/api/v1/claim", bridgeUrl).toString(),
          });
        }
        const lines = [
          `Claim token, single use, valid for ${minutes} minute${minutes === 1 ? "" : "s"} (until ${new Date(issued.expiresAt).toISOString()})${issued.nodeId ? ` and only for node ${issued.nodeId}` : ""}:`,
          "",
          `  ${issued.token}`,
          "",
          "Give it to the board while provisioning it, with a bridge URL it can reach (this config says",
          `${bridgeUrl}). The board posts it to /api/v1/claim and receives its MQTT credentials; see firmware/README.md.`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      });
    });

  listCommand(node.command("list").description("list registered nodes"), {
    rows: (store) => store.nodes.list().map(nodeView),
    empty: "No nodes yet: add one with `hearth node add <node-id>`.",
    columns: [
      ["NODE", (n) => n.id],
      ["ONLINE", (n) => (n.online ? "yes" : "no")],
      ["NAME", (n) => n.name],
      ["FIRMWARE", (n) => n.fw_version],
      ["LAST SEEN", (n) => n.last_seen_at],
    ],
  });

  withCommonOptions(node.command("remove <node-id>"))
    .description("remove a node, its devices and its credentials")
    .action(async (nodeId: string, options: CommonOptions) => {
      return withStore(options, async (store, config) => {
        if (!store.nodes.exists(nodeId)) throw new CliError(`no node "${nodeId}"`);
        // Through the daemon when it runs, so it also disconnects the node and clears its retained topics.
        let viaDaemon = false;
        try {
          const response = await callDaemon(config, store, "DELETE", `/api/v1/nodes/${encodeURIComponent(nodeId)}`);
          if (response.status !== 204) throw new CliError(apiErrorMessage(response));
          viaDaemon = true;
        } catch (error) {
          if (!(error instanceof CliError) || !error.message.startsWith("Hearth is not running")) throw error;
          store.nodes.remove(nodeId);
        }
        const accounts = mosquittoAccounts(config);
        if (!viaDaemon) await accounts?.remove(nodeId);
        process.stdout.write(
          viaDaemon
            ? `Removed node ${nodeId}.\n`
            : `Removed node ${nodeId}. Hearth is not running: it clears the node's retained MQTT topics when it next starts.\n`,
        );
        if (accounts) process.stdout.write(`Removed its line from ${accounts.passwordFile}.\n`);
        else if (config.mqtt.url)
          process.stdout.write(`Also delete its line from the mosquitto password_file and reload mosquitto.\n`);
      });
    });
  return node;
}

function printCredentials(c: NodeCredentials, passwordFile?: string): void {
  const lines = [
    `Node ${c.node_id} registered. Its password is shown only now; store it on the node.`,
    "",
    `  MQTT URL   ${c.mqtt_url}`,
    `  Client id  ${c.node_id}`,
    `  Username   ${c.username}`,
    `  Password   ${c.password}`,
    "",
  ];
  if (passwordFile) {
    lines.push(`Its line for the external mosquitto is in ${passwordFile}.`, "");
  } else if (c.mosquitto_password_line) {
    lines.push(
      "For the external mosquitto, append this line to its password_file and reload it (kill -HUP):",
      "",
      `  ${c.mosquitto_password_line}`,
      "",
    );
  }
  lines.push(`Try it without hardware: hearth sim --node ${c.node_id} --password '${c.password}'`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
