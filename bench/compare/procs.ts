/**
 * The processes of a comparison: spawning one with its output kept (the tail for error messages, the whole of
 * it in a log file), waiting for a line or an HTTP answer, stopping it, and reading what Linux says of it in
 * /proc (resident memory, CPU time) from outside, so that every system is measured alike whatever it runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

const TAIL_LINES = 40;
const STOP_GRACE_MS = 10_000;

/** What the loop probe (loop-probe.mjs) reports for one window, in ms. */
export interface LoopReading {
  lag: { p50: number; p99: number; max: number; mean: number };
  /** Share of the window's time the event loop was busy, 0–1. */
  elu: number;
}

export class Child {
  private readonly tail: string[] = [];
  private partial = "";
  private readonly watchers = new Set<(line: string) => void>();
  private readonly log: WriteStream | undefined;
  private exitText: string | undefined;
  readonly exited: Promise<void>;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    logFile: string | undefined,
    spawnedAt: number,
  ) {
    this.spawnedAt = spawnedAt;
    this.log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: "a" });
    const onData = (chunk: Buffer) => {
      this.log?.write(chunk);
      const text = this.partial + chunk.toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        for (const watcher of this.watchers) watcher(line);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => {
      child.once("error", (error) => {
        this.exitText ??= `could not start: ${error.message}`;
        if (child.pid === undefined) resolve();
      });
      child.once("exit", (code, signal) => {
        this.exitText ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.log?.end();
        resolve();
      });
    });
  }

  static spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean; logFile?: string } = {},
  ): Child {
    const spawnedAt = performance.now();
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
    });
    return new Child(name, child, options.logFile, spawnedAt);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitText === undefined;
  }

  /** The last lines it printed, for an error message. */
  output(): string {
    return [...this.tail, this.partial].join("\n").trim();
  }

  /** Resolves with the first line (from now on) that matches; rejects if it exits or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | undefined, match?: RegExpExecArray) => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
        if (error) reject(error);
        else resolve(match as RegExpExecArray);
      };
      const watcher = (line: string) => {
        const match = pattern.exec(line);
        if (match) done(undefined, match);
      };
      const timer = setTimeout(
        () => done(this.failure(`printed no line matching ${pattern} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.watchers.add(watcher);
      void this.exited.then(() => done(this.failure(`${this.exitText} before printing ${pattern}`)));
    });
  }

  failure(what: string): Error {
    return new Error(`${this.name} ${what}\n--- last output of ${this.name} ---\n${this.output() || "(none)"}`);
  }

  /** One reading of the loop probe over the IPC channel (undefined without one). */
  async probe(kind: "reset" | "read", timeoutMs = 5_000): Promise<LoopReading | undefined> {
    const answer = await this.ask({ probe: kind }, timeoutMs);
    return kind === "read" && answer ? { lag: answer.lag as LoopReading["lag"], elu: answer.elu as number } : undefined;
  }

  /** process.memoryUsage() inside the process, through the probe. */
  async memory(): Promise<NodeJS.MemoryUsage | undefined> {
    return (await this.ask({ probe: "memory" }, 5_000))?.memory as NodeJS.MemoryUsage | undefined;
  }

  /** Starts a CPU profile inside the process, through the probe. */
  async startProfile(): Promise<boolean> {
    return (await this.ask({ probe: "profile-start" }, 10_000)) !== undefined;
  }

  /** Stops it and has it written to `file`. */
  async stopProfile(file: string): Promise<boolean> {
    return (await this.ask({ probe: "profile-stop", file }, 60_000)) !== undefined;
  }

  /** Sends a message to the probe; resolves with its answer of the same kind, or undefined. */
  private ask(
    message: { probe: string; file?: string },
    timeoutMs: number,
  ): Promise<Record<string, unknown> | undefined> {
    const child = this.child;
    if (!child.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const onMessage = (answer: Record<string, unknown>) => {
        if (answer?.probe === message.probe) finish(answer);
      };
      const finish = (answer: Record<string, unknown> | undefined) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(answer);
      };
      child.on("message", onMessage);
      child.send(message);
    });
  }

  /** SIGTERM, then SIGKILL after the grace time; resolves once it is gone. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `url` until it answers 200; resolves with performance.now() of that answer. */
export async function waitForHttp(url: string, timeoutMs: number, child?: Child, intervalMs = 5): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const request = http.get(url, { agent: false, timeout: 1_000 }, (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      });
      request.on("timeout", () => request.destroy());
      request.on("error", () => resolve(0));
    });
    if (status === 200) return performance.now();
    if (child && !child.running) throw child.failure("exited before it was ready");
    if (performance.now() > deadline) {
      const message = `${url} did not answer 200 within ${timeoutMs / 1000} s`;
      throw child ? child.failure(message) : new Error(message);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// /proc

/** VmRSS of a process in bytes, as `ps` and `top` show it; undefined once it is gone or without /proc. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process, in ms. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverage(): [number, number, number] | undefined {
  try {
    const [a, b, c] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
    return [a as number, b as number, c as number];
  } catch {
    return undefined;
  }
}

/** The peak VmRSS of some processes, sampled on a timer while a phase runs. */
export class RssPeaks {
  private readonly peaks = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    for (const pid of this.pids) {
      const rss = rssBytes(pid);
      if (rss !== undefined) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, rss));
    }
  }

  stop(): Map<number, number> {
    clearInterval(this.timer);
    this.sample();
    return this.peaks;
  }
}

/** The median of VmRSS samples taken over `ms`: the resident size of an idle process, without a GC's blip. */
export async function idleRss(pid: number, ms = 2_000, intervalMs = 100): Promise<number> {
  const samples: number[] = [];
  for (let waited = 0; waited < ms; waited += intervalMs) {
    const rss = rssBytes(pid);
    if (rss !== undefined) samples.push(rss);
    await sleep(intervalMs);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}
