/**
 * Schema version 5: what Google's fulfillment needs, and an audit log.
 * - `user_pins`: the PIN a user speaks to confirm a guarded command (unlocking a door), as a scrypt hash.
 * - `pin_failures`: failed PIN attempts, kept so that a lockout outlives a restart.
 * - `audit_log`: security-relevant events (PIN challenges and their outcomes, unlinks), append-only.
 * - `google_links`: per user, whether Hearth may report state to Google's HomeGraph for them, and why not.
 */
export const googleSchema = `
CREATE TABLE user_pins (
  user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  pin_hash   TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE pin_failures (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  at      INTEGER NOT NULL
) STRICT;

CREATE INDEX pin_failures_by_user ON pin_failures (user_id, at);

CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT,
  outcome TEXT NOT NULL,
  detail  TEXT
) STRICT;

CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE TABLE google_links (
  user_id          TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  state            TEXT NOT NULL DEFAULT 'active',
  last_report_at   INTEGER,
  last_error       TEXT,
  last_error_at    INTEGER,
  updated_at       INTEGER NOT NULL
) STRICT;
`;
