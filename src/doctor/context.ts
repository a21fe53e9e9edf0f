/**
 * What the checks share: the configuration as the daemon would load it (or why it cannot be loaded), the
 * database opened read-only once, and whether a Hearth daemon answers at the configured address. Each is
 * worked out at the first check that asks, and only once.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { daemonUrl } from "../cli/context.ts";
import { type Config, type LoadedConfig, loadConfig } from "../config/index.ts";
import { type Db, databasePath, LATEST_SCHEMA_VERSION, Store } from "../store/index.ts";

export interface DoctorOptions {
  /** `--config`; HEARTH_CONFIG otherwise, as for every command. */
  configFile?: string;
  /** `--data-dir`. */
  dataDir?: string;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** The database as the checks can use it. */
export type DatabaseState =
  | { kind: "missing"; path: string }
  | { kind: "unreadable"; path: string; error: string }
  | {
      kind: "open";
      path: string;
      db: Db;
      /** PRAGMA user_version: the schema version. */
      version: number;
      /** `wal` as Hearth sets it; anything else means the file was replaced or never opened by Hearth. */
      journalMode: string;
      /** The file's size in bytes. */
      size: number;
    };

/** What answered at Hearth's own HTTP address. */
export type DaemonStatus =
  | {
      state: "running";
      url: string;
      version: string;
      /** 200, or 503 when the daemon reports itself degraded. */
      httpStatus: number;
      database: boolean;
      mqtt: { connected: boolean; mode: string };
    }
  | { state: "stopped"; url: string; reason: string }
  | { state: "foreign"; url: string; detail: string };

/** SQLite's verdict on the file: `problems` is empty when it is intact. */
export interface IntegrityResult {
  pragma: "integrity_check" | "quick_check";
  problems: string[];
}

const DAEMON_PROBE_TIMEOUT_MS = 2_000;
/** A full integrity check reads every page and index; past this size the quick check is enough here. */
const FULL_CHECK_MAX_BYTES = 256 * 2 ** 20;
/** A database larger than this is not copied into memory for the check. */
const MAX_SNAPSHOT_BYTES = 1024 * 2 ** 20;

export class DoctorContext {
  readonly offline: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly configFile: string | undefined;
  /** Undefined when the configuration does not load; `configError` says why. */
  readonly loaded: LoadedConfig | undefined;
  readonly configError: unknown;
  private readonly clock: () => number;
  private databaseState: DatabaseState | undefined;
  private storeState: Store | null | undefined;
  private integrityState: IntegrityResult | undefined;
  private daemonProbe: Promise<DaemonStatus> | undefined;

  constructor(options: DoctorOptions = {}) {
    this.offline = options.offline ?? false;
    this.env = options.env ?? process.env;
    this.configFile = options.configFile ?? this.env.HEARTH_CONFIG;
    this.clock = options.now ?? Date.now;
    try {
      this.loaded = loadConfig({
        env: this.env,
        ...(options.configFile ? { file: options.configFile } : {}),
        overrides: options.dataDir ? { dataDir: options.dataDir } : {},
      });
    } catch (error) {
      this.configError = error;
    }
  }

  /** Only for checks that run after the configuration loaded. */
  get config(): Config {
    if (!this.loaded) throw new Error("the configuration did not load");
    return this.loaded.config;
  }

  get dataDir(): string {
    return resolve(this.config.dataDir);
  }

  now(): number {
    return this.clock();
  }

  /**
   * The database, for reading only: a doctor changes nothing. While a connection is open (Hearth runs, or
   * crashed) the `-wal` and `-shm` files exist and a read-only connection shares them. Without them, even a
   * read-only connection would create both — files owned by whoever runs the doctor, which could lock
   * Hearth's own user out — so the file is read into memory and checked there instead. With no connection
   * open, everything is in the main file and the copy is exact.
   */
  database(): DatabaseState {
    if (this.databaseState) return this.databaseState;
    const path = databasePath(this.dataDir);
    if (!existsSync(path)) {
      this.databaseState = { kind: "missing", path };
      return this.databaseState;
    }
    let db: Db | undefined;
    try {
      const size = statSync(path).size;
      const live = existsSync(`${path}-wal`) && existsSync(`${path}-shm`);
      let journalMode: string;
      if (live) {
        db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
        journalMode = String(db.pragma("journal_mode", { simple: true }));
      } else {
        if (size > MAX_SNAPSHOT_BYTES) {
          throw new Error(`at ${Math.round(size / 2 ** 20)} MB it is too large to check while Hearth is stopped`);
        }
        const bytes = readFileSync(path);
        // Header bytes 18 and 19 are 2 in WAL mode; an in-memory copy can only be read in rollback mode.
        journalMode = bytes.length >= 20 && bytes[18] === 2 ? "wal" : "delete";
        if (bytes.length >= 20 && bytes.subarray(0, 16).toString("latin1") === "SQLite format 3\0") {
          bytes[18] = 1;
          bytes[19] = 1;
        }
        db = new Database(bytes);
      }
      // The first read of the file: a file that is not SQLite fails here, not at the open.
      const version = db.pragma("user_version", { simple: true }) as number;
      this.databaseState = { kind: "open", path, db, version, journalMode, size };
    } catch (error) {
      db?.close();
      this.databaseState = { kind: "unreadable", path, error: (error as Error).message };
    }
    return this.databaseState;
  }

  /** What SQLite says of the file, for the database check and before any other check reads it. */
  integrity(): IntegrityResult | undefined {
    const state = this.database();
    if (state.kind !== "open") return undefined;
    if (this.integrityState) return this.integrityState;
    const pragma = state.size > FULL_CHECK_MAX_BYTES ? "quick_check" : "integrity_check";
    let problems: string[];
    try {
      const rows = state.db.pragma(pragma) as Array<Record<string, unknown>>;
      problems = rows.map((row) => String(Object.values(row)[0])).filter((line) => line !== "ok");
    } catch (error) {
      problems = [(error as Error).message];
    }
    this.integrityState = { pragma, problems };
    return this.integrityState;
  }

  /**
   * The store on the read-only database, when the file is intact and its schema is the one this Hearth
   * writes; the checks that read tables skip otherwise, and the database check says why.
   */
  store(): Store | undefined {
    if (this.storeState !== undefined) return this.storeState ?? undefined;
    const state = this.database();
    this.storeState = null;
    if (state.kind === "open" && state.version === LATEST_SCHEMA_VERSION && this.integrity()?.problems.length === 0) {
      try {
        this.storeState = new Store(state.db);
      } catch {
        // A table or column the statements need is missing: the database check says what is wrong.
      }
    }
    return this.storeState ?? undefined;
  }

  /** Why `store()` gave nothing, for the checks that need it. */
  storeUnavailable(): string {
    const state = this.database();
    if (state.kind === "missing") return "there is no database yet";
    if (state.kind === "unreadable") return "the database cannot be read (see database)";
    if (state.version !== LATEST_SCHEMA_VERSION) return "the database schema is not this Hearth's (see database)";
    if (this.integrity()?.problems.length) return "the database is damaged (see database)";
    return "the database cannot be read (see database)";
  }

  /** Whether a Hearth daemon answers `/healthz` at its configured HTTP address (or HEARTH_URL). */
  daemon(): Promise<DaemonStatus> {
    this.daemonProbe ??= probeDaemon(
      this.env.HEARTH_URL ? this.env.HEARTH_URL.replace(/\/$/, "") : daemonUrl(this.config),
    );
    return this.daemonProbe;
  }

  close(): void {
    if (this.databaseState?.kind === "open") this.databaseState.db.close();
  }
}

async function probeDaemon(url: string): Promise<DaemonStatus> {
  let response: Response;
  try {
    response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(DAEMON_PROBE_TIMEOUT_MS) });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if ((error as Error).name === "TimeoutError") {
      return { state: "foreign", url, detail: `nothing answered within ${DAEMON_PROBE_TIMEOUT_MS / 1000} s` };
    }
    return { state: "stopped", url, reason: code ?? (error as Error).message };
  }
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const health = body as {
    status?: unknown;
    version?: unknown;
    database?: { ok?: unknown };
    mqtt?: { connected?: unknown; mode?: unknown };
  };
  if (typeof health?.version !== "string" || typeof health.mqtt?.connected !== "boolean") {
    return { state: "foreign", url, detail: `HTTP ${response.status} without Hearth's health answer` };
  }
  return {
    state: "running",
    url,
    version: health.version,
    httpStatus: response.status,
    database: health.database?.ok === true,
    mqtt: { connected: health.mqtt.connected, mode: String(health.mqtt.mode ?? "") },
  };
}
