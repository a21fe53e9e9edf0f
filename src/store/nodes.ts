import type { Db } from "./database.ts";
import { durably } from "./database.ts";

export interface NodeRecord {
  id: string;
  name: string | null;
  fwVersion: string | null;
  hwModel: string | null;
  cfgHash: string | null;
  online: boolean;
  statusChangedAt: number | null;
  lastSeenAt: number | null;
  createdAt: number;
}

interface NodeRow {
  id: string;
  name: string | null;
  fw_version: string | null;
  hw_model: string | null;
  cfg_hash: string | null;
  online: number;
  status_changed_at: number | null;
  last_seen_at: number | null;
  created_at: number;
}

function toRecord(row: NodeRow): NodeRecord {
  return {
    id: row.id,
    name: row.name,
    fwVersion: row.fw_version,
    hwModel: row.hw_model,
    cfgHash: row.cfg_hash,
    online: row.online === 1,
    statusChangedAt: row.status_changed_at,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
  };
}

export interface NodeInfo {
  name?: string | undefined;
  fwVersion?: string | undefined;
  hwModel?: string | undefined;
  cfgHash?: string | undefined;
}

/** Registered nodes and their credentials (hashed). A node must be added before it may connect. */
export class NodeStore {
  private readonly getStmt;
  private readonly secretStmt;
  private readonly listStmt;
  private readonly setOnlineStmt;
  private readonly infoStmt;
  private readonly seenStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], NodeRow>("SELECT * FROM nodes WHERE id = ?");
    this.secretStmt = db.prepare<[string], { secret_hash: string }>("SELECT secret_hash FROM nodes WHERE id = ?");
    this.listStmt = db.prepare<[], NodeRow>("SELECT * FROM nodes ORDER BY id");
    this.setOnlineStmt = db.prepare<[number, number, number, string]>(
      "UPDATE nodes SET online = ?, status_changed_at = ?, last_seen_at = ? WHERE id = ?",
    );
    this.infoStmt = db.prepare<[string | null, string | null, string | null, string | null, number, string]>(
      "UPDATE nodes SET name = ?, fw_version = ?, hw_model = ?, cfg_hash = ?, last_seen_at = ? WHERE id = ?",
    );
    this.seenStmt = db.prepare<[number, string]>("UPDATE nodes SET last_seen_at = ? WHERE id = ?");
  }

  /** Adds a node, or replaces the credentials of an existing one when `replace` is set. */
  add(id: string, secretHash: string, now: number, replace = false): { created: boolean } {
    return durably(this.db, () => {
      const existing = this.getStmt.get(id);
      if (existing && !replace) return { created: false };
      if (existing) {
        this.db.prepare("UPDATE nodes SET secret_hash = ? WHERE id = ?").run(secretHash, id);
        return { created: false };
      }
      this.db.prepare("INSERT INTO nodes (id, secret_hash, created_at) VALUES (?, ?, ?)").run(id, secretHash, now);
      return { created: true };
    });
  }

  exists(id: string): boolean {
    return this.secretStmt.get(id) !== undefined;
  }

  secretHash(id: string): string | undefined {
    return this.secretStmt.get(id)?.secret_hash;
  }

  get(id: string): NodeRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord(row) : undefined;
  }

  list(): NodeRecord[] {
    return this.listStmt.all().map(toRecord);
  }

  /** Removes the node with its devices and state; the command log keeps its history. */
  remove(id: string): boolean {
    return durably(this.db, () => this.db.prepare("DELETE FROM nodes WHERE id = ?").run(id).changes > 0);
  }

  setOnline(id: string, online: boolean, now: number): void {
    this.setOnlineStmt.run(online ? 1 : 0, now, now, id);
  }

  setInfo(id: string, info: NodeInfo, now: number): void {
    this.infoStmt.run(info.name ?? null, info.fwVersion ?? null, info.hwModel ?? null, info.cfgHash ?? null, now, id);
  }

  touch(id: string, now: number): void {
    this.seenStmt.run(now, id);
  }

  /** At daemon start nothing is known to be online until the broker says so. */
  markAllOffline(now: number): string[] {
    const online = this.db.prepare<[], { id: string }>("SELECT id FROM nodes WHERE online = 1").all();
    this.db.prepare("UPDATE nodes SET online = 0, status_changed_at = ? WHERE online = 1").run(now);
    return online.map((r) => r.id);
  }
}
