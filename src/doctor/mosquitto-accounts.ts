/**
 * The external mosquitto's password file, when Hearth keeps its node lines (`mqtt.nodeAccountsFile`): Hearth
 * can read the file and replace it (a new file renamed into its folder), every registered node has its
 * line, and `mqtt.reloadPidFile` names a running mosquitto to send SIGHUP to. Signal 0 only asks whether
 * the process exists; nothing is sent to it.
 */
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Check, type Finding, finding, Skip } from "./check.ts";

const ID = "mosquitto-accounts";
const GUIDE = "docs/mosquitto.md#letting-hearth-keep-the-password-file";
const SYSTEMD_UNITS = "/etc/systemd/system";

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** A systemd path unit that reloads mosquitto when the file changes stands in for reloadPidFile. */
function watchedBySystemd(file: string): boolean {
  try {
    return readdirSync(SYSTEMD_UNITS)
      .filter((name) => name.endsWith(".path"))
      .some((name) => readFileSync(join(SYSTEMD_UNITS, name), "utf8").includes(`PathChanged=${file}`));
  } catch {
    return false;
  }
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function reloadFindings(pidFile: string): Finding[] {
  let text: string;
  try {
    text = readFileSync(pidFile, "utf8");
  } catch (error) {
    return [
      finding(
        ID,
        "error",
        `mqtt.reloadPidFile ${pidFile} cannot be read (${(error as NodeJS.ErrnoException).code})`,
        "point mqtt.reloadPidFile at mosquitto's pid_file (Debian: /run/mosquitto/mosquitto.pid), and check that mosquitto runs",
      ),
    ];
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) {
    return [
      finding(ID, "error", `${pidFile} does not hold a process id`, "point mqtt.reloadPidFile at mosquitto's pid_file"),
    ];
  }
  try {
    process.kill(pid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EPERM") {
      return [
        finding(
          ID,
          "error",
          `process ${pid} of ${pidFile} runs, but this user may not signal it: Hearth could not make mosquitto reload`,
          `run Hearth as the broker's user or root, or leave mqtt.reloadPidFile unset and reload with a systemd path unit (${GUIDE})`,
        ),
      ];
    }
    return [
      finding(
        ID,
        "error",
        `no process ${pid} (from ${pidFile}): mosquitto is not running, or the pid file is stale`,
        "start mosquitto (systemctl start mosquitto), and check its pid_file setting",
      ),
    ];
  }
  const name = processName(pid);
  if (name !== undefined && name !== "mosquitto") {
    return [
      finding(
        ID,
        "warn",
        `process ${pid} of ${pidFile} is ${name}, not mosquitto: Hearth would send SIGHUP to it`,
        "point mqtt.reloadPidFile at mosquitto's pid_file",
      ),
    ];
  }
  return [];
}

export const mosquittoAccountsCheck: Check = {
  id: ID,
  run(ctx) {
    const { mqtt } = ctx.config;
    if (!mqtt.nodeAccountsFile) return new Skip("mqtt.nodeAccountsFile is not set");
    const file = mqtt.nodeAccountsFile;
    if (!mqtt.url) {
      return [
        finding(
          ID,
          "warn",
          "mqtt.nodeAccountsFile is set, but mqtt.url is not: the embedded broker needs no password file, and the setting is ignored",
          "set mqtt.url to the external broker, or remove mqtt.nodeAccountsFile",
        ),
      ];
    }
    const findings: Finding[] = [];
    let lines: string[] = [];
    try {
      lines = readFileSync(file, "utf8").split("\n");
    } catch (error) {
      findings.push(
        finding(
          ID,
          "error",
          `mqtt.nodeAccountsFile ${file} cannot be read (${(error as NodeJS.ErrnoException).code})`,
          `point it at mosquitto's password_file and make it readable by Hearth's user (${GUIDE})`,
        ),
      );
    }
    const folder = dirname(file);
    if (!canAccess(folder, constants.W_OK | constants.X_OK)) {
      findings.push(
        finding(
          ID,
          "error",
          `Hearth cannot write ${folder}: it replaces ${file} by renaming a new file there, so claims and hearth node add would fail`,
          `let Hearth's user write the folder (e.g. chown hearth:mosquitto ${folder}; chmod 0750 ${folder}) (${GUIDE})`,
        ),
      );
    }
    if (findings.length === 0) {
      const users = new Set(lines.map((line) => line.split(":")[0]).filter((user) => user));
      const store = ctx.store();
      const missing = store ? store.nodes.list().filter((node) => !users.has(node.id)) : [];
      if (missing.length > 0) {
        findings.push(
          finding(
            ID,
            "error",
            `no line in ${file} for: ${missing.map((node) => node.id).join(", ")}; the broker refuses these nodes`,
            "give each a new password, which writes its line: hearth node add <id> --rotate, then put the new password on the node (or let it claim again with hearth node claim-token --node <id>)",
          ),
        );
      }
      if (mqtt.username && !users.has(mqtt.username)) {
        findings.push(
          finding(
            ID,
            "warn",
            `${file} has no line for the bridge (${mqtt.username})`,
            "mosquitto_passwd -b <file> <mqtt.username> <mqtt.password>, then systemctl reload mosquitto",
          ),
        );
      }
    }
    if (mqtt.reloadPidFile) {
      findings.push(...reloadFindings(mqtt.reloadPidFile));
    } else if (!watchedBySystemd(file)) {
      findings.push(
        finding(
          ID,
          "warn",
          "mqtt.reloadPidFile is not set and no systemd path unit watches the file: mosquitto does not learn of new node lines until it reloads",
          `set mqtt.reloadPidFile to mosquitto's pid_file, or install the path unit of ${GUIDE}`,
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(
        finding(
          ID,
          "ok",
          `${file}: Hearth can replace it, every node has its line${mqtt.reloadPidFile ? ", and the pid file names a running mosquitto" : ""}`,
        ),
      );
    }
    return findings;
  },
};
