/**
 * Online backups of the database with SQLite's backup API, taken while Hearth runs and writes.
 *
 * The source is opened read-only from its own connection (usually another process than the daemon's): in
 * WAL mode a reader never blocks the daemon's writers, and the backup never writes to the live database.
 * Pages are copied in steps so that no read snapshot lives long (a long-lived reader keeps the daemon's WAL
 * from being checkpointed back to its start). When another connection writes between two steps, SQLite
 * starts the copy again; after a few such restarts the rest is copied in one step, which holds one
 * snapshot until done and so always finishes, however busy the daemon is.
 *
 * The copy is written to a hidden file next to the destination, created 0600 before SQLite writes a byte
 * (it holds hook and subscription signing secrets and Alexa's event-gateway tokens in clear), switched to
 * the rollback journal so that it is one self-contained file, checked with `PRAGMA integrity_check`,
 * flushed to disk, and only then moved to its name. A failure leaves no partial file behind.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { type Db, openDatabase, StoreError } from "./database.ts";

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface BackupOptions {
  /** The database to copy (`<dataDir>/hearth.db`). */
  source: string;
  /** The data dir: a destination inside it is refused. */
  dataDir: string;
  /** The backup file to write. */
  destination: string;
  /** Replace an existing destination. */
  force?: boolean;
  /** Pages copied per step (default 256: 1 MiB with SQLite's default 4 KiB pages). */
  pagesPerStep?: number;
  /** Restarts after which the rest is copied in one step (default 3). */
  maxRestarts?: number;
  /** Called after every step; tests write to the source from here to force a restart. */
  onProgress?: (progress: BackupProgress) => void;
}

export interface BackupCounts {
  nodes: number;
  devices: number;
  users: number;
  clients: number;
}

export interface BackupResult {
  file: string;
  bytes: number;
  schemaVersion: number;
  integrity: "ok";
  /** Rows that `PRAGMA foreign_key_check` reports (0 in a healthy database). */
  foreignKeyViolations: number;
  counts: BackupCounts;
  pages: number;
  /** How often the copy started again because the source changed. */
  restarts: number;
  elapsedMs: number;
}

/** The largest step better-sqlite3 accepts: everything that is left. */
const ALL_PAGES = 0x7fffffff;

function isInside(child: string, parent: string): boolean {
  const path = relative(parent, child);
  return path === "" || (path !== ".." && !path.startsWith(`..${sep}`) && !isAbsolute(path));
}

/** What the destination may be; throws the reason it may not. */
function checkDestination(options: BackupOptions): { file: string; folder: string } {
  const file = resolve(options.destination);
  const folder = dirname(file);
  let folderStat: ReturnType<typeof statSync>;
  try {
    folderStat = statSync(folder);
  } catch (error) {
    throw new StoreError(`cannot write the backup to ${file}: ${explainFsError(error, folder)}`);
  }
  if (!folderStat.isDirectory()) throw new StoreError(`cannot write the backup to ${file}: ${folder} is not a folder`);
  if (existsSync(options.dataDir) && isInside(realpathSync(folder), realpathSync(options.dataDir))) {
    throw new StoreError(
      `the backup ${file} would be inside the data dir ${resolve(options.dataDir)}: a copy there is lost with the ` +
        "folder it should protect; write it elsewhere, ideally to another disk",
    );
  }
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new StoreError(`${file} is a folder: give the backup a file name`);
    if (!options.force) throw new StoreError(`${file} exists; pass --force to replace it`);
  }
  return { file, folder };
}

function explainFsError(error: unknown, path: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return `${path} does not exist`;
  if (code === "ENOTDIR") return `a part of ${path} is not a folder`;
  if (code === "EACCES" || code === "EPERM") return `no permission to write in ${path}`;
  if (code === "EROFS") return `${path} is on a read-only file system`;
  if (code === "ENOSPC") return `no space left on the device of ${path}`;
  return (error as Error).message;
}

function tableExists(db: Db, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** Rows in a table; 0 when an older schema does not have it yet. */
function countRows(db: Db, table: string): number {
  if (!tableExists(db, table)) return 0;
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

interface Verified {
  schemaVersion: number;
  foreignKeyViolations: number;
  counts: BackupCounts;
}

/** Checks the copy and makes it one self-contained file in rollback-journal mode. */
function verifyCopy(path: string): Verified {
  const copy = new Database(path, { fileMustExist: true });
  try {
    // The copy carries the source's WAL flag; Hearth switches it back to WAL when it opens a restored file.
    copy.pragma("journal_mode = DELETE");
    const problems = (copy.pragma("integrity_check") as Array<{ integrity_check: string }>).map(
      (row) => row.integrity_check,
    );
    if (problems.length !== 1 || problems[0] !== "ok") {
      throw new StoreError(
        `the copy failed its integrity check (${problems.slice(0, 3).join("; ")}): the database itself may be ` +
          "damaged; check it with `sqlite3 hearth.db 'PRAGMA integrity_check'`",
      );
    }
    return {
      schemaVersion: copy.pragma("user_version", { simple: true }) as number,
      foreignKeyViolations: (copy.pragma("foreign_key_check") as unknown[]).length,
      counts: {
        nodes: countRows(copy, "nodes"),
        devices: countRows(copy, "devices"),
        users: countRows(copy, "users"),
        clients: countRows(copy, "oauth_clients"),
      },
    };
  } finally {
    copy.close();
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  for (const each of [path, `${path}-journal`, `${path}-wal`, `${path}-shm`]) {
    try {
      unlinkSync(each);
    } catch {
      // not there
    }
  }
}

/** Copies the live database to `destination`; see the module comment for how. */
export async function backupDatabase(options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  if (!existsSync(options.source)) {
    throw new StoreError(
      `there is no database at ${options.source}: is the data dir (--data-dir, HEARTH_DATA_DIR) right?`,
    );
  }
  const { file, folder } = checkDestination(options);
  // Read-only: checks the schema is not newer than this Hearth, and never migrates or writes the live file.
  const source = openDatabase(options.source, { readonly: true });
  const temp = join(folder, `.${basename(file)}.partial-${randomBytes(6).toString("hex")}`);
  let created = false;
  try {
    try {
      // Created here with mode 0600 so that SQLite, which keeps an existing file's mode, never makes it
      // readable by others, whatever the umask.
      closeSync(openSync(temp, "wx", 0o600));
      created = true;
    } catch (error) {
      throw new StoreError(`cannot write the backup to ${file}: ${explainFsError(error, folder)}`);
    }
    const pagesPerStep = options.pagesPerStep ?? 256;
    const maxRestarts = options.maxRestarts ?? 3;
    let restarts = 0;
    let lastRemaining: number | undefined;
    const progress = await source.backup(temp, {
      progress: (step: BackupProgress) => {
        // No net progress since the last step: another connection wrote and SQLite started again.
        if (lastRemaining !== undefined && step.remainingPages >= lastRemaining) restarts++;
        lastRemaining = step.remainingPages;
        options.onProgress?.(step);
        return restarts >= maxRestarts ? ALL_PAGES : pagesPerStep;
      },
    });
    const verified = verifyCopy(temp);
    fsyncPath(temp);
    if (options.force) {
      renameSync(temp, file);
    } else {
      // A link fails if the name was taken meanwhile, where a rename would replace it.
      try {
        linkSync(temp, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") {
          throw new StoreError(`${file} exists; pass --force to replace it`);
        }
        throw error;
      }
      unlinkSync(temp);
    }
    created = false;
    fsyncPath(folder);
    return {
      file,
      bytes: statSync(file).size,
      schemaVersion: verified.schemaVersion,
      integrity: "ok",
      foreignKeyViolations: verified.foreignKeyViolations,
      counts: verified.counts,
      pages: progress.totalPages,
      restarts,
      elapsedMs: Math.round((performance.now() - started) * 10) / 10,
    };
  } catch (error) {
    if (error instanceof StoreError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new StoreError(
      `the backup to ${file} failed: ${code?.startsWith("E") ? explainFsError(error, folder) : (error as Error).message}`,
    );
  } finally {
    source.close();
    if (created) removeQuietly(temp);
  }
}
