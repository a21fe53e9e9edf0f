/**
 * The requests of the comparison, as Google sends them, and the closed loop that measures them: SYNC of the
 * whole house, QUERY of one light, EXECUTE of OnOff and of BrightnessAbsolute on one light, and EXECUTE of
 * OnOff on ten lights in one request. Every system gets the same bodies and its answers are checked alike.
 *
 * Each of the `c` workers owns its own lights (light j belongs to worker j mod c), so no two requests in
 * flight touch the same light and each command's expected state is known: OnOff alternates a light between
 * on and off, BrightnessAbsolute between 30 and 70.
 */
import type http from "node:http";
import { performance } from "node:perf_hooks";
import { type HttpAnswer, httpRequest, jsonOf, percentile, round } from "../common.ts";
import type { Child, LoopReading } from "./procs.ts";
import { cpuMs, RssPeaks } from "./procs.ts";

export const KINDS = ["sync", "query", "onoff", "brightness", "onoff10"] as const;
export type Kind = (typeof KINDS)[number];

export const KIND_LABELS: Record<Kind, string> = {
  sync: "SYNC",
  query: "QUERY 1",
  onoff: "EXEC OnOff 1",
  brightness: "EXEC Bright 1",
  onoff10: "EXEC OnOff 10",
};

/** Lights in one EXECUTE of `onoff10`. */
export const GROUP = 10;

export interface Light {
  id: string;
  customData?: unknown;
  /** What the benchmark last asked of it. */
  on: boolean;
  brightness: number;
}

/** Waits for a device's acknowledgement of a command that an HTTP answer does not wait for (the peer's). */
export interface AckWaiter {
  expect(lightId: string, matches: (payload: Record<string, unknown>) => boolean): Promise<void>;
}

/** One system as the load generator sees it. */
export interface Target {
  system: string;
  base: URL;
  /** The fulfillment path: `/google/fulfillment`, `/smarthome`, `/fulfillment`. */
  path: string;
  token: string;
  /** Devices a SYNC must list. */
  devices: number;
  lights: Light[];
  /** BrightnessAbsolute also switches a light on (so the next OnOff must switch it off). */
  brightnessTurnsOn: boolean;
  /** The peer answers before its device has the command: a request completes once the device acknowledged. */
  acks?: AckWaiter;
  server: Child;
  /** Further processes of the system (its devices), for their CPU time. */
  helpers: Child[];
}

interface GoogleAnswer {
  requestId?: string;
  payload?: {
    devices?: unknown[] | Record<string, { online?: boolean; on?: unknown }>;
    commands?: Array<{ ids?: string[]; status?: string; states?: Record<string, unknown> }>;
    errorCode?: string;
  };
}

let lastRequestId = 0;

async function fulfill(agent: http.Agent, target: Target, input: object): Promise<GoogleAnswer> {
  const requestId = String(++lastRequestId);
  const answer: HttpAnswer = await httpRequest(agent, target.base, {
    method: "POST",
    path: target.path,
    headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" },
    body: JSON.stringify({ requestId, inputs: [input] }),
  });
  const parsed = jsonOf<GoogleAnswer>(answer);
  if (parsed.requestId !== requestId) throw new Error(`answer to another request: ${answer.text.slice(0, 200)}`);
  return parsed;
}

const ref = (light: Light) => ({ id: light.id, ...(light.customData ? { customData: light.customData } : {}) });

/** SYNC; resolves with the devices listed. */
export async function sync(
  agent: http.Agent,
  target: Target,
): Promise<Array<{ id: string; type?: string; customData?: unknown }>> {
  const parsed = await fulfill(agent, target, { intent: "action.devices.SYNC" });
  const devices = parsed.payload?.devices;
  if (!Array.isArray(devices)) throw new Error(`SYNC answered no device list: ${JSON.stringify(parsed).slice(0, 200)}`);
  return devices as Array<{ id: string; type?: string; customData?: unknown }>;
}

/** One EXECUTE of one command on `lights`; resolves once every light is SUCCESS with the expected state. */
async function execute(
  agent: http.Agent,
  target: Target,
  lights: readonly Light[],
  command: "OnOff" | "BrightnessAbsolute",
  params: { on: boolean } | { brightness: number },
): Promise<number> {
  const [key, value] = Object.entries(params)[0] as [string, unknown];
  const acknowledged = target.acks
    ? Promise.all(lights.map((light) => target.acks?.expect(light.id, (payload) => payload[key] === value)))
    : undefined;
  // Observed even if the HTTP request fails first, so that a late rejection is never unhandled.
  acknowledged?.catch(() => undefined);
  const parsed = await fulfill(agent, target, {
    intent: "action.devices.EXECUTE",
    payload: {
      commands: [{ devices: lights.map(ref), execution: [{ command: `action.devices.commands.${command}`, params }] }],
    },
  });
  const answeredAt = performance.now();
  const commands = parsed.payload?.commands ?? [];
  for (const light of lights) {
    const result = commands.find((c) => c.ids?.includes(light.id));
    if (result?.status !== "SUCCESS" || (result.states?.[key] !== undefined && result.states[key] !== value)) {
      throw new Error(`${light.id} not confirmed: ${JSON.stringify(parsed).slice(0, 300)}`);
    }
  }
  if (acknowledged !== undefined) await acknowledged;
  return answeredAt;
}

/** One worker's lights and how far it got through them. */
interface Worker {
  lights: Light[];
  turn: number;
}

/** Light j goes to worker j mod c. */
export function workersFor(target: Target, concurrency: number): Worker[] {
  return Array.from({ length: concurrency }, (_, w) => ({
    lights: target.lights.filter((_, j) => j % concurrency === w),
    turn: 0,
  }));
}

/** One request of `kind` by `worker`; resolves with when the HTTP answer arrived. */
async function issue(agent: http.Agent, target: Target, kind: Kind, worker: Worker): Promise<number> {
  const turn = worker.turn++;
  const light = worker.lights[turn % worker.lights.length] as Light;
  switch (kind) {
    case "sync": {
      const devices = await sync(agent, target);
      if (devices.length !== target.devices)
        throw new Error(`SYNC listed ${devices.length} of ${target.devices} devices`);
      return performance.now();
    }
    case "query": {
      const parsed = await fulfill(agent, target, {
        intent: "action.devices.QUERY",
        payload: { devices: [ref(light)] },
      });
      const state = (parsed.payload?.devices as Record<string, { online?: boolean }> | undefined)?.[light.id];
      if (state?.online !== true) throw new Error(`QUERY of ${light.id}: ${JSON.stringify(parsed).slice(0, 200)}`);
      return performance.now();
    }
    case "onoff": {
      const on = !light.on;
      const answered = await execute(agent, target, [light], "OnOff", { on });
      light.on = on;
      return answered;
    }
    case "brightness": {
      const brightness = light.brightness === 30 ? 70 : 30;
      const answered = await execute(agent, target, [light], "BrightnessAbsolute", { brightness });
      light.brightness = brightness;
      if (target.brightnessTurnsOn) light.on = true;
      return answered;
    }
    case "onoff10": {
      // Fixed groups of ten, so that a group's lights are always switched together.
      const groups = Math.floor(worker.lights.length / GROUP);
      const first = (turn % groups) * GROUP;
      const lights = worker.lights.slice(first, first + GROUP);
      const on = !(lights[0] as Light).on;
      const answered = await execute(agent, target, lights, "OnOff", { on });
      for (const l of lights) l.on = on;
      return answered;
    }
  }
}

export interface BlockOutcome {
  /** Request to complete answer (and, for the peer, to the device's acknowledgement). */
  latencies: number[];
  /** Request to HTTP answer. */
  httpLatencies: number[];
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  serverCpuMs: number;
  helperCpuMs: number;
  serverRssPeak: number;
  loop: LoopReading | undefined;
}

/** A closed loop of `count` requests with `workers.length` in flight. */
export async function runBlock(
  agent: http.Agent,
  target: Target,
  kind: Kind,
  workers: Worker[],
  count: number,
  timeoutMs: number,
): Promise<BlockOutcome> {
  const latencies: number[] = [];
  const httpLatencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let sent = 0;
  let abandoned = false;
  const work = async (worker: Worker) => {
    while (!abandoned && sent < count) {
      sent++;
      const started = performance.now();
      try {
        const answered = await issue(agent, target, kind, worker);
        httpLatencies.push(answered - started);
      } catch (error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push((error as Error).message);
      }
      latencies.push(performance.now() - started);
    }
  };
  await target.server.probe("reset");
  const rss = new RssPeaks([target.server.pid]);
  const cpuBefore = cpuMs(target.server.pid) ?? 0;
  const helpersBefore = target.helpers.reduce((sum, h) => sum + (cpuMs(h.pid) ?? 0), 0);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(workers.slice(0, Math.min(workers.length, count)).map(work)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned = true;
          reject(new Error(`${target.system} ${kind}: ${count} requests took longer than ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const elapsedMs = performance.now() - started;
  const serverCpuMs = (cpuMs(target.server.pid) ?? 0) - cpuBefore;
  const helperCpuMs = target.helpers.reduce((sum, h) => sum + (cpuMs(h.pid) ?? 0), 0) - helpersBefore;
  const serverRssPeak = rss.stop().get(target.server.pid) ?? 0;
  const loop = await target.server.probe("read");
  return { latencies, httpLatencies, errors, errorSamples, elapsedMs, serverCpuMs, helperCpuMs, serverRssPeak, loop };
}

export interface PhaseResult {
  system: string;
  kind: Kind;
  concurrency: number;
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Percentiles of the HTTP answer alone (for the peer it comes before the device has the command). */
  httpP50Ms: number;
  httpP99Ms: number;
  errors: number;
  errorSamples: string[];
  /** CPU time of the server process over the phase's wall time: 100 = one core busy throughout. */
  serverCpuPercent: number;
  /** Server CPU time per request, ms. */
  serverCpuMsPerRequest: number;
  /** The same for its devices' processes. */
  helperCpuPercent: number;
  rssPeakMiB: number;
  /** Worst p99 and max of the event loop's delay over the phase's blocks, and its mean utilisation. */
  loopLagP99Ms: number | null;
  loopLagMaxMs: number | null;
  loopUtilisation: number | null;
}

const MIB = 1024 * 1024;

export function summarise(system: string, kind: Kind, concurrency: number, blocks: BlockOutcome[]): PhaseResult {
  const latencies = Float64Array.from(blocks.flatMap((b) => b.latencies)).sort();
  const http = Float64Array.from(blocks.flatMap((b) => b.httpLatencies)).sort();
  const elapsedMs = blocks.reduce((s, b) => s + b.elapsedMs, 0);
  const serverCpuMs = blocks.reduce((s, b) => s + b.serverCpuMs, 0);
  const helperCpuMs = blocks.reduce((s, b) => s + b.helperCpuMs, 0);
  const loops = blocks.map((b) => b.loop).filter((l): l is LoopReading => l !== undefined);
  const requests = latencies.length;
  return {
    system,
    kind,
    concurrency,
    requests,
    reqPerSec: round((requests / elapsedMs) * 1000, 1),
    p50Ms: round(percentile(latencies, 50), 3),
    p90Ms: round(percentile(latencies, 90), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    maxMs: round(latencies[latencies.length - 1] ?? Number.NaN, 3),
    meanMs: round(latencies.reduce((a, b) => a + b, 0) / requests, 3),
    httpP50Ms: round(percentile(http, 50), 3),
    httpP99Ms: round(percentile(http, 99), 3),
    errors: blocks.reduce((s, b) => s + b.errors, 0),
    errorSamples: blocks.flatMap((b) => b.errorSamples).slice(0, 5),
    serverCpuPercent: round((serverCpuMs / elapsedMs) * 100, 0),
    serverCpuMsPerRequest: round(serverCpuMs / requests, 3),
    helperCpuPercent: round((helperCpuMs / elapsedMs) * 100, 0),
    rssPeakMiB: round(Math.max(...blocks.map((b) => b.serverRssPeak)) / MIB, 1),
    loopLagP99Ms: loops.length ? Math.max(...loops.map((l) => l.lag.p99)) : null,
    loopLagMaxMs: loops.length ? Math.max(...loops.map((l) => l.lag.max)) : null,
    loopUtilisation: loops.length ? round(loops.reduce((s, l) => s + l.elu, 0) / loops.length, 2) : null,
  };
}
