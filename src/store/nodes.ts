import type { Db } from "./database.ts";
import { durably } from "./database.ts";
import type { WriteBehind } from "./write-behind.ts";

/** Rows of a count grouped by `online` (1, 0 or NULL for a node never seen) as online and offline totals. */
export function onlineCounts(rows: Iterable<{ online: number | null; n: number }>): {
  online: number;
  offline: number;
} {
  const counts = { online: 0, offline: 0 };
  for (const row of rows) {
    if (row.online === 1) counts.online += row.n;
    else counts.offline += row.n;
  }
  return counts;
}

export interface NodeRecord {
  id: string;
  name: string | null;
  fwVersion: string | null;
  hwModel: string | null;
  cfgHash: string | null;
  /** The services the node's config declares (`{ota: true}`); empty until it announces any. */
  services: Record<string, boolean>;
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
  services: string | null;
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
    services: row.services === null ? {} : (JSON.parse(row.services) as Record<string, boolean>),
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
  services?: Record<string, boolean> | undefined;
}

/**
 * Registered nodes and their credentials (hashed). A node must be added before it may connect.
 * Credentials are always read from the database: the CLI may add or re-key a node while the daemon
 * runs. Online flags and known ids are cached, since only the daemon changes the one and a node id
 * never comes back to life without a new registration the cache would see as a miss.
 */
export class NodeStore {
  private readonly onlineCache = new Map<string, boolean>();
  private readonly knownIds = new Set<string>();
  private readonly removedListeners: Array<(nodeId: string) => void> = [];
  private readonly getStmt;
  private readonly secretStmt;
  private readonly listStmt;
  private readonly setOnlineStmt;
  private readonly infoStmt;
  private readonly seenStmt;
  private readonly countStmt;

  constructor(
    private readonly db: Db,
    private readonly writes: WriteBehind,
  ) {
    this.getStmt = db.prepare<[string], NodeRow>("SELECT * FROM nodes WHERE id = ?");
    this.secretStmt = db.prepare<[string], { secret_hash: string }>("SELECT secret_hash FROM nodes WHERE id = ?");
    this.listStmt = db.prepare<[], NodeRow>("SELECT * FROM nodes ORDER BY id");
    this.setOnlineStmt = db.prepare<[number, number, number, string]>(
      "UPDATE nodes SET online = ?, status_changed_at = ?, last_seen_at = ? WHERE id = ?",
    );
    this.infoStmt = db.prepare<
      [string | null, string | null, string | null, string | null, string | null, number, string]
    >(
      "UPDATE nodes SET name = ?, fw_version = ?, hw_model = ?, cfg_hash = ?, services = ?, last_seen_at = ? WHERE id = ?",
    );
    this.seenStmt = db.prepare<[number, string]>("UPDATE nodes SET last_seen_at = ? WHERE id = ?");
    this.countStmt = db.prepare<[], { online: number; n: number }>(
      "SELECT online, COUNT(*) AS n FROM nodes GROUP BY online",
    );
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
    if (this.knownIds.has(id)) return true;
    const found = this.secretStmt.get(id) !== undefined;
    if (found) this.knownIds.add(id);
    return found;
  }

  isOnline(id: string): boolean {
    let online = this.onlineCache.get(id);
    if (online === undefined) {
      online = this.getStmt.get(id)?.online === 1;
      this.onlineCache.set(id, online);
    }
    return online;
  }

  /** Called after a node is removed, so caches elsewhere can forget it. */
  onRemoved(listener: (nodeId: string) => void): void {
    this.removedListeners.push(listener);
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
    // Queued state writes of this node's devices must land before the rows they refer to go.
    this.writes.flush();
    const removed = durably(this.db, () => this.db.prepare("DELETE FROM nodes WHERE id = ?").run(id).changes > 0);
    this.knownIds.delete(id);
    this.onlineCache.delete(id);
    for (const listener of this.removedListeners) listener(id);
    return removed;
  }

  setOnline(id: string, online: boolean, now: number): void {
    this.setOnlineStmt.run(online ? 1 : 0, now, now, id);
    this.onlineCache.set(id, online);
  }

  setInfo(id: string, info: NodeInfo, now: number): void {
    this.infoStmt.run(
      info.name ?? null,
      info.fwVersion ?? null,
      info.hwModel ?? null,
      info.cfgHash ?? null,
      info.services === undefined ? null : JSON.stringify(info.services),
      now,
      id,
    );
  }

  touch(id: string, now: number): void {
    this.seenStmt.run(now, id);
  }

  /** How many registered nodes are online and offline; one grouped count, cheap enough for every metrics scrape. */
  countByState(): { online: number; offline: number } {
    return onlineCounts(this.countStmt.all());
  }

  /** At daemon start nothing is known to be online until the broker says so. */
  markAllOffline(now: number): string[] {
    const online = this.db.prepare<[], { id: string }>("SELECT id FROM nodes WHERE online = 1").all();
    this.db.prepare("UPDATE nodes SET online = 0, status_changed_at = ? WHERE online = 1").run(now);
    this.onlineCache.clear();
    return online.map((r) => r.id);
  }
}
