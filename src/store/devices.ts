/**
 * The device registry and its shadow: what each node declared, the state it last reported and the
 * state last asked of it, per param, with timestamps and sequence numbers. Queries are answered from
 * here and never wait on a device.
 */
import type { DeviceState } from "../bus.ts";
import type { AccessMode, DeviceDefinition, DeviceType, ParamSpec, ParamValue, ValueType } from "../model/index.ts";
import type { Db } from "./database.ts";

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
  present: number;
  state_seq: number;
  node_seq: number | null;
  online: number;
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

function sameParams(a: readonly ParamSpec[], b: readonly ParamSpec[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class DeviceStore {
  private readonly selectDevices;
  private readonly selectDevice;
  private readonly selectParams;
  private readonly selectState;
  private readonly upsertReported;
  private readonly upsertDesired;
  private readonly bumpSeq;
  private readonly selectSeq;
  /** Declared params per device; they change only with a node's config, so they are read once. */
  private readonly paramsCache = new Map<string, ParamSpec[]>();

  constructor(private readonly db: Db) {
    const base =
      "SELECT d.id, d.node_id, d.dev_id, d.type, d.name, d.room, d.present, d.state_seq, d.node_seq, n.online " +
      "FROM devices d JOIN nodes n ON n.id = d.node_id";
    this.selectDevices = db.prepare<[], DeviceRow>(`${base} ORDER BY d.id`);
    this.selectDevice = db.prepare<[string], DeviceRow>(`${base} WHERE d.id = ?`);
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
    this.selectSeq = db.prepare<[string], { state_seq: number }>("SELECT state_seq FROM devices WHERE id = ?");
    this.bumpSeq = db.prepare<[number | null, number, string]>(
      "UPDATE devices SET state_seq = state_seq + 1, node_seq = coalesce(?, node_seq), updated_at = ? WHERE id = ?",
    );
  }

  private hydrate(row: DeviceRow): DeviceRecord {
    const params = this.params(row.id);
    const state: DeviceState = {};
    let reportedAt: number | null = null;
    for (const s of this.selectState.all(row.id)) {
      if (s.reported !== null) state[s.param_id] = JSON.parse(s.reported) as ParamValue;
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
      online: row.online === 1,
      definition: { devId: row.dev_id, type, ...(row.name === null ? {} : { name: row.name }), params },
      state,
      stateSeq: row.state_seq,
      nodeSeq: row.node_seq,
      reportedAt,
    };
  }

  private params(id: string): ParamSpec[] {
    let params = this.paramsCache.get(id);
    if (!params) {
      params = this.selectParams.all(id).map(paramFromRow);
      this.paramsCache.set(id, params);
    }
    return params;
  }

  get(id: string): DeviceRecord | undefined {
    const row = this.selectDevice.get(id);
    return row ? this.hydrate(row) : undefined;
  }

  /** Devices the nodes currently declare (pass `includeRemoved` for the history too). */
  list(options: { includeRemoved?: boolean; nodeId?: string } = {}): DeviceRecord[] {
    return this.selectDevices
      .all()
      .filter(
        (row) => (options.includeRemoved || row.present === 1) && (!options.nodeId || row.node_id === options.nodeId),
      )
      .map((row) => this.hydrate(row));
  }

  /**
   * Makes the registry match a node's latest `config`. Devices it no longer lists are kept with their
   * history but marked not present, so a firmware that drops a device by mistake loses nothing.
   */
  applyNodeConfig(nodeId: string, definitions: readonly DeviceDefinition[], now: number): RegistryChange {
    const change: RegistryChange = { added: [], removed: [], changed: [] };
    const apply = this.db.transaction(() => {
      const existing = new Map(
        this.db
          .prepare<[string], { id: string; type: string; name: string | null; present: number }>(
            "SELECT id, type, name, present FROM devices WHERE node_id = ?",
          )
          .all(nodeId)
          .map((r) => [r.id, r]),
      );
      for (const def of definitions) {
        const id = deviceId(nodeId, def.devId);
        const before = existing.get(id);
        existing.delete(id);
        if (!before) {
          this.db
            .prepare(
              "INSERT INTO devices (id, node_id, dev_id, type, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .run(id, nodeId, def.devId, def.type, def.name ?? null, now, now);
          change.added.push(id);
        } else {
          const params = this.selectParams.all(id).map(paramFromRow);
          const differs =
            before.type !== def.type ||
            before.name !== (def.name ?? null) ||
            before.present !== 1 ||
            !sameParams(params, def.params);
          if (!differs) continue;
          this.db
            .prepare("UPDATE devices SET type = ?, name = ?, present = 1, updated_at = ? WHERE id = ?")
            .run(def.type, def.name ?? null, now, id);
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
    return change;
  }

  private writeParams(id: string, params: readonly ParamSpec[]): void {
    this.paramsCache.delete(id);
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
    // Read first, write only on a change: a command's confirmation repeats the state the node has just
    // published, and a repeat must cost a read, not a write transaction. This process is the only writer
    // of device state, so nothing can change between the read and the write.
    const state: DeviceState = {};
    const stored = new Map<string, string>();
    for (const s of this.selectState.all(id)) {
      if (s.reported === null) continue;
      stored.set(s.param_id, s.reported);
      state[s.param_id] = JSON.parse(s.reported) as ParamValue;
    }
    const changed: string[] = [];
    for (const [param, value] of Object.entries(values)) {
      if (stored.get(param) !== JSON.stringify(value)) changed.push(param);
    }
    let stateSeq = this.selectSeq.get(id)?.state_seq ?? 0;
    if (changed.length === 0) return { changed, state, stateSeq };
    stateSeq += 1;
    const write = this.db.transaction(() => {
      this.bumpSeq.run(nodeSeq ?? null, now, id);
      // reported_at is when the value last changed, not when it was last repeated: a node re-announcing
      // its old state after a reconnect must not look newer than a command issued while it was away.
      for (const param of changed) this.upsertReported.run(id, param, JSON.stringify(values[param]), now, stateSeq);
    });
    write.immediate();
    for (const param of changed) state[param] = values[param] as ParamValue;
    return { changed, state, stateSeq };
  }

  /** Records what a command asked for, before it is sent. */
  recordDesired(id: string, values: Record<string, ParamValue>, now: number): void {
    const run = this.db.transaction(() => {
      const seq = this.selectDevice.get(id)?.state_seq ?? 0;
      for (const [param, value] of Object.entries(values))
        this.upsertDesired.run(id, param, JSON.stringify(value), now, seq);
    });
    run.immediate();
  }

  /**
   * Desired values of one node that still differ from what it reports and were asked for at or after
   * `since`: what to re-send when the node comes back. A desire counts when it is newer than the last
   * change of that param, or when it was asked for while the node was away (`offlineSince`): what a
   * rebooting node re-announces then is its old or default state, not a newer decision.
   */
  desiredToReplay(nodeId: string, since: number, offlineSince?: number): DesiredReplay[] {
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
