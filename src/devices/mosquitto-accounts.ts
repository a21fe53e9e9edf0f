/**
 * Node accounts in an external mosquitto's `password_file`, kept by Hearth itself when `mqtt.nodeAccountsFile` is
 * set: a claimed board, `hearth node add` and `hearth node remove` then need no hand-editing of the broker.
 *
 * Only the line of the node being changed is touched; every other line (the bridge's own, other users') is
 * kept byte for byte. The file is replaced atomically (a temp file in the same folder, then rename), so the
 * broker never reads half a file, and keeps its mode. mosquitto reads the file again on SIGHUP: Hearth sends
 * it to the pid in `mqtt.reloadPidFile` when that is set; otherwise the operator reloads the broker (or a
 * systemd path unit does, see docs/mosquitto.md).
 */
import { chmod, readFile, rename, stat, writeFile } from "node:fs/promises";
import type { Config } from "../config/index.ts";
import { newId } from "../security/secrets.ts";
import { mosquittoPasswordLineAsync } from "./mosquitto-passwd.ts";

export class MosquittoAccounts {
  /** One change at a time: two claims at once must not each write a file without the other's line. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly passwordFile: string,
    readonly reloadPidFile?: string,
  ) {}

  /** Adds the node's line, or replaces it; then asks the broker to reload. */
  upsert(username: string, password: string): Promise<void> {
    return this.serialised(async () => {
      const line = await mosquittoPasswordLineAsync(username, password);
      await this.rewrite((lines) => [...lines.filter((l) => !ownsLine(l, username)), line]);
    });
  }

  /** Removes the node's line, if there is one; then asks the broker to reload. */
  remove(username: string): Promise<void> {
    return this.serialised(() => this.rewrite((lines) => lines.filter((l) => !ownsLine(l, username))));
  }

  private serialised(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async rewrite(change: (lines: string[]) => string[]): Promise<void> {
    let text = "";
    let mode = 0o640;
    try {
      text = await readFile(this.passwordFile, "utf8");
      mode = (await stat(this.passwordFile)).mode & 0o777;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const lines = text.split("\n").filter((l) => l.length > 0);
    const temp = `${this.passwordFile}.${newId()}.tmp`;
    await writeFile(temp, `${change(lines).join("\n")}\n`, { mode });
    // writeFile's mode is filtered by the umask; the broker's user must still be able to read the file.
    await chmod(temp, mode);
    await rename(temp, this.passwordFile);
    await this.reload();
  }

  private async reload(): Promise<void> {
    if (!this.reloadPidFile) return;
    const pid = Number.parseInt((await readFile(this.reloadPidFile, "utf8")).trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${this.reloadPidFile} does not hold a process id`);
    process.kill(pid, "SIGHUP");
  }
}

function ownsLine(line: string, username: string): boolean {
  return line.startsWith(`${username}:`);
}

/** The accounts keeper for the configured external broker, or undefined when Hearth does not keep them. */
export function mosquittoAccounts(config: Config): MosquittoAccounts | undefined {
  if (!config.mqtt.url || !config.mqtt.nodeAccountsFile) return undefined;
  return new MosquittoAccounts(config.mqtt.nodeAccountsFile, config.mqtt.reloadPidFile);
}
