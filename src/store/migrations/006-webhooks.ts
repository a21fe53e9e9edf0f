/**
 * Schema version 6: webhooks both ways.
 * - `hooks`: inbound endpoints. Their signing secrets are kept as they are (an HMAC needs the secret
 *   itself); `previous_secret` verifies during a rotation; `token_hash` is the SHA-256 of the URL token of an
 *   unsigned hook. `devices` and `scenes` are the JSON allow-lists.
 * - `hook_deliveries`: the ids of accepted inbound deliveries, kept past the timestamp tolerance so that a
 *   replay is recognised.
 * - `subscriptions`: outbound receivers, with their event filter and signing secret.
 * - `outbox`: every outbound delivery until it is delivered or dead; its id is the `webhook-id` of every
 *   attempt. Committed with synchronous=FULL, so a delivery queued is never lost.
 */
export const webhooksSchema = `
CREATE TABLE hooks (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  secret          TEXT,
  previous_secret TEXT,
  token_hash      TEXT,
  devices         TEXT NOT NULL DEFAULT '[]',
  scenes          TEXT NOT NULL DEFAULT '[]',
  async           INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  last_used_at    INTEGER
) STRICT;

CREATE TABLE hook_deliveries (
  hook_id     TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
  delivery_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (hook_id, delivery_id)
) STRICT;

CREATE TABLE subscriptions (
  id          TEXT PRIMARY KEY,
  url         TEXT NOT NULL,
  secret      TEXT NOT NULL,
  events      TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'active',
  created_at  INTEGER NOT NULL,
  disabled_at INTEGER,
  last_error  TEXT
) STRICT;

CREATE TABLE outbox (
  id              TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
  event_type      TEXT NOT NULL,
  payload         TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER
) STRICT;

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
`;
