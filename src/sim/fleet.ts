/**
 * Many simulated nodes at once, for integration tests and benchmarks that need a realistic house (or a
 * hundred of them) on the broker.
 */
import type { DeviceType } from "../model/index.ts";
import { SimNode } from "./node.ts";

export interface SimFleetOptions {
  url: string;
  prefix?: string;
  nodes: ReadonlyArray<{ nodeId: string; password?: string }>;
  /** Every node gets one device of each of these types. */
  devices: readonly DeviceType[];
  keepaliveSeconds?: number;
  latencyMs?: number;
  actuationMs?: number;
  dropAckRate?: number;
  sensorIntervalMs?: number;
  disconnectEveryMs?: number;
  /** Nodes connecting at once (default 16): enough to start fast without a CONNECT storm on the broker. */
  concurrency?: number;
}

export class SimFleet {
  private stopping: Promise<void> | undefined;

  private constructor(readonly nodes: readonly SimNode[]) {}

  /** Starts every node; if one fails, the ones already started are closed and the first error is thrown. */
  static async start(options: SimFleetOptions): Promise<SimFleet> {
    const started: Array<SimNode | undefined> = new Array(options.nodes.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined && next < options.nodes.length) {
        const index = next++;
        const entry = options.nodes[index] as { nodeId: string; password?: string };
        try {
          started[index] = await SimNode.start({
            url: options.url,
            nodeId: entry.nodeId,
            devices: options.devices,
            ...(entry.password === undefined ? {} : { password: entry.password }),
            ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
            ...(options.keepaliveSeconds === undefined ? {} : { keepaliveSeconds: options.keepaliveSeconds }),
            ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
            ...(options.actuationMs === undefined ? {} : { actuationMs: options.actuationMs }),
            ...(options.dropAckRate === undefined ? {} : { dropAckRate: options.dropAckRate }),
            ...(options.sensorIntervalMs === undefined ? {} : { sensorIntervalMs: options.sensorIntervalMs }),
            ...(options.disconnectEveryMs === undefined ? {} : { disconnectEveryMs: options.disconnectEveryMs }),
          });
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    const concurrency = Math.max(1, Math.min(options.concurrency ?? 16, options.nodes.length));
    await Promise.all(Array.from({ length: concurrency }, worker));
    const nodes = started.filter((node): node is SimNode => node !== undefined);
    if (failure !== undefined) {
      await Promise.allSettled(nodes.map((node) => node.close()));
      throw failure.error;
    }
    return new SimFleet(nodes);
  }

  node(nodeId: string): SimNode | undefined {
    return this.nodes.find((node) => node.nodeId === nodeId);
  }

  /** Closes every node cleanly (each publishes `offline`); safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= Promise.allSettled(this.nodes.map((node) => node.close())).then(() => undefined);
    return this.stopping;
  }
}
