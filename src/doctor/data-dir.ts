/**
 * The data dir: it exists, belongs to the user running the check, is closed to other users (the database
 * holds Amazon's event-gateway tokens, which cannot be stored hashed), and its file system has room left.
 */
import { type Stats, statSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { DATABASE_FILE } from "../store/index.ts";
import { AS_HEARTH, type Check, type Finding, finding } from "./check.ts";

const ID = "data-dir";
/** Below this, SQLite's WAL and the firmware images of `hearth ota push` may not fit. */
export const LOW_DISK_BYTES = 100 * 2 ** 20;

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

function megabytes(bytes: number): string {
  return bytes >= 10 * 2 ** 30 ? `${Math.round(bytes / 2 ** 30)} GB` : `${Math.round(bytes / 2 ** 20)} MB`;
}

export const dataDirCheck: Check = {
  id: ID,
  async run(ctx) {
    const dir = ctx.dataDir;
    let stats: Stats;
    try {
      stats = statSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        return [
          finding(
            ID,
            "warn",
            `the data dir ${dir} does not exist yet`,
            "`hearth start` creates it; if Hearth has run before, check --data-dir / HEARTH_DATA_DIR / dataDir",
          ),
        ];
      }
      return [finding(ID, "error", `the data dir ${dir} cannot be examined (${code})`, AS_HEARTH)];
    }
    if (!stats.isDirectory()) {
      return [finding(ID, "error", `${dir} is not a folder`, "point dataDir (HEARTH_DATA_DIR) at a folder")];
    }
    const findings: Finding[] = [];
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid) {
      findings.push(
        finding(
          ID,
          "warn",
          `the data dir ${dir} belongs to user id ${stats.uid}, not to the user running this check (${uid})`,
          `${AS_HEARTH}; or chown -R <Hearth's user> ${dir}`,
        ),
      );
    }
    const mode = stats.mode & 0o777;
    if ((mode & 0o022) !== 0 || (mode & 0o004) !== 0) {
      findings.push(
        finding(
          ID,
          "error",
          `the data dir ${dir} is open to other users (mode ${octal(mode)}): the database holds tokens and password hashes`,
          `chmod 700 ${dir}`,
        ),
      );
    } else if ((mode & 0o070) !== 0) {
      findings.push(
        finding(ID, "warn", `the data dir ${dir} is open to its group (mode ${octal(mode)})`, `chmod 700 ${dir}`),
      );
    }
    const exposed: string[] = [];
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = `${dir}/${DATABASE_FILE}${suffix}`;
      try {
        const fileMode = statSync(file).mode & 0o777;
        if ((fileMode & 0o077) !== 0) exposed.push(`${file} (${octal(fileMode)})`);
      } catch {
        // Not there: nothing to expose.
      }
    }
    if (exposed.length > 0) {
      findings.push(
        finding(
          ID,
          "error",
          `database files are readable or writable by others: ${exposed.join(", ")}`,
          `chmod 600 ${dir}/${DATABASE_FILE}*`,
        ),
      );
    }
    const space = await statfs(dir);
    const free = space.bavail * space.bsize;
    if (free < LOW_DISK_BYTES) {
      findings.push(
        finding(
          ID,
          "warn",
          `only ${megabytes(free)} free on the file system of ${dir}`,
          "free some space there (old logs, journalctl --vacuum-size=100M), or move the data dir to a larger disk",
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(finding(ID, "ok", `data dir ${dir}: yours, mode ${octal(mode)}, ${megabytes(free)} free`));
    }
    return findings;
  },
};
