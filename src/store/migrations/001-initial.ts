/**
 * Schema version 1. Released migrations are never edited: a change is a new migration. The test suite
 * compares this against a frozen copy (test/fixtures/schema-v1.sql).
 */
export const initialSchema = `
CREATE TABLE nodes (
  id                TEXT PRIMARY KEY,
  secret_hash       TEXT NOT NULL,
  name              TEXT,
  fw_version        TEXT,
  hw_model          TEXT,
  cfg_hash          TEXT,
  online            INTEGER NOT NULL DEFAULT 0,
  status_changed_at INTEGER,
  last_seen_at      INTEGER,
  created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
  id          TEXT PRIMARY KEY,
  node_id     TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  dev_id      TEXT NOT NULL,
  type        TEXT NOT NULL,
  name        TEXT,
  room        TEXT,
  present     INTEGER NOT NULL DEFAULT 1,
  state_seq   INTEGER NOT NULL DEFAULT 0,
  node_seq    INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (node_id, dev_id)
) STRICT;

CREATE TABLE device_params (
  device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  param_id    TEXT NOT NULL,
  position    INTEGER NOT NULL,
  value_type  TEXT NOT NULL,
  access      TEXT NOT NULL,
  min         REAL,
  max         REAL,
  step        REAL,
  unit        TEXT,
  enum_values TEXT,
  PRIMARY KEY (device_id, param_id)
) STRICT;

CREATE TABLE device_state (
  device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  param_id     TEXT NOT NULL,
  reported     TEXT,
  reported_at  INTEGER,
  reported_seq INTEGER,
  desired      TEXT,
  desired_at   INTEGER,
  desired_seq  INTEGER,
  PRIMARY KEY (device_id, param_id)
) STRICT;

CREATE TABLE command_log (
  id           TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  actor        TEXT NOT NULL,
  op           TEXT NOT NULL,
  params       TEXT NOT NULL,
  status       TEXT NOT NULL,
  error_code   TEXT,
  result_state TEXT,
  attempts     INTEGER NOT NULL DEFAULT 1,
  created_at   INTEGER NOT NULL,
  completed_at INTEGER,
  latency_ms   INTEGER
) STRICT;
CREATE INDEX command_log_by_device ON command_log (device_id, created_at);
CREATE INDEX command_log_by_status ON command_log (status) WHERE status = 'pending';

CREATE TABLE admin_tokens (
  id           TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  label        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  last_used_at INTEGER
) STRICT;
`;
