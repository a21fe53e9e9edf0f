/**
 * The device registry and its shadow: what each node declared, the state it last reported and the
 * state last asked of it, per param, with timestamps and sequence numbers. Queries are answered from
 * here and never wait on a device.
 */
import type { DeviceState } from "../bus.ts";
import type {
  AccessMode,
  DeviceClass,
  DeviceDefinition,
  DeviceType,
  ParamSpec,
  ParamValue,
  ValueType,
} from "../model/index.ts";
import type { Db } from "./database.ts";
import { onlineCounts } from "./nodes.ts";
import type { WriteBehind } from "./write-behind.ts";

export interface DeviceRecord {
  /** `<node_id>.<dev_id>`: stable across restarts and firmware versions. */
  id: string;
  nodeId: string;
  devId: string;
  type: DeviceType;
  name: string | null;
  room: string | null;
  /** False once the node's config stopped listing the device. */
  present: boolean;
  online: boolean;
  definition: DeviceDefinition;
  state: DeviceState;
  /** Bridge-side counter, bumped by every accepted change of reported state. */
  stateSeq: number;
  /** The node's own `seq` from its last report. */
  nodeSeq: number | null;
  /** When a reported value last changed (ms since the epoch). */
  reportedAt: number | null;
  /** When each param's reported value last changed: which of a light's colour or white was set last. */
  paramReportedAt: Record<string, number>;
}

export interface RegistryChange {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ReportedChange {
  changed: string[];
  state: DeviceState;
  stateSeq: number;
}

export interface DesiredReplay {
  deviceId: string;
  devId: string;
  params: Record<string, ParamValue>;
}

interface DeviceRow {
  id: string;
  node_id: string;
  dev_id: string;
  type: string;
  name: string | null;
  room: string | null;
  class: string | null;
  present: number;
  state_seq: number;
  node_seq: number | null;
}

interface ParamRow {
  device_id: string;
  param_id: string;
  value_type: string;
  access: string;
  min: number | null;
  max: number | null;
  step: number | null;
  unit: string | null;
  enum_values: string | null;
}

interface StateRow {
  device_id: string;
  param_id: string;
  reported: string | null;
  reported_at: number | null;
  desired: string | null;
  desired_at: number | null;
}

export function deviceId(nodeId: string, devId: string): string {
  return `${nodeId}.${devId}`;
}

function paramFromRow(row: ParamRow): ParamSpec {
  return {
    id: row.param_id,
    type: row.value_type as ValueType,
    rw: row.access as AccessMode,
    ...(row.min === null ? {} : { min: row.min }),
    ...(row.max === null ? {} : { max: row.max }),
    ...(row.step === null ? {} : { step: row.step }),
    ...(row.unit === null ? {} : { unit: row.unit }),
    ...(row.enum_values === null ? {} : { values: JSON.parse(row.enum_values) as string[] }),
  };
}

/** A copy of the state with its params in the order the node declared them, whatever order they came in. */
function orderedState(record: Omit<DeviceRecord, "online">): DeviceState {
  const state: DeviceState = {};
  for (const param of record.definition.params) {
    const value = record.state[param.id];
    if (value !== undefined) state[param.id] = value;
  }
  return state;
}

function sameParams(a: readonly ParamSpec[], b: readonly ParamSpec[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A device's record from its row, its params (in declared order) and its state rows. */
function recordOf(
  row: DeviceRow,
  paramRows: readonly ParamRow[],
  stateRows: readonly StateRow[],
): Omit<DeviceRecord, "online"> {
  const params = paramRows.map(paramFromRow);
  const state: DeviceState = {};
  const paramReportedAt: Record<string, number> = {};
  let reportedAt: number | null = null;
  for (const s of stateRows) {
    if (s.reported !== null) state[s.param_id] = JSON.parse(s.reported) as ParamValue;
    if (s.reported_at !== null) paramReportedAt[s.param_id] = s.reported_at;
    if (s.reported_at !== null && (reportedAt === null || s.reported_at > reportedAt)) reportedAt = s.reported_at;
  }
  const type = row.type as DeviceType;
  return {
    id: row.id,
    nodeId: row.node_id,
    devId: row.dev_id,
    type,
    name: row.name,
    room: row.room,
    present: row.present === 1,
    definition: {
      devId: row.dev_id,
      type,
      ...(row.name === null ? {} : { name: row.name }),
      ...(row.class === null ? {} : { class: row.class as DeviceClass }),
      params,
    },
    state,
    stateSeq: row.state_seq,
    nodeSeq: row.node_seq,
    reportedAt,
    paramReportedAt,
  };
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

export class DeviceStore {
  private readonly selectDeviceIds;
  private readonly selectDevice;
  private readonly selectAllDevices;
  private readonly selectAllParams;
  private readonly selectAllStates;
  private readonly selectNodeDeviceIds;
  private readonly selectParams;
  private readonly selectState;
  private readonly upsertReported;
  private readonly upsertDesired;
  private readonly bumpSeq;
  private readonly countStmt;
  /**
   * Write-through cache of device records (all but `online`, which belongs to the node). This process is
   * the only writer of the registry and of device state, so the cache cannot go stale; the CLI reads
   * the database itself.
   */
  private readonly cache = new Map<string, Omit<DeviceRecord, "online">>();

  constructor(
    private readonly db: Db,
    private readonly writes: WriteBehind,
    /** Whether a node is online, from the node store. */
    private readonly isNodeOnline: (nodeId: string) => boolean,
  ) {
    const base =
      "SELECT d.id, d.node_id, d.dev_id, d.type, d.name, d.room, d.class, d.present, d.state_seq, d.node_seq FROM devices d";
    this.selectDeviceIds = db.prepare<[], { id: string; node_id: string; present: number }>(
      "SELECT id, node_id, present FROM devices ORDER BY id",
    );
    this.selectDevice = db.prepare<[string], DeviceRow>(`${base} WHERE d.id = ?`);
    this.selectAllDevices = db.prepare<[], DeviceRow>(base);
    this.selectAllParams = db.prepare<[], ParamRow>("SELECT * FROM device_params ORDER BY device_id, position");
    this.selectAllStates = db.prepare<[], StateRow>(
      "SELECT device_id, param_id, reported, reported_at, desired, desired_at FROM device_state",
    );
    // A node's devices are the ids `<node>.…`: a range of the primary key, where '/' follows '.'.
    this.selectNodeDeviceIds = db.prepare<[string, string, string], { id: string; node_id: string; present: number }>(
      "SELECT id, node_id, present FROM devices WHERE id > ? AND id < ? AND node_id = ? ORDER BY id",
    );
    this.selectParams = db.prepare<[string], ParamRow>(
      "SELECT * FROM device_params WHERE device_id = ? ORDER BY position",
    );
    this.selectState = db.prepare<[string], StateRow>(
      "SELECT device_id, param_id, reported, reported_at, desired, desired_at FROM device_state WHERE device_id = ?",
    );
    this.upsertReported = db.prepare<[string, string, string, number, number]>(
      "INSERT INTO device_state (device_id, param_id, reported, reported_at, reported_seq) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (device_id, param_id) DO UPDATE SET reported = excluded.reported, " +
        "reported_at = excluded.reported_at, reported_seq = excluded.reported_seq",
    );
    this.upsertDesired = db.prepare<[string, string, string, number, number]>(
      "INSERT INTO device_state (device_id, param_id, desired, desired_at, desired_seq) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (device_id, param_id) DO UPDATE SET desired = excluded.desired, " +
        "desired_at = excluded.desired_at, desired_seq = excluded.desired_seq",
    );
    this.bumpSeq = db.prepare<[number | null, number, string]>(
      "UPDATE devices SET state_seq = state_seq + 1, node_seq = coalesce(?, node_seq), updated_at = ? WHERE id = ?",
    );
    this.countStmt = db.prepare<[], { online: number; n: number }>(
      "SELECT n.online AS online, COUNT(*) AS n FROM devices d JOIN nodes n ON n.id = d.node_id WHERE d.present = 1 GROUP BY n.online",
    );
  }

  /**
   * How many declared devices belong to online and to offline nodes; one grouped count, cheap enough for every
   * metrics scrape. The registry is written straight to the database (only state goes through write-behind).
   */
  countByState(): { online: number; offline: number } {
    return onlineCounts(this.countStmt.all());
  }

  private load(row: DeviceRow): Omit<DeviceRecord, "online"> {
    this.writes.flush();
    return recordOf(row, this.selectParams.all(row.id), this.selectState.all(row.id));
  }

  /**
   * Fills the cache with every device in three queries, instead of two per device as each is first asked
   * for. The daemon does it before its link starts: the broker's replay at start asks for every device at
   * once, and a thousand devices took a thousand pairs of queries.
   */
  warm(): void {
    this.writes.flush();
    const params = groupBy(this.selectAllParams.all(), (row) => row.device_id);
    const states = groupBy(this.selectAllStates.all(), (row) => row.device_id);
    for (const row of this.selectAllDevices.all()) {
      if (this.cache.has(row.id)) continue;
      this.cache.set(row.id, recordOf(row, params.get(row.id) ?? [], states.get(row.id) ?? []));
    }
  }

  private cached(id: string): Omit<DeviceRecord, "online"> | undefined {
    let record = this.cache.get(id);
    if (record) return record;
    const row = this.selectDevice.get(id);
    if (!row) return undefined;
    record = this.load(row);
    this.cache.set(id, record);
    return record;
  }

  /** Forgets the cached records of one node (its config changed, or it was removed). */
  forgetNode(nodeId: string): void {
    for (const [id, record] of this.cache) if (record.nodeId === nodeId) this.cache.delete(id);
  }

  get(id: string): DeviceRecord | undefined {
    const record = this.cached(id);
    // A copy: callers may keep or change what they get without touching the cache.
    return record
      ? {
          ...record,
          state: orderedState(record),
          paramReportedAt: { ...record.paramReportedAt },
          online: this.isNodeOnline(record.nodeId),
        }
      : undefined;
  }

  /** Devices the nodes currently declare (pass `includeRemoved` for the history too). */
  list(options: { includeRemoved?: boolean; nodeId?: string } = {}): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    const { nodeId } = options;
    const rows =
      nodeId === undefined
        ? this.selectDeviceIds.all()
        : this.selectNodeDeviceIds.all(`${nodeId}.`, `${nodeId}/`, nodeId);
    for (const row of rows) {
      if (!options.includeRemoved && row.present !== 1) continue;
      if (options.nodeId && row.node_id !== options.nodeId) continue;
      const record = this.get(row.id);
      if (record) out.push(record);
    }
    return out;
  }

  /**
   * Makes the registry match a node's latest `config`. Devices it no longer lists are kept with their
   * history but marked not present, so a firmware that drops a device by mistake loses nothing.
   */
  applyNodeConfig(nodeId: string, definitions: readonly DeviceDefinition[], now: number): RegistryChange {
    const change: RegistryChange = { added: [], removed: [], changed: [] };
    this.writes.flush();
    const apply = this.db.transaction(() => {
      const existing = new Map(
        this.db
          .prepare<
            [string, string, string],
            { id: string; type: string; name: string | null; class: string | null; present: number }
          >("SELECT id, type, name, class, present FROM devices WHERE id > ? AND id < ? AND node_id = ?")
          .all(`${nodeId}.`, `${nodeId}/`, nodeId)
          .map((r) => [r.id, r]),
      );
      for (const def of definitions) {
        const id = deviceId(nodeId, def.devId);
        const before = existing.get(id);
        existing.delete(id);
        if (!before) {
          this.db
            .prepare(
              "INSERT INTO devices (id, node_id, dev_id, type, name, class, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .run(id, nodeId, def.devId, def.type, def.name ?? null, def.class ?? null, now, now);
          change.added.push(id);
        } else {
          // The cache holds what the database holds (this process is the registry's only writer).
          const params = this.cache.get(id)?.definition.params ?? this.selectParams.all(id).map(paramFromRow);
          const differs =
            before.type !== def.type ||
            before.name !== (def.name ?? null) ||
            before.class !== (def.class ?? null) ||
            before.present !== 1 ||
            !sameParams(params, def.params);
          if (!differs) continue;
          this.db
            .prepare("UPDATE devices SET type = ?, name = ?, class = ?, present = 1, updated_at = ? WHERE id = ?")
            .run(def.type, def.name ?? null, def.class ?? null, now, id);
          if (before.present !== 1) change.added.push(id);
          else change.changed.push(id);
        }
        this.writeParams(id, def.params);
      }
      for (const [id, row] of existing) {
        if (row.present !== 1) continue;
        this.db.prepare("UPDATE devices SET present = 0, updated_at = ? WHERE id = ?").run(now, id);
        change.removed.push(id);
      }
    });
    apply.immediate();
    // Only what changed is read again: a node re-announcing the same config at every reconnect (and a
    // hundred of them at every start) keeps its cached records.
    for (const id of [...change.added, ...change.removed, ...change.changed]) this.cache.delete(id);
    return change;
  }

  private writeParams(id: string, params: readonly ParamSpec[]): void {
    this.db.prepare("DELETE FROM device_params WHERE device_id = ?").run(id);
    const insert = this.db.prepare(
      "INSERT INTO device_params (device_id, param_id, position, value_type, access, min, max, step, unit, enum_values) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    for (const [position, p] of params.entries()) {
      const values = p.values ? JSON.stringify(p.values) : null;
      insert.run(
        id,
        p.id,
        position,
        p.type,
        p.rw,
        p.min ?? null,
        p.max ?? null,
        p.step ?? null,
        p.unit ?? null,
        values,
      );
    }
    // State of params the node no longer declares would be reported forever otherwise.
    const declared = new Set(params.map((p) => p.id));
    for (const s of this.selectState.all(id)) {
      if (!declared.has(s.param_id))
        this.db.prepare("DELETE FROM device_state WHERE device_id = ? AND param_id = ?").run(id, s.param_id);
    }
  }

  /**
   * Records reported values (already validated against the declaration). Returns which params changed;
   * the state sequence number moves only when something did.
   */
  recordReported(
    id: string,
    values: Record<string, ParamValue>,
    nodeSeq: number | undefined,
    now: number,
  ): ReportedChange {
    // Compare with the cached state and write only on a change: a command's confirmation repeats the
    // state the node has just published, and a repeat must not cost a write transaction.
    const record = this.cached(id);
    if (!record) return { changed: [], state: {}, stateSeq: 0 };
    const changed: string[] = [];
    for (const [param, value] of Object.entries(values)) if (record.state[param] !== value) changed.push(param);
    if (changed.length === 0) return { changed, state: orderedState(record), stateSeq: record.stateSeq };
    const stateSeq = record.stateSeq + 1;
    const encoded = changed.map((param) => [param, JSON.stringify(values[param])] as const);
    this.writes.enqueue(() => {
      this.bumpSeq.run(nodeSeq ?? null, now, id);
      // reported_at is when the value last changed, not when it was last repeated: a node re-announcing
      // its old state after a reconnect must not look newer than a command issued while it was away.
      for (const [param, json] of encoded) this.upsertReported.run(id, param, json, now, stateSeq);
    });
    for (const param of changed) {
      record.state[param] = values[param] as ParamValue;
      record.paramReportedAt[param] = now;
    }
    record.stateSeq = stateSeq;
    if (nodeSeq !== undefined) record.nodeSeq = nodeSeq;
    record.reportedAt = now;
    return { changed, state: orderedState(record), stateSeq };
  }

  /** Records what a command asked for, before it is sent. */
  recordDesired(id: string, values: Record<string, ParamValue>, now: number): void {
    const seq = this.cached(id)?.stateSeq ?? 0;
    const encoded = Object.entries(values).map(([param, value]) => [param, JSON.stringify(value)] as const);
    this.writes.enqueue(() => {
      for (const [param, json] of encoded) this.upsertDesired.run(id, param, json, now, seq);
    });
  }

  /**
   * Desired values of one node that still differ from what it reports and were asked for at or after
   * `since`: what to re-send when the node comes back. A desire counts when it is newer than the last
   * change of that param, or when it was asked for while the node was away (`offlineSince`): what a
   * rebooting node re-announces then is its old or default state, not a newer decision.
   */
  desiredToReplay(nodeId: string, since: number, offlineSince?: number): DesiredReplay[] {
    this.writes.flush();
    const rows = this.db
      .prepare<[string, number, number], StateRow & { dev_id: string }>(
        "SELECT s.device_id, s.param_id, s.reported, s.reported_at, s.desired, s.desired_at, d.dev_id " +
          "FROM device_state s JOIN devices d ON d.id = s.device_id " +
          "WHERE d.node_id = ? AND d.present = 1 AND s.desired IS NOT NULL AND s.desired_at >= ? " +
          "AND (s.reported IS NULL OR s.reported <> s.desired) " +
          "AND (s.reported_at IS NULL OR s.desired_at > s.reported_at OR s.desired_at >= ?)",
      )
      .all(nodeId, since, offlineSince ?? Number.MAX_SAFE_INTEGER);
    const byDevice = new Map<string, DesiredReplay>();
    for (const row of rows) {
      const entry = byDevice.get(row.device_id) ?? { deviceId: row.device_id, devId: row.dev_id, params: {} };
      entry.params[row.param_id] = JSON.parse(row.desired as string) as ParamValue;
      byDevice.set(row.device_id, entry);
    }
    return [...byDevice.values()];
  }
}
