/**
 * The JSON shapes of devices and nodes, shared by the admin API and the CLI's `--json` output. Kept apart
 * from the routes so that the CLI can print them without loading the HTTP stack.
 */
import type {
  AlexaGrantSummary,
  DeviceRecord,
  GoogleLinkSummary,
  LinkRecord,
  NodeRecord,
  Store,
} from "../store/index.ts";

/** A stored time (ms since the epoch) as ISO 8601, or null. */
function iso(time: number | null): string | null {
  return time === null ? null : new Date(time).toISOString();
}

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
    state_changed_at: iso(device.reportedAt),
    params: device.definition.params,
  };
}

export function nodeView(node: NodeRecord) {
  return {
    id: node.id,
    name: node.name,
    online: node.online,
    fw_version: node.fwVersion,
    hw_model: node.hwModel,
    services: node.services,
    status_changed_at: iso(node.statusChangedAt),
    last_seen_at: iso(node.lastSeenAt),
    created_at: iso(node.createdAt),
  };
}

/** Link health of one user with one platform (`hearth links`, `GET /api/v1/links`). */
/**
 * Each account link; an Alexa link also says whether Hearth may send it proactive events (`events`:
 * `active`, `disabled` when the user disabled the skill, `unauthorized`, or `not granted`).
 */
export function linkViews(store: Store) {
  const events = new Map(store.alexaGrants.list().map((grant) => [grant.userId, grant]));
  const reports = new Map(store.googleLinks.list().map((link) => [link.userId, link]));
  return store.grants.links().map((link) => linkView(link, events.get(link.userId), reports.get(link.userId)));
}

function linkView(link: LinkRecord, events: AlexaGrantSummary | undefined, reports: GoogleLinkSummary | undefined) {
  return {
    user: link.userName,
    platform: link.platform,
    active: link.active,
    linked_at: iso(link.linkedAt),
    last_token_at: iso(link.lastTokenAt),
    last_refresh_at: iso(link.lastRefreshAt),
    last_request_at: iso(link.lastRequestAt),
    last_error: link.lastError,
    last_error_at: iso(link.lastErrorAt),
    events:
      link.platform !== "alexa"
        ? null
        : events
          ? { state: events.state, last_event_at: iso(events.lastEventAt), last_error: events.lastError }
          : { state: "not granted", last_event_at: null, last_error: null },
    // A Google link: whether Hearth reports state to HomeGraph for it (`active`, `broken`, `disconnected`).
    reports:
      link.platform !== "google"
        ? null
        : reports
          ? { state: reports.state, last_report_at: iso(reports.lastReportAt), last_error: reports.lastError }
          : { state: "not synced", last_report_at: null, last_error: null },
  };
}
