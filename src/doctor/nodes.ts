/**
 * The registered nodes: ones that never connected, ones offline, ones online by their MQTT connection
 * but silent (no telemetry for three of its intervals: the firmware hangs while its TCP connection
 * lives), and ones online without a device Hearth accepted. Online flags mean something only while Hearth
 * runs: a stopped Hearth leaves them as they were.
 */
import { type Check, type Finding, finding, Skip } from "./check.ts";

const ID = "nodes";
/** docs/protocol.md §14: telemetry about once a minute. */
export const TELEMETRY_INTERVAL_MS = 60_000;
export const STALE_AFTER_MS = 3 * TELEMETRY_INTERVAL_MS;

function list(ids: readonly string[]): string {
  const shown = ids.slice(0, 10).join(", ");
  return ids.length > 10 ? `${shown} and ${ids.length - 10} more` : shown;
}

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

export const nodesCheck: Check = {
  id: ID,
  async run(ctx) {
    const store = ctx.store();
    if (!store) return new Skip(ctx.storeUnavailable());
    const nodes = store.nodes.list();
    if (nodes.length === 0) {
      return [
        finding(
          ID,
          "warn",
          "no node is registered",
          "hearth node add <node-id> prints a node's credentials; hearth node claim-token lets a board claim its own",
        ),
      ];
    }
    const findings: Finding[] = [];
    const neverSeen = nodes.filter((node) => node.lastSeenAt === null);
    if (neverSeen.length > 0) {
      findings.push(
        finding(
          ID,
          "warn",
          `never connected: ${list(neverSeen.map((node) => node.id))}`,
          "give each its credentials from `hearth node add <id> --rotate` (or a claim token) and the broker address of mqtt.advertisedUrl; with mosquitto, its password line must be in the password file",
        ),
      );
    }
    const daemon = await ctx.daemon();
    if (daemon.state !== "running") {
      // Whether the others are online is unknown: a stopped Hearth leaves the flags of its last run.
      if (neverSeen.length < nodes.length) {
        findings.push(
          finding(
            ID,
            "ok",
            `${nodes.length - neverSeen.length} node(s) have connected before; whether they are online shows while Hearth runs`,
          ),
        );
      }
      return findings;
    }
    const now = ctx.now();
    const seen = nodes.filter((node) => node.lastSeenAt !== null);
    const offline = seen.filter((node) => !node.online);
    if (offline.length > 0) {
      findings.push(
        finding(
          ID,
          "warn",
          `offline: ${list(offline.map((node) => `${node.id} (since ${ago(now - (node.statusChangedAt ?? now))})`))}`,
          "check their power and Wi-Fi; remove boards you no longer have with hearth node remove <id>",
        ),
      );
    }
    const online = seen.filter((node) => node.online);
    const silent = online.filter((node) => now - (node.lastSeenAt as number) > STALE_AFTER_MS);
    if (silent.length > 0) {
      findings.push(
        finding(
          ID,
          "warn",
          `online, but nothing heard for over ${STALE_AFTER_MS / 60_000} min: ${list(silent.map((node) => `${node.id} (${ago(now - (node.lastSeenAt as number))})`))}`,
          "the node keeps its MQTT connection but sends no telemetry (docs/protocol.md §14, about once a minute): restart it, and update its firmware if it happens again",
        ),
      );
    }
    const withDevices = new Set(store.devices.list().map((device) => device.nodeId));
    const empty = online.filter((node) => !withDevices.has(node.id));
    if (empty.length > 0) {
      findings.push(
        finding(
          ID,
          "warn",
          `online without a device Hearth accepted: ${list(empty.map((node) => node.id))}`,
          "Hearth's log names each refused device (`ignoring a device the model cannot accept`); correct the node's config message (docs/protocol.md)",
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(
        finding(ID, "ok", `${nodes.length} node(s), all online and heard from within ${STALE_AFTER_MS / 60_000} min`),
      );
    }
    return findings;
  },
};
