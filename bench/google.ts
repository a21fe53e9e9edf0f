/**
 * Google fulfillment benchmark: what an EXECUTE costs through the whole Hearth path, next to the core command
 * path of the same daemon measured in the same run, and what a SYNC of a house of 1,000 devices costs.
 *
 *   core               POST /api/v1/devices/<id>/commands with an admin token: the floor of the Google path.
 *   google/onoff       POST /google/fulfillment with an EXECUTE of OnOff, on and off alternating: bearer token →
 *                      body parsing → intent → device and trait → the same command path → the states the node
 *                      confirmed, in Google's answer.
 *   google/brightness  the same with BrightnessAbsolute 30 / 70.
 *   sync               SYNC on a second daemon holding 50 nodes × 20 devices of mixed types, next to
 *                      GET /api/v1/devices on the same daemon.
 *
 * At each concurrency level the systems warm up, then take turns in blocks of requests (core, onoff, brightness,
 * core…) on the same daemon and lights, so that what disturbs one disturbs all and the ratios hold.
 *
 * Everything except mosquitto runs in this one process (daemon, simulated nodes and load generator), so every
 * figure includes the load generator's own CPU on the same event loop. Run with `npm run bench:google -- --help`.
 */
import type http from "node:http";
import type { DeviceType } from "../src/model/index.ts";
import { linkAccount } from "../test/helpers/linking.ts";
import {
  COMMAND_TIMEOUT_MS,
  coreIssuer,
  type HearthRig,
  type House,
  type HttpAnswer,
  httpRequest,
  type Issue,
  jsonOf,
  Lights,
  runAssistantBench,
} from "./common.ts";

const SYSTEMS = ["core", "google/onoff", "google/brightness"] as const;
type SystemName = (typeof SYSTEMS)[number];

/**
 * The devices of one SYNC node, in this order: two lights, a sensor, a thermostat, a fan, a cover and a lock
 * among switches and outlets, as on a relay board. Twenty of them, each with its own name, make a config of
 * 4036 bytes (with a three-digit node number), just inside the 4 KB a node may announce.
 */
const HOUSE_MIX: readonly DeviceType[] = [
  "light",
  "switch",
  "outlet",
  "sensor",
  "switch",
  "outlet",
  "thermostat",
  "switch",
  "outlet",
  "fan",
  "switch",
  "outlet",
  "cover",
  "switch",
  "outlet",
  "lock",
  "switch",
  "outlet",
  "light",
  "switch",
];

const LIMITS = {
  syncNodes: 200,
  syncDevices: HOUSE_MIX.length,
};

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

interface GoogleAnswer {
  requestId?: string;
  payload?: {
    agentUserId?: string;
    devices?: unknown[];
    commands?: Array<{ ids?: string[]; status?: string; states?: Record<string, unknown> }>;
    errorCode?: string;
  };
}

/** Google's request ids are decimal strings; each request gets its own. */
let lastRequestId = 0;

/** One intent through `/google/fulfillment` with a linked user's token; resolves with the parsed 200 answer. */
async function fulfill(
  agent: http.Agent,
  base: URL,
  token: string,
  input: { intent: string; payload?: unknown },
): Promise<{ answer: HttpAnswer; parsed: GoogleAnswer; requestId: string }> {
  const requestId = String(++lastRequestId);
  const answer = await httpRequest(agent, base, {
    method: "POST",
    path: "/google/fulfillment",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ requestId, inputs: [input] }),
  });
  const parsed = jsonOf<GoogleAnswer>(answer);
  if (parsed.requestId !== requestId) throw new Error(`answer to another request: ${answer.text.slice(0, 200)}`);
  return { answer, parsed, requestId };
}

/**
 * One EXECUTE of one command on one device, as Google sends it (with the `customData` SYNC gave); resolves only
 * for a single `SUCCESS` for that device whose states hold every expected value.
 */
async function postExecute(
  agent: http.Agent,
  base: URL,
  token: string,
  device: { id: string; nodeId: string },
  execution: { command: string; params: Record<string, unknown> },
  expected: Record<string, unknown>,
): Promise<void> {
  const { answer, parsed } = await fulfill(agent, base, token, {
    intent: "action.devices.EXECUTE",
    payload: {
      commands: [
        {
          devices: [{ id: device.id, customData: { nodeId: device.nodeId } }],
          execution: [{ command: `action.devices.commands.${execution.command}`, params: execution.params }],
        },
      ],
    },
  });
  const commands = parsed.payload?.commands;
  const result = commands?.length === 1 ? commands[0] : undefined;
  const confirmed =
    result?.status === "SUCCESS" &&
    result.ids?.length === 1 &&
    result.ids[0] === device.id &&
    Object.entries(expected).every(([key, value]) => result.states?.[key] === value);
  if (!confirmed) throw new Error(`unexpected answer: ${answer.text.slice(0, 200)}`);
}

interface CommandRig {
  base: URL;
  adminToken: string;
  googleToken: string;
  /** The lights, by light number. */
  devices: Array<{ id: string; nodeId: string }>;
  lights: Lights;
}

/** The request of `system` number `i`, on light `i mod nodes`. */
function issuer(system: SystemName, rig: CommandRig, agent: http.Agent): Issue {
  const count = rig.devices.length;
  switch (system) {
    case "core":
      return coreIssuer(
        agent,
        rig.base,
        rig.adminToken,
        rig.devices.map(({ id }) => id),
        rig.lights,
      );
    case "google/onoff":
      return (i) => {
        const light = i % count;
        const on = rig.lights.nextPower(light);
        const device = rig.devices[light] as { id: string; nodeId: string };
        return postExecute(agent, rig.base, rig.googleToken, device, { command: "OnOff", params: { on } }, { on });
      };
    case "google/brightness":
      return (i) => {
        const light = i % count;
        const brightness = rig.lights.nextBrightness(light);
        const device = rig.devices[light] as { id: string; nodeId: string };
        // A light dimmed to a level above 0 is on, whether it was before or not.
        return postExecute(
          agent,
          rig.base,
          rig.googleToken,
          device,
          { command: "BrightnessAbsolute", params: { brightness } },
          { brightness, on: true },
        );
      };
  }
}

/** SYNC of the whole house, checked to hold every device for the linked user. */
async function syncer(house: House) {
  const expected = house.devices;
  const account = await linkAccount(house.bridge.daemon.store, "bench", "google");
  return async (agent: http.Agent, base: URL) => {
    const { answer, parsed } = await fulfill(agent, base, account.accessToken, { intent: "action.devices.SYNC" });
    const devices = parsed.payload?.devices;
    if (parsed.payload?.agentUserId !== account.userId || devices?.length !== expected) {
      const found = devices === undefined ? "no devices" : `${devices.length} devices`;
      throw new Error(`${found} instead of ${expected}: ${answer.text.slice(0, 200)}`);
    }
    return answer;
  };
}

/** The lights of a command daemon, linked to a Google account. */
async function commandRig(hearth: HearthRig): Promise<CommandRig> {
  const account = await linkAccount(hearth.bridge.daemon.store, "bench", "google");
  return {
    base: new URL(hearth.bridge.httpUrl),
    adminToken: hearth.token,
    googleToken: account.accessToken,
    devices: hearth.credentials.map(({ nodeId }) => ({ id: `${nodeId}.light`, nodeId })),
    lights: new Lights(hearth.credentials.length),
  };
}

// ---------------------------------------------------------------------------------------------------------------

runAssistantBench({
  benchmark: "google",
  title: "Google fulfillment",
  ratioTitle: "Google / core",
  systems: SYSTEMS,
  concurrency: "1,8",
  commands: {
    // The same deadline as core commands, so that both paths retry and give up alike.
    settings: { "google.executeTimeoutMs": COMMAND_TIMEOUT_MS },
    issuer: async (hearth) => {
      const rig = await commandRig(hearth);
      return (system, agent) => issuer(system, rig, agent);
    },
  },
  listing: {
    prefix: "sync",
    nodes: { default: 50, max: LIMITS.syncNodes },
    devices: { default: 20, max: LIMITS.syncDevices },
    help: `  --sync-nodes N         nodes of the SYNC daemon (BENCH_SYNC_NODES, default 50, max ${LIMITS.syncNodes})
  --sync-devices N       devices per SYNC node, mixed types (BENCH_SYNC_DEVICES, default 20, max ${LIMITS.syncDevices}:
                         a node's config must fit in 4 KB)
  --sync-calls N         measured SYNC calls, and as many device lists (BENCH_SYNC_CALLS, default 100;
                         0 leaves SYNC out)`,
    name: "SYNC",
    heading: "SYNC",
    call: "SYNC",
    request: "action.devices.SYNC",
    mix: HOUSE_MIX,
    settings: {},
    caller: syncer,
    resultsKey: "sync",
  },
});
