/**
 * Opens the SQLite database and brings its schema up to date. One file, WAL mode. Durability is chosen
 * per write: credentials and tokens commit with `synchronous=FULL` (a power cut cannot lose them), while
 * device state and the command log use `NORMAL` — a state update lost to a power cut is re-sent by the
 * node's retained messages, and FULL would cost ~200 µs on every report.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from "./migrations/index.ts";

export type Db = Database.Database;

export class StoreError extends Error {
  override readonly name = "StoreError";
}

export interface OpenOptions {
  /** Migrations to apply (tests pass a subset); defaults to all. */
  migrations?: readonly Migration[];
  readonly?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: Db;
  try {
    db = new Database(path, { timeout: 5000, readonly: options.readonly ?? false });
  } catch (error) {
    throw new StoreError(`cannot open the database ${path}: ${(error as Error).message}`);
  }
  try {
    // The file holds secrets that cannot be hashed (Alexa's event-gateway tokens): owner only, whatever the
    // umask or the data dir's mode. SQLite gives the WAL and shared-memory files the same mode.
    if (!options.readonly && path !== ":memory:") chmodSync(path, 0o600);
    if (!options.readonly) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    if (!options.readonly) migrate(db, options.migrations ?? MIGRATIONS);
    else checkVersion(db, latestOf(options.migrations ?? MIGRATIONS));
  } catch (error) {
    db.close();
    throw error;
  }
  reuseStatements(db);
  return db;
}

/**
 * Makes `db.prepare` compile each SQL text once per connection. better-sqlite3 parses and plans the SQL on
 * every `prepare`, and the stores prepare inside their methods where a statement is used rarely; some of
 * those run on every state change (the Alexa recipients' query), where compiling was 5–9 % of a command's
 * CPU. A statement is reusable as long as nobody iterates it while running it again, and no store calls
 * `iterate()` except on statements it keeps itself. SQLite re-plans a cached statement when the schema
 * changes. Installed after the migrations, so their one-off statements are not kept.
 */
function reuseStatements(db: Db): void {
  const compile = db.prepare.bind(db);
  const compiled = new Map<string, Database.Statement>();
  db.prepare = ((source: string) => {
    let statement = compiled.get(source);
    if (!statement) {
      statement = compile(source);
      compiled.set(source, statement);
    }
    return statement;
  }) as Db["prepare"];
}

function latestOf(migrations: readonly Migration[]): number {
  return migrations[migrations.length - 1]?.version ?? 0;
}

function checkVersion(db: Db, latest: number): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > latest) {
    throw new StoreError(
      `the database schema is version ${current}, newer than this Hearth understands (${latest}); ` +
        "upgrade Hearth, or restore the backup taken before the upgrade",
    );
  }
  return current;
}

/**
 * Applies the missing migrations, in order, inside one IMMEDIATE transaction: either the schema ends at
 * the latest version or nothing changed. A database newer than the code is refused, never downgraded.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): void {
  const latest = latestOf(migrations);
  const run = db.transaction(() => {
    const current = checkVersion(db, latest);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  });
  run.immediate();
}

/**
 * Runs `fn` in a transaction committed with `synchronous=FULL`. Nested in another transaction (a
 * credentials listener revoking tokens inside a password change), it runs as a savepoint and leaves the
 * pragma alone: the outer transaction commits, and resetting to NORMAL here would make that commit lax.
 */
export function durably<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return db.transaction(fn)();
  db.pragma("synchronous = FULL");
  try {
    return db.transaction(fn).immediate();
  } finally {
    db.pragma("synchronous = NORMAL");
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

export { LATEST_SCHEMA_VERSION };
