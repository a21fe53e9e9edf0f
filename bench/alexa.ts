/**
 * Alexa directive benchmark: what a Smart Home directive costs through the whole Hearth path, next to the core
 * command path of the same daemon measured in the same run, and what discovering a full house costs.
 *
 *   core              POST /api/v1/devices/<id>/commands with an admin token: the floor of the Alexa path.
 *   alexa/power       POST /alexa/smarthome with Alexa.PowerController TurnOn / TurnOff, alternating: forwarder
 *                     secret → token from inside the directive → directive parsing → endpoint and interface →
 *                     the same command path → an Alexa.Response built from the confirmed state.
 *   alexa/brightness  the same with Alexa.BrightnessController SetBrightness 30 / 70.
 *   discover          Alexa.Discovery Discover on a second daemon holding 300 devices of mixed types, next to
 *                     GET /api/v1/devices on the same daemon.
 *
 * At each concurrency level the systems warm up, then take turns in blocks of requests (core, power, brightness,
 * core…) on the same daemon and lights, so that what disturbs one disturbs all and the ratios hold.
 *
 * Everything except mosquitto runs in this one process (daemon, simulated nodes and load generator), so every
 * figure includes the load generator's own CPU on the same event loop. Run with `npm run bench:alexa -- --help`.
 */
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { endpointIdOfDevice, MAX_ENDPOINTS } from "../src/alexa/endpoints.ts";
import { FORWARDER_SECRET_HEADER } from "../src/alexa/route.ts";
import type { DeviceType } from "../src/model/index.ts";
import { directive, linkAlexaAccount } from "../test/helpers/alexa.ts";
import {
  COMMAND_TIMEOUT_MS,
  coreIssuer,
  type HearthRig,
  type House,
  httpRequest,
  type Issue,
  jsonOf,
  Lights,
  runAssistantBench,
  UsageError,
} from "./common.ts";

const SYSTEMS = ["core", "alexa/power", "alexa/brightness"] as const;
type SystemName = (typeof SYSTEMS)[number];

const LIMITS = {
  discoverNodes: 300,
  /** A node's config must fit in 4 KB; 12 of the simulated devices with their names do. */
  discoverDevices: 12,
};
/** The device types of a discovery node, repeated as often as it has devices. */
const DEVICE_MIX: readonly DeviceType[] = ["light", "switch", "sensor", "thermostat", "outlet", "fan", "cover", "lock"];

/** The forwarder's secret, the same for every daemon of the run. */
const SECRET = randomBytes(24).toString("hex");

// ---------------------------------------------------------------------------------------------------------------
// The systems under test

interface AlexaAnswer {
  event?: { header?: { namespace?: string; name?: string }; payload?: { endpoints?: unknown[] } };
  context?: { properties?: Array<{ namespace?: string; name?: string; value?: unknown }> };
}

/**
 * One directive through `/alexa/smarthome`; resolves only for an `Alexa.Response` whose context reports every
 * expected property value.
 */
async function postControl(
  agent: http.Agent,
  base: URL,
  secret: string,
  body: unknown,
  expected: ReadonlyArray<{ namespace: string; name: string; value: unknown }>,
): Promise<void> {
  const answer = await httpRequest(agent, base, {
    method: "POST",
    path: "/alexa/smarthome",
    headers: { "content-type": "application/json", [FORWARDER_SECRET_HEADER]: secret },
    body: JSON.stringify(body),
  });
  const parsed = jsonOf<AlexaAnswer>(answer);
  const header = parsed.event?.header;
  const properties = parsed.context?.properties ?? [];
  const confirmed =
    header?.namespace === "Alexa" &&
    header.name === "Response" &&
    expected.every((e) =>
      properties.some((p) => p.namespace === e.namespace && p.name === e.name && p.value === e.value),
    );
  if (!confirmed) throw new Error(`unexpected answer: ${answer.text.slice(0, 200)}`);
}

interface CommandRig {
  base: URL;
  adminToken: string;
  alexaToken: string;
  secret: string;
  /** Device ids and endpoint ids of the lights, by light number. */
  deviceIds: string[];
  endpointIds: string[];
  lights: Lights;
}

/** The request of `system` number `i`, on light `i mod nodes`. */
function issuer(system: SystemName, rig: CommandRig, agent: http.Agent): Issue {
  const count = rig.deviceIds.length;
  switch (system) {
    case "core":
      return coreIssuer(agent, rig.base, rig.adminToken, rig.deviceIds, rig.lights);
    case "alexa/power":
      return (i) => {
        const light = i % count;
        const on = rig.lights.nextPower(light);
        const body = directive("Alexa.PowerController", on ? "TurnOn" : "TurnOff", {
          endpointId: rig.endpointIds[light] as string,
          token: rig.alexaToken,
        });
        return postControl(agent, rig.base, rig.secret, body, [
          { namespace: "Alexa.PowerController", name: "powerState", value: on ? "ON" : "OFF" },
        ]);
      };
    case "alexa/brightness":
      return (i) => {
        const light = i % count;
        const brightness = rig.lights.nextBrightness(light);
        const body = directive("Alexa.BrightnessController", "SetBrightness", {
          endpointId: rig.endpointIds[light] as string,
          token: rig.alexaToken,
          payload: { brightness },
        });
        return postControl(agent, rig.base, rig.secret, body, [
          { namespace: "Alexa.BrightnessController", name: "brightness", value: brightness },
          { namespace: "Alexa.PowerController", name: "powerState", value: "ON" },
        ]);
      };
  }
}

/** Discover of the whole house, checked to hold an endpoint for every device. */
async function discoverer(house: House) {
  const expected = house.devices;
  const { accessToken } = await linkAlexaAccount(house.bridge.daemon.store, "bench");
  return async (agent: http.Agent, base: URL) => {
    const answer = await httpRequest(agent, base, {
      method: "POST",
      path: "/alexa/smarthome",
      headers: { "content-type": "application/json", [FORWARDER_SECRET_HEADER]: SECRET },
      body: JSON.stringify(directive("Alexa.Discovery", "Discover", { token: accessToken })),
    });
    const parsed = jsonOf<AlexaAnswer>(answer);
    const endpoints = parsed.event?.payload?.endpoints;
    if (parsed.event?.header?.name !== "Discover.Response" || endpoints?.length !== expected) {
      const found = endpoints === undefined ? "no endpoints" : `${endpoints.length} endpoints`;
      throw new Error(`${found} instead of ${expected}: ${answer.text.slice(0, 200)}`);
    }
    return answer;
  };
}

/** The lights of a command daemon, linked to an Alexa account. */
async function commandRig(hearth: HearthRig): Promise<CommandRig> {
  const account = await linkAlexaAccount(hearth.bridge.daemon.store, "bench");
  const deviceIds = hearth.credentials.map(({ nodeId }) => `${nodeId}.light`);
  return {
    base: new URL(hearth.bridge.httpUrl),
    adminToken: hearth.token,
    alexaToken: account.accessToken,
    secret: SECRET,
    deviceIds,
    endpointIds: deviceIds.map(endpointIdOfDevice),
    lights: new Lights(deviceIds.length),
  };
}

// ---------------------------------------------------------------------------------------------------------------

runAssistantBench({
  benchmark: "alexa",
  title: "Alexa directives",
  ratioTitle: "Alexa / core",
  systems: SYSTEMS,
  concurrency: "1,32",
  commands: {
    settings: { "alexa.forwarderSecret": SECRET, "alexa.commandTimeoutMs": COMMAND_TIMEOUT_MS },
    issuer: async (hearth) => {
      const rig = await commandRig(hearth);
      return (system, agent) => issuer(system, rig, agent);
    },
  },
  listing: {
    prefix: "discover",
    nodes: { default: 30, max: LIMITS.discoverNodes },
    devices: { default: 10, max: LIMITS.discoverDevices },
    check: (nodes, devices) => {
      if (nodes * devices > MAX_ENDPOINTS) {
        throw new UsageError(
          `--discover-nodes × --discover-devices must be at most ${MAX_ENDPOINTS} (Alexa's limit per account), ` +
            `not ${nodes} × ${devices} = ${nodes * devices}`,
        );
      }
    },
    help: `  --discover-nodes N     nodes of the discovery daemon (BENCH_DISCOVER_NODES, default 30)
  --discover-devices N   devices per discovery node, mixed types (BENCH_DISCOVER_DEVICES, default 10,
                         max ${LIMITS.discoverDevices}); nodes × devices at most ${MAX_ENDPOINTS}, Alexa's limit
  --discover-calls N     measured Discover calls, and as many device lists (BENCH_DISCOVER_CALLS, default 100;
                         0 leaves discovery out)`,
    name: "discovery",
    heading: "Discovery",
    call: "Discover",
    request: "Alexa.Discovery Discover",
    mix: DEVICE_MIX,
    settings: { "alexa.forwarderSecret": SECRET },
    caller: discoverer,
    resultsKey: "discovery",
  },
});
