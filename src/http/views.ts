/**
 * The JSON shapes of devices and nodes, shared by the admin API and the CLI's `--json` output. Kept apart
 * from the routes so that the CLI can print them without loading the HTTP stack.
 */
import type { DeviceRecord, NodeRecord } from "../store/index.ts";

export function deviceView(device: DeviceRecord) {
  return {
    id: device.id,
    node_id: device.nodeId,
    dev_id: device.devId,
    type: device.type,
    name: device.name,
    room: device.room,
    online: device.online,
    state: device.state,
    state_seq: device.stateSeq,
    state_changed_at: device.reportedAt === null ? null : new Date(device.reportedAt).toISOString(),
    params: device.definition.params,
  };
}

export function nodeView(node: NodeRecord) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: node.id,
    name: node.name,
    online: node.online,
    fw_version: node.fwVersion,
    hw_model: node.hwModel,
    status_changed_at: iso(node.statusChangedAt),
    last_seen_at: iso(node.lastSeenAt),
    created_at: iso(node.createdAt),
  };
}
