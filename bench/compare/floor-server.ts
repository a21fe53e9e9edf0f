/**
 * The floor: the least a bridge can do on the fulfillment path, as a process of its own. A bare `node:http`
 * server that checks a fixed bearer token and parses the request; for EXECUTE it publishes one QoS 1 message
 * per device to mosquitto and answers once the device has acknowledged each; QUERY and SYNC are answered from
 * memory. No framework, no OAuth server, no validation, no storage.
 *
 *   node --import tsx bench/compare/floor-server.ts --mqtt mqtt://127.0.0.1:1883 --user floor_srv \
 *     --password secret --lights 1000 --token t
 *
 * Listens on 127.0.0.1 on a free port and prints `listening <port>` on stdout.
 */
import http from "node:http";
import { parseArgs } from "node:util";
import { MqttConnection } from "../../src/devices/mqtt-connection.ts";

const ACK_TIMEOUT_MS = 5_000;

const { values } = parseArgs({
  options: {
    mqtt: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    lights: { type: "string" },
    token: { type: "string" },
    port: { type: "string", default: "0" },
  },
  strict: true,
});

interface LightState {
  on: boolean;
  brightness: number;
}

const lightIds = Array.from({ length: Number(values.lights) }, (_, i) => `light-${String(i + 1).padStart(4, "0")}`);
const states = new Map<string, LightState>(lightIds.map((id) => [id, { on: false, brightness: 80 }]));
const syncDevices = lightIds.map((id) => ({
  id,
  type: "action.devices.types.LIGHT",
  traits: ["action.devices.traits.OnOff", "action.devices.traits.Brightness"],
  name: { name: `Light ${id.slice(6)}` },
  willReportState: false,
}));
const expectedAuthorization = `Bearer ${values.token}`;

const mqtt = await MqttConnection.connect({
  url: values.mqtt as string,
  clientId: values.user as string,
  username: values.user as string,
  password: values.password as string,
  reconnect: false,
});
/** Command id → completes the wait for its acknowledgement. */
const pending = new Map<string, () => void>();
mqtt.onMessage((message) => {
  const { id } = JSON.parse(message.payload.toString("utf8")) as { id: string };
  pending.get(id)?.();
});
await mqtt.subscribe(["floor/ack/+"], 1);

let nextId = 0;
function command(device: string, params: Record<string, unknown>): Promise<void> {
  const id = String(++nextId);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`no acknowledgement from ${device}`));
    }, ACK_TIMEOUT_MS);
    pending.set(id, () => {
      clearTimeout(timer);
      pending.delete(id);
      resolve();
    });
    mqtt.publish(`floor/cmd/${device}`, JSON.stringify({ id, params }), { qos: 1 }).catch(reject);
  });
}

interface GoogleInput {
  intent: string;
  payload?: {
    devices?: Array<{ id: string }>;
    commands?: Array<{
      devices: Array<{ id: string }>;
      execution: Array<{ command: string; params: Record<string, unknown> }>;
    }>;
  };
}

async function fulfill(body: { requestId: string; inputs: GoogleInput[] }): Promise<unknown> {
  const input = body.inputs[0] as GoogleInput;
  switch (input.intent) {
    case "action.devices.SYNC":
      return { requestId: body.requestId, payload: { agentUserId: "floor", devices: syncDevices } };
    case "action.devices.QUERY": {
      const devices: Record<string, unknown> = {};
      for (const { id } of input.payload?.devices ?? [])
        devices[id] = { status: "SUCCESS", online: true, ...states.get(id) };
      return { requestId: body.requestId, payload: { devices } };
    }
    case "action.devices.EXECUTE": {
      const commands = [];
      for (const { devices, execution } of input.payload?.commands ?? []) {
        const params = Object.assign({}, ...execution.map((e) => e.params)) as Record<string, unknown>;
        await Promise.all(devices.map(({ id }) => command(id, params)));
        for (const { id } of devices) Object.assign(states.get(id) ?? {}, params);
        commands.push({ ids: devices.map((d) => d.id), status: "SUCCESS", states: { online: true, ...params } });
      }
      return { requestId: body.requestId, payload: { commands } };
    }
    default:
      return { requestId: body.requestId, payload: { errorCode: "notSupported" } };
  }
}

const server = http.createServer({ noDelay: true }, (req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.end("ok");
    return;
  }
  if (req.method !== "POST" || req.url !== "/fulfillment" || req.headers.authorization !== expectedAuthorization) {
    res.statusCode = req.url === "/fulfillment" ? 401 : 404;
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    fulfill(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      .then((answer) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(answer));
      })
      .catch((error: Error) => {
        res.statusCode = 500;
        res.end(error.message);
      });
  });
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : 0}\n`);
});

const stop = () => {
  server.close();
  void mqtt.close().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
