/**
 * Every command, who asked for it and how it ended. A row is queued before the command is published and
 * written with the next flush of the write-behind queue, so a crash mid-command leaves a `pending` row that
 * the next start marks `expired` — such a command is never re-sent: a stale "unlock" replayed after a
 * restart is worse than a failure. A command that ends before that flush (most do: a node answers in a few
 * milliseconds) is written once, already finished, instead of inserted and then updated.
 */
import type { DeviceState } from "../bus.ts";
import type { ParamValue } from "../model/index.ts";
import type { Db } from "./database.ts";
import type { WriteBehind } from "./write-behind.ts";

export type CommandLogStatus = "pending" | "ok" | "accepted" | "error" | "expired";

export interface CommandLogEntry {
  id: string;
  deviceId: string;
  actor: string;
  op: string;
  params: Record<string, ParamValue>;
  status: CommandLogStatus;
  errorCode: string | null;
  resultState: DeviceState | null;
  attempts: number;
  createdAt: number;
  completedAt: number | null;
  latencyMs: number | null;
}

interface Row {
  id: string;
  device_id: string;
  actor: string;
  op: string;
  params: string;
  status: string;
  error_code: string | null;
  result_state: string | null;
  attempts: number;
  created_at: number;
  completed_at: number | null;
  latency_ms: number | null;
}

function toEntry(row: Row): CommandLogEntry {
  return {
    id: row.id,
    deviceId: row.device_id,
    actor: row.actor,
    op: row.op,
    params: JSON.parse(row.params) as Record<string, ParamValue>,
    status: row.status as CommandLogStatus,
    errorCode: row.error_code,
    resultState: row.result_state === null ? null : (JSON.parse(row.result_state) as DeviceState),
    attempts: row.attempts,
    createdAt: row.created_at,
    completedAt: row.completed_at,
    latencyMs: row.latency_ms,
  };
}

export interface CommandOutcome {
  status: Exclude<CommandLogStatus, "pending">;
  errorCode?: string;
  resultState?: DeviceState;
  attempts: number;
  completedAt: number;
}

interface Unwritten {
  id: string;
  deviceId: string;
  actor: string;
  op: string;
  params: string;
  at: number;
  outcome?: CommandOutcome;
}

export class CommandLog {
  private readonly insertStmt;
  private readonly insertFinishedStmt;
  private readonly finishStmt;
  /** Begun commands whose row is still in the write-behind queue. */
  private readonly unwritten = new Map<string, Unwritten>();

  constructor(
    private readonly db: Db,
    private readonly writes: WriteBehind,
  ) {
    this.insertStmt = db.prepare<[string, string, string, string, string, number]>(
      "INSERT INTO command_log (id, device_id, actor, op, params, status, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
    );
    this.insertFinishedStmt = db.prepare<
      [string, string, string, string, string, string, string | null, string | null, number, number, number, number]
    >(
      "INSERT INTO command_log (id, device_id, actor, op, params, status, error_code, result_state, attempts, " +
        "created_at, completed_at, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.finishStmt = db.prepare<[string, string | null, string | null, number, number, number, string]>(
      "UPDATE command_log SET status = ?, error_code = ?, result_state = ?, attempts = ?, completed_at = ?, " +
        "latency_ms = ? - created_at WHERE id = ?",
    );
  }

  begin(entry: {
    id: string;
    deviceId: string;
    actor: string;
    op: string;
    params: Record<string, ParamValue>;
    at: number;
  }): void {
    const queued: Unwritten = { ...entry, params: JSON.stringify(entry.params) };
    this.unwritten.set(entry.id, queued);
    this.writes.enqueue(() => {
      this.unwritten.delete(queued.id);
      const { outcome } = queued;
      if (!outcome) {
        this.insertStmt.run(queued.id, queued.deviceId, queued.actor, queued.op, queued.params, queued.at);
        return;
      }
      this.insertFinishedStmt.run(
        queued.id,
        queued.deviceId,
        queued.actor,
        queued.op,
        queued.params,
        outcome.status,
        outcome.errorCode ?? null,
        outcome.resultState ? JSON.stringify(outcome.resultState) : null,
        outcome.attempts,
        queued.at,
        outcome.completedAt,
        outcome.completedAt - queued.at,
      );
    });
  }

  finish(id: string, outcome: CommandOutcome): void {
    const queued = this.unwritten.get(id);
    if (queued) {
      queued.outcome = outcome;
      return;
    }
    const resultState = outcome.resultState ? JSON.stringify(outcome.resultState) : null;
    this.writes.enqueue(() =>
      this.finishStmt.run(
        outcome.status,
        outcome.errorCode ?? null,
        resultState,
        outcome.attempts,
        outcome.completedAt,
        outcome.completedAt,
        id,
      ),
    );
  }

  get(id: string): CommandLogEntry | undefined {
    this.writes.flush();
    const row = this.db.prepare<[string], Row>("SELECT * FROM command_log WHERE id = ?").get(id);
    return row ? toEntry(row) : undefined;
  }

  recent(options: { deviceId?: string; limit?: number } = {}): CommandLogEntry[] {
    this.writes.flush();
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
    const rows = options.deviceId
      ? this.db
          .prepare<[string, number], Row>(
            "SELECT * FROM command_log WHERE device_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
          )
          .all(options.deviceId, limit)
      : this.db
          .prepare<[number], Row>("SELECT * FROM command_log ORDER BY created_at DESC, rowid DESC LIMIT ?")
          .all(limit);
    return rows.map(toEntry);
  }

  /** Called at start: commands left pending by a previous run can no longer be confirmed. */
  expirePending(now: number): number {
    this.writes.flush();
    return this.db
      .prepare(
        "UPDATE command_log SET status = 'expired', error_code = 'timeout', completed_at = ? WHERE status = 'pending'",
      )
      .run(now).changes;
  }
}
