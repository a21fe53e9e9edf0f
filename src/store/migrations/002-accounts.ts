/**
 * Schema version 2: the accounts of account linking. `users` are the people who sign in on the login page
 * (the name compares case-insensitively, so "Anna" and "anna" cannot both exist); `oauth_clients` are the
 * assistants (an Alexa skill, a Google project) allowed to ask for their tokens. Neither table keeps a
 * secret in clear: passwords are scrypt strings, client secrets SHA-256 hashes.
 */
export const accountsSchema = `
CREATE TABLE users (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash       TEXT NOT NULL,
  created_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_clients (
  id            TEXT PRIMARY KEY,
  platform      TEXT NOT NULL,
  label         TEXT NOT NULL,
  secret_hash   TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  pkce          TEXT NOT NULL DEFAULT 'optional',
  created_at    INTEGER NOT NULL
) STRICT;
`;
