/**
 * The devices of the floor and of the peer, as a process of their own: for each `--account`, one MQTT client
 * that takes every message under `<prefix>/cmd/<light>` and answers it at once on `<prefix>/ack/<light>` with
 * the same payload, as the least a device can do to confirm a command.
 *
 *   node --import tsx bench/compare/responder.ts --url mqtt://127.0.0.1:1883 --account floor_dev:secret:floor
 *
 * Prints `ready` on stdout once every client is subscribed; closes them on SIGTERM.
 */
import { parseArgs } from "node:util";
import { MqttConnection } from "../../src/devices/mqtt-connection.ts";

const { values } = parseArgs({
  options: { url: { type: "string" }, account: { type: "string", multiple: true } },
  strict: true,
});
const url = values.url as string;

const connections: MqttConnection[] = [];
for (const account of values.account ?? []) {
  const [username, password, prefix] = account.split(":") as [string, string, string];
  // MqttConnection sets TCP_NODELAY on the socket, as Hearth's own clients have it.
  const connection = await MqttConnection.connect({ url, clientId: username, username, password, reconnect: false });
  const commands = `${prefix}/cmd/`;
  connection.onMessage((message) => {
    if (!message.topic.startsWith(commands)) return;
    const light = message.topic.slice(commands.length);
    connection.publish(`${prefix}/ack/${light}`, message.payload, { qos: 1 }).catch(() => undefined);
  });
  const granted = await connection.subscribe([`${commands}+`], 1);
  if (granted.includes(128)) throw new Error(`the broker refused ${username} its subscription to ${commands}+`);
  connections.push(connection);
}
process.stdout.write("ready\n");

const stop = () => {
  void Promise.allSettled(connections.map((c) => c.close())).then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
