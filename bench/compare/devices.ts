/**
 * The simulated house Hearth is measured with, as a process of its own (as real nodes would be on their own
 * boards): one `SimNode` per registered node, each with its number of lights, on the broker Hearth uses.
 *
 *   node --import tsx bench/compare/devices.ts --url mqtt://127.0.0.1:1883 --credentials nodes.json
 *
 * `nodes.json` is a list of `{ "node_id", "password", "lights" }`, the first two as `POST /api/v1/nodes`
 * answers them. Prints `ready <n>` on stdout once every node is connected and has announced its config;
 * closes every node cleanly on SIGTERM.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SimNode } from "../../src/sim/index.ts";
import { mixedDevices } from "../common.ts";

/** Nodes connecting at once: fast enough, without a CONNECT storm that the broker would answer slowly. */
const START_CONCURRENCY = 8;

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    credentials: { type: "string" },
  },
  strict: true,
});
const url = values.url as string;
interface Entry {
  node_id: string;
  password: string;
  lights: number;
}
const credentials = JSON.parse(readFileSync(values.credentials as string, "utf8")) as Entry[];

const nodes: SimNode[] = [];
let next = 0;
const starter = async () => {
  while (next < credentials.length) {
    const { node_id: nodeId, password, lights } = credentials[next++] as Entry;
    nodes.push(await SimNode.start({ url, nodeId, password, devices: mixedDevices(nodeId, lights, ["light"]) }));
  }
};
await Promise.all(Array.from({ length: START_CONCURRENCY }, starter));
process.stdout.write(`ready ${nodes.length}\n`);

const stop = () => {
  void Promise.allSettled(nodes.map((node) => node.close())).then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
