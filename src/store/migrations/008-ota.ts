/**
 * Schema version 8: firmware updates.
 * - `nodes.services`: the services a node's config declares (`{"ota": true}`), as JSON; an update is sent
 *   only to a node that declares `ota`.
 * - `ota_jobs`: one row per update pushed to a node. The image itself is a file named after the job; the
 *   row keeps its size, its SHA-256 and the SHA-256 of the download URL's token (never the token). A job is
 *   active until `ended_at` is set; the partial unique index allows one active job per node.
 */
export const otaSchema = `
ALTER TABLE nodes ADD COLUMN services TEXT;

CREATE TABLE ota_jobs (
  id           TEXT PRIMARY KEY,
  node_id      TEXT NOT NULL,
  version      TEXT NOT NULL,
  from_version TEXT,
  size         INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  token_hash   TEXT NOT NULL,
  actor        TEXT NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending',
  progress     INTEGER,
  error        TEXT,
  msg          TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  ended_at     INTEGER
) STRICT;

CREATE UNIQUE INDEX ota_jobs_one_active ON ota_jobs (node_id) WHERE ended_at IS NULL;
CREATE INDEX ota_jobs_newest ON ota_jobs (created_at);
`;
