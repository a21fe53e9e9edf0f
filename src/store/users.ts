import { newId } from "../security/secrets.ts";
import type { Db } from "./database.ts";
import { durably, StoreError } from "./database.ts";

/** Letters, digits and `._@-`: an e-mail address fits, and nothing needs escaping in a URL or a log. */
export const USER_NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

export interface UserRecord {
  id: string;
  name: string;
  createdAt: number;
  passwordChangedAt: number;
}

interface UserRow {
  id: string;
  name: string;
  password_hash: string;
  created_at: number;
  password_changed_at: number;
}

function toRecord(row: UserRow): UserRecord {
  return { id: row.id, name: row.name, createdAt: row.created_at, passwordChangedAt: row.password_changed_at };
}

export type CredentialsChange = "password_changed" | "removed";

/**
 * Told when a user's password changes or the user is removed: whatever was granted on the old
 * credentials (OAuth tokens, once account linking issues them) must stop working. Listeners run inside
 * the transaction that made the change, so what they write commits with it or not at all, and a
 * listener that throws undoes the change.
 */
export type CredentialsListener = (userId: string, change: CredentialsChange) => void;

/**
 * The people who sign in on the login page. Names are unique without regard to case, and looked up the
 * same way. Only scrypt strings are stored (src/oauth/passwords.ts); this module never sees a password.
 */
export class UserStore {
  private readonly listeners: CredentialsListener[] = [];
  private readonly byName;
  private readonly byId;

  constructor(private readonly db: Db) {
    this.byName = db.prepare<[string], UserRow>("SELECT * FROM users WHERE name = ?");
    this.byId = db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?");
  }

  /** Adds a user; undefined when the name is taken (in any case). */
  add(name: string, passwordHash: string, now: number): UserRecord | undefined {
    if (!USER_NAME_PATTERN.test(name)) throw new StoreError(`invalid user name "${name}"`);
    const id = newId();
    return durably(this.db, () => {
      if (this.byName.get(name)) return undefined;
      this.db
        .prepare("INSERT INTO users (id, name, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)")
        .run(id, name, passwordHash, now, now);
      return { id, name, createdAt: now, passwordChangedAt: now };
    });
  }

  get(name: string): UserRecord | undefined {
    const row = this.byName.get(name);
    return row ? toRecord(row) : undefined;
  }

  getById(id: string): UserRecord | undefined {
    const row = this.byId.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** What a login needs: the user's id and stored password hash. */
  credentials(name: string): { id: string; passwordHash: string } | undefined {
    const row = this.byName.get(name);
    return row ? { id: row.id, passwordHash: row.password_hash } : undefined;
  }

  list(): UserRecord[] {
    return this.db.prepare<[], UserRow>("SELECT * FROM users ORDER BY name").all().map(toRecord);
  }

  onCredentialsChanged(listener: CredentialsListener): void {
    this.listeners.push(listener);
  }

  /** A new password, set by its owner or an administrator; false for an unknown user. */
  setPassword(name: string, passwordHash: string, now: number): boolean {
    return durably(this.db, () => {
      const row = this.byName.get(name);
      if (!row) return false;
      this.db
        .prepare("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")
        .run(passwordHash, now, row.id);
      this.notify(row.id, "password_changed");
      return true;
    });
  }

  /**
   * Replaces the hash of the same password with one at the current cost, after a successful login
   * (`needsRehash`). Unlike setPassword it revokes nothing: the credentials did not change. Only
   * replaces `previousHash`, so a password changed meanwhile is never overwritten.
   */
  rehash(userId: string, previousHash: string, passwordHash: string): boolean {
    return durably(
      this.db,
      () =>
        this.db
          .prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
          .run(passwordHash, userId, previousHash).changes > 0,
    );
  }

  remove(name: string): boolean {
    return durably(this.db, () => {
      const row = this.byName.get(name);
      if (!row) return false;
      this.db.prepare("DELETE FROM users WHERE id = ?").run(row.id);
      this.notify(row.id, "removed");
      return true;
    });
  }

  private notify(userId: string, change: CredentialsChange): void {
    for (const listener of this.listeners) listener(userId, change);
  }
}
