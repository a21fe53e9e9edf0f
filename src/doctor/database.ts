/**
 * The database: it opens, SQLite finds it intact, its schema is the one this Hearth writes (a newer one
 * means Hearth was downgraded), and it is in WAL mode as Hearth leaves it. Nothing is written: see
 * DoctorContext.database() for how the file is read.
 */
import { LATEST_SCHEMA_VERSION } from "../store/index.ts";
import { AS_HEARTH, type Check, type Finding, finding } from "./check.ts";
import type { IntegrityResult } from "./context.ts";

const ID = "database";
/** How many of SQLite's complaints to show; the first ones say enough. */
const SHOWN_PROBLEMS = 3;

const RESTORE =
  "stop Hearth and restore the database from a backup made with `hearth backup`; without one, move hearth.db aside (and its -wal and -shm) and start again: `hearth start` creates an empty one";

export const databaseCheck: Check = {
  id: ID,
  run(ctx) {
    const state = ctx.database();
    if (state.kind === "missing") {
      return [finding(ID, "warn", `there is no database at ${state.path} yet`, "`hearth start` creates it")];
    }
    if (state.kind === "unreadable") {
      const denied = /access|permission|EACCES|readonly/i.test(state.error);
      return [
        finding(ID, "error", `the database ${state.path} cannot be read: ${state.error}`, denied ? AS_HEARTH : RESTORE),
      ];
    }
    const findings: Finding[] = [];
    const { version, path } = state;
    if (version > LATEST_SCHEMA_VERSION) {
      findings.push(
        finding(
          ID,
          "error",
          `Hearth is older than its database: the schema is version ${version}, this Hearth knows up to ${LATEST_SCHEMA_VERSION}`,
          "install the Hearth version that last ran on this database, or restore the backup taken before the upgrade",
        ),
      );
    } else if (version < LATEST_SCHEMA_VERSION) {
      findings.push(
        finding(
          ID,
          "warn",
          `the schema is version ${version}; the next \`hearth start\` migrates it to ${LATEST_SCHEMA_VERSION}`,
          `keep a copy of ${path} from before the start, in case you need to go back`,
        ),
      );
    }
    const { pragma, problems } = ctx.integrity() as IntegrityResult;
    if (problems.length > 0) {
      const shown = problems.slice(0, SHOWN_PROBLEMS).join("; ");
      const more = problems.length > SHOWN_PROBLEMS ? ` (and ${problems.length - SHOWN_PROBLEMS} more)` : "";
      findings.push(finding(ID, "error", `the database ${path} is damaged: ${pragma} says ${shown}${more}`, RESTORE));
      return findings;
    }
    if (state.journalMode !== "wal") {
      findings.push(
        finding(
          ID,
          "warn",
          `the database is in ${state.journalMode} journal mode, not WAL: it was replaced or restored since Hearth last opened it`,
          "start Hearth once: it switches the database to WAL",
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(finding(ID, "ok", `database ${path}: ${pragma} ok, schema version ${version}, WAL mode`));
    }
    return findings;
  },
};
