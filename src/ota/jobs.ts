/**
 * Firmware update jobs in the store: one row per image pushed to a node, with the image's size and SHA-256,
 * the hash of its download token, and where the update is. The OTA service is the only writer; the CLI
 * reads the rows directly (`hearth ota list`). A job is active until it ends, and a node has at most one
 * active job (a partial unique index says so to the database too).
 */
import { type Db, durably } from "../store/database.ts";

/**
 * `pending`: created, the `ota` command not yet confirmed; `sent`: the node accepted it; then the node's own
 * states; the last four end the job.
 */
export const OTA_JOB_STATES = [
  "pending",
  "sent",
  "downloading",
  "verifying",
  "rebooting",
  "success",
  "failed",
  "rejected",
  "timeout",
] as const;
export type OtaJobState = (typeof OTA_JOB_STATES)[number];

export const FINAL_OTA_JOB_STATES: ReadonlySet<OtaJobState> = new Set(["success", "failed", "rejected", "timeout"]);

export interface OtaJob {
  id: string;
  nodeId: string;
  version: string;
  /** The firmware the node announced when the job was created. */
  fromVersion: string | null;
  size: number;
  sha256: string;
  /** Who pushed it: `admin:<token label>`. */
  actor: string;
  state: OtaJobState;
  progress: number | null;
  /** Why the job ended other than in `success`: the node's reason or the bridge's. */
  error: string | null;
  msg: string | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
}

export interface NewOtaJob {
  id: string;
  nodeId: string;
  version: string;
  fromVersion: string | null;
  size: number;
  sha256: string;
  tokenHash: string;
  actor: string;
}

export interface OtaJobChange {
  state: OtaJobState;
  progress?: number | null;
  error?: string | null;
  msg?: string | null;
}

interface OtaJobRow {
  id: string;
  node_id: string;
  version: string;
  from_version: string | null;
  size: number;
  sha256: string;
  token_hash: string;
  actor: string;
  state: string;
  progress: number | null;
  error: string | null;
  msg: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
}

function toJob(row: OtaJobRow): OtaJob {
  return {
    id: row.id,
    nodeId: row.node_id,
    version: row.version,
    fromVersion: row.from_version,
    size: row.size,
    sha256: row.sha256,
    actor: row.actor,
    state: row.state as OtaJobState,
    progress: row.progress,
    error: row.error,
    msg: row.msg,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    endedAt: row.ended_at,
  };
}

/** A second active job for the same node; the caller turns it into `ota_in_progress`. */
export class ActiveJobExists extends Error {}

export class OtaJobStore {
  private readonly getStmt;
  private readonly activeForStmt;
  private readonly activeStmt;
  private readonly updateStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], OtaJobRow>("SELECT * FROM ota_jobs WHERE id = ?");
    this.activeForStmt = db.prepare<[string], OtaJobRow>(
      "SELECT * FROM ota_jobs WHERE node_id = ? AND ended_at IS NULL",
    );
    this.activeStmt = db.prepare<[], OtaJobRow>("SELECT * FROM ota_jobs WHERE ended_at IS NULL ORDER BY created_at");
    this.updateStmt = db.prepare<[string, number | null, string | null, string | null, number, number | null, string]>(
      "UPDATE ota_jobs SET state = ?, progress = ?, error = ?, msg = ?, updated_at = ?, ended_at = ? WHERE id = ?",
    );
  }

  /** Creates a job in state `pending`; durable, since the node may act on it before anything else is written. */
  create(job: NewOtaJob, now: number): OtaJob {
    try {
      durably(this.db, () =>
        this.db
          .prepare(
            `INSERT INTO ota_jobs (id, node_id, version, from_version, size, sha256, token_hash, actor, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            job.id,
            job.nodeId,
            job.version,
            job.fromVersion,
            job.size,
            job.sha256,
            job.tokenHash,
            job.actor,
            now,
            now,
          ),
      );
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw new ActiveJobExists();
      throw error;
    }
    return this.get(job.id) as OtaJob;
  }

  get(id: string): OtaJob | undefined {
    const row = this.getStmt.get(id);
    return row ? toJob(row) : undefined;
  }

  /** The stored hash of an active job's download token; nothing for an unknown or ended job. */
  activeTokenHash(id: string): string | undefined {
    const row = this.getStmt.get(id);
    return row && row.ended_at === null ? row.token_hash : undefined;
  }

  activeFor(nodeId: string): OtaJob | undefined {
    const row = this.activeForStmt.get(nodeId);
    return row ? toJob(row) : undefined;
  }

  active(): OtaJob[] {
    return this.activeStmt.all().map(toJob);
  }

  /** Newest first. */
  list(options: { nodeId?: string; limit?: number } = {}): OtaJob[] {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
    const rows =
      options.nodeId === undefined
        ? this.db
            .prepare<[number], OtaJobRow>("SELECT * FROM ota_jobs ORDER BY created_at DESC, rowid DESC LIMIT ?")
            .all(limit)
        : this.db
            .prepare<[string, number], OtaJobRow>(
              "SELECT * FROM ota_jobs WHERE node_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            )
            .all(options.nodeId, limit);
    return rows.map(toJob);
  }

  /**
   * Moves an active job on; a final state ends it, durably (an outcome once told must survive a power cut),
   * while progress is written at the store's usual pace. Returns the job afterwards, or nothing when it had
   * already ended.
   */
  update(id: string, change: OtaJobChange, now: number): OtaJob | undefined {
    const job = this.get(id);
    if (!job || job.endedAt !== null) return undefined;
    const ends = FINAL_OTA_JOB_STATES.has(change.state);
    const write = () =>
      this.updateStmt.run(
        change.state,
        change.progress === undefined ? job.progress : change.progress,
        change.error === undefined ? job.error : change.error,
        change.msg === undefined ? job.msg : change.msg,
        now,
        ends ? now : null,
        id,
      );
    if (ends) durably(this.db, write);
    else write();
    return this.get(id);
  }
}

/** A job as the admin API and `hearth ota list --json` show it (never its token). */
export function otaJobView(job: OtaJob) {
  return {
    id: job.id,
    node: job.nodeId,
    version: job.version,
    from_version: job.fromVersion,
    size: job.size,
    sha256: job.sha256,
    state: job.state,
    progress: job.progress,
    error: job.error,
    msg: job.msg,
    actor: job.actor,
    created_at: new Date(job.createdAt).toISOString(),
    updated_at: new Date(job.updatedAt).toISOString(),
    ended_at: job.endedAt === null ? null : new Date(job.endedAt).toISOString(),
  };
}
export type OtaJobView = ReturnType<typeof otaJobView>;
