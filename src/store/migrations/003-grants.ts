/**
 * Schema version 3: what account linking issues. A grant is one user's consent to one client; codes and
 * tokens hang off it, so revoking the grant (or deleting its user or client) ends all of them. Codes and
 * tokens are stored as SHA-256 hashes only. `account_links` is link health for `hearth links`: when a
 * platform last got a token, refreshed, and called with one.
 */
export const grantsSchema = `
CREATE TABLE oauth_grants (
  id         TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  scope      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

CREATE TABLE oauth_codes (
  code_hash      TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  redirect_uri   TEXT NOT NULL,
  scope          TEXT NOT NULL DEFAULT '',
  code_challenge TEXT,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  used_at        INTEGER,
  grant_id       TEXT REFERENCES oauth_grants(id) ON DELETE CASCADE
) STRICT;

CREATE TABLE oauth_tokens (
  token_hash   TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  grant_id     TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  last_used_at INTEGER NOT NULL,
  revoked_at   INTEGER
) STRICT;

CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);

CREATE TABLE account_links (
  user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  platform        TEXT NOT NULL,
  linked_at       INTEGER NOT NULL,
  last_token_at   INTEGER,
  last_refresh_at INTEGER,
  last_request_at INTEGER,
  last_error      TEXT,
  last_error_at   INTEGER,
  PRIMARY KEY (user_id, platform)
) STRICT;
`;
