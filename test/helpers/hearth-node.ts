/**
 * The firmware's host build, `firmware/build/hearth-node`, run as a child process: the same portable core an
 * ESP32 runs, over libmosquitto and libcurl. `npm test` builds it first (`make -C firmware all`).
 *
 * Its log goes to stderr, one line per event (`hearth-node[<id>] info: connection: online`); tests wait for
 * those lines. Every node still running when the test process exits is killed, so a failed test leaves no
 * node behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestBridge } from "./bridge.ts";

export const HEARTH_NODE_BIN = fileURLToPath(new URL("../../firmware/build/hearth-node", import.meta.url));

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class HearthNode {
  private output = "";
  private waiters: Array<() => void> = [];
  readonly exited: Promise<Exit>;
  private exitedWith: Exit | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly stateDir: string,
  ) {
    const append = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (const wake of this.waiters.splice(0)) wake();
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        live.delete(child);
        this.exitedWith = { code, signal };
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ code, signal });
      });
    });
  }

  /**
   * Starts a node with its own state folder (its "flash": claimed credentials, OTA slots). `args` are the
   * command line after `--state-dir`.
   */
  static async start(args: readonly string[], options: { stateDir?: string } = {}): Promise<HearthNode> {
    if (!existsSync(HEARTH_NODE_BIN)) {
      throw new Error(`${HEARTH_NODE_BIN} is missing: build it with \`make -C firmware host\` (npm test does)`);
    }
    const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "hearth-node-")));
    const child = spawn(HEARTH_NODE_BIN, ["--state-dir", stateDir, "--stdin-control", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    live.add(child);
    return new HearthNode(child, stateDir);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  logs(): string {
    return this.output;
  }

  /** Resolves with the first log line after `from` (an offset into logs()) that matches. */
  async waitFor(pattern: RegExp, timeoutMs = 5000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.output
        .slice(from)
        .split("\n")
        .find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (this.exitedWith) {
        throw new Error(`hearth-node exited (${JSON.stringify(this.exitedWith)}) before ${pattern}:\n${this.output}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`hearth-node did not log ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** A line on the node's control input: `press <dev>` is a local button. */
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGTERM (a clean stop that publishes `offline`), SIGKILL after 3 s; removes the state folder unless kept. */
  async stop(options: { keepState?: boolean } = {}): Promise<Exit> {
    if (!this.exitedWith) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
      await this.exited;
      clearTimeout(timer);
    }
    if (!options.keepState) await rm(this.stateDir, { recursive: true, force: true });
    return this.exitedWith as Exit;
  }
}

export const ONLINE = /connection: online/;

/** A one-time claim token, as `hearth node claim-token` makes it (optionally already expired by `ageMs`). */
export function claimToken(bridge: TestBridge, options: { nodeId?: string; ageMs?: number } = {}): string {
  return bridge.daemon.store.claimTokens.issue({
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    ttlMs: 600_000,
    now: Date.now() - (options.ageMs ?? 0),
  }).token;
}

/** A board running firmware 1.0.0 that claims itself with a fresh token and comes online. */
export async function claimedNode(
  bridge: TestBridge,
  nodeId: string,
  extra: readonly string[] = [],
): Promise<HearthNode> {
  const node = await HearthNode.start([
    "--node-id",
    nodeId,
    "--claim",
    bridge.httpUrl,
    "--claim-token",
    claimToken(bridge),
    "--fw-version",
    "1.0.0",
    ...extra,
  ]);
  try {
    await node.waitFor(ONLINE, 8000);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}
