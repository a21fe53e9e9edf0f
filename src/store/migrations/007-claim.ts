/**
 * Schema version 7: one-time claim tokens. A new board trades one for its MQTT credentials
 * (`POST /api/v1/claim`). Only the token's SHA-256 is kept; `node_id` binds a token to one node when the
 * operator asked for that (and is what allows a claim to re-key an existing node); `used_at`/`used_by`
 * make a token single-use and say which node spent it.
 */
export const claimSchema = `
CREATE TABLE claim_tokens (
  id          TEXT PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  node_id     TEXT,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER,
  used_by     TEXT
) STRICT;
`;
