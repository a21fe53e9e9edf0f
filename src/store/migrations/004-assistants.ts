/**
 * Schema version 4: what the voice assistants need beyond account linking.
 * - `devices.class`: what kind of thing a device is within its type (a cover that is a garage door or a
 *   blind), which decides how an assistant presents it. Declared by the node; the config may override it.
 * - `scenes`: bridge-side scenes created through the admin API (scenes from the config file live in
 *   memory and are never written here). `actions` is a JSON list of device commands.
 * - `alexa_event_grants`: the per-user tokens for Amazon's event gateway, obtained with AcceptGrant.
 *   They are sent to Amazon, so unlike every token Hearth issues they cannot be stored as hashes; the
 *   database file is readable by the daemon's user only. `state` becomes `disabled` when Amazon answers
 *   SKILL_DISABLED_EXCEPTION (the user disabled the skill) and `unauthorized` when no refresh helps.
 */
export const assistantsSchema = `
ALTER TABLE devices ADD COLUMN class TEXT;

CREATE TABLE scenes (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  actions    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE alexa_event_grants (
  user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  access_token  TEXT NOT NULL,
  refresh_token TEXT NOT NULL,
  expires_at    INTEGER NOT NULL,
  state         TEXT NOT NULL DEFAULT 'active',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  last_event_at INTEGER,
  last_error    TEXT,
  last_error_at INTEGER
) STRICT;
`;
