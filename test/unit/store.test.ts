/**
 * The store on real SQLite files: migrations from the frozen v1 schema, downgrade refusal, atomic
 * migrations, and the registry/shadow/command-log/token semantics the rest of the daemon relies on.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { resolveDeclaration } from "../../src/model/index.ts";
import { hashSecret, verifySecret } from "../../src/security/secrets.ts";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, openDatabase, Store, StoreError } from "../../src/store/index.ts";

const FROZEN_V1 = readFileSync(new URL("../fixtures/schema-v1.sql", import.meta.url), "utf8");

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-store-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const freshPath = () => join(dir, `db-${++counter}.sqlite`);

function schemaOf(db: Database.Database): string[] {
  return db
    .prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
    .all()
    .map((r) => r.sql.replace(/\s+/g, " ").trim());
}

const lightDeclaration = {
  id: "light",
  type: "light",
  name: "Ceiling",
  params: [
    { id: "on", type: "bool", rw: "rw" },
    { id: "brightness", type: "int", rw: "rw", min: 1, max: 100 },
  ],
} as const;
const light = resolveDeclaration(lightDeclaration);
const lock = resolveDeclaration({ id: "door", type: "lock", params: [{ id: "locked", type: "bool", rw: "rw" }] });

function storeWithNode(nodeId = "node-1"): Store {
  const store = new Store(openDatabase(freshPath()));
  store.nodes.add(nodeId, hashSecret("pw"), 1000);
  store.devices.applyNodeConfig(nodeId, [light, lock], 1000);
  return store;
}

describe("migrations", () => {
  test("a new database gets the latest schema in WAL mode with foreign keys on", () => {
    const db = openDatabase(freshPath());
    assert.equal(db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
    db.close();
  });

  test("the database file is readable by its owner only, whatever the umask", () => {
    const path = freshPath();
    const previous = process.umask(0o022);
    try {
      const db = openDatabase(path);
      db.prepare("CREATE TABLE probe (x INTEGER)").run();
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600, "the WAL holds the same secrets");
      db.close();
    } finally {
      process.umask(previous);
    }
  });

  test("migration 1 still creates exactly the frozen v1 schema", () => {
    const fromMigration = openDatabase(freshPath(), { migrations: MIGRATIONS.slice(0, 1) });
    const frozen = new Database(freshPath());
    frozen.exec(FROZEN_V1);
    assert.deepEqual(schemaOf(fromMigration), schemaOf(frozen));
    fromMigration.close();
    frozen.close();
  });

  test("a v1 database with data is upgraded to the latest version without losing rows", () => {
    const path = freshPath();
    const v1 = new Database(path);
    v1.exec(FROZEN_V1);
    v1.prepare("INSERT INTO nodes (id, secret_hash, created_at) VALUES ('kitchen-1', 'sha256:x', 1)").run();
    v1.prepare(
      "INSERT INTO devices (id, node_id, dev_id, type, created_at, updated_at) VALUES ('kitchen-1.light', 'kitchen-1', 'light', 'light', 1, 1)",
    ).run();
    v1.pragma("user_version = 1");
    v1.close();
    const db = openDatabase(path);
    assert.equal(db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
    const store = new Store(db);
    assert.equal(store.nodes.get("kitchen-1")?.id, "kitchen-1");
    assert.equal(store.devices.get("kitchen-1.light")?.type, "light");
    store.close();
  });

  test("a v1 database with rows migrates to version 2, keeping them and gaining the account tables", () => {
    const path = freshPath();
    const v1 = new Database(path);
    v1.exec(FROZEN_V1);
    v1.pragma("user_version = 1");
    v1.prepare("INSERT INTO nodes (id, secret_hash, created_at) VALUES ('porch-1', 'sha256:y', 5)").run();
    v1.prepare(
      "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES ('t1', 'sha256:z', 'ops', 5)",
    ).run();
    v1.close();
    const db = openDatabase(path, { migrations: MIGRATIONS.slice(0, 2) });
    assert.equal(db.pragma("user_version", { simple: true }), 2);
    assert.deepEqual(db.prepare("SELECT id, secret_hash, created_at FROM nodes").all(), [
      { id: "porch-1", secret_hash: "sha256:y", created_at: 5 },
    ]);
    assert.deepEqual(db.prepare("SELECT id, label FROM admin_tokens").all(), [{ id: "t1", label: "ops" }]);
    const columns = (table: string) =>
      db
        .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`)
        .all()
        .map((c) => c.name);
    assert.deepEqual(columns("users"), ["id", "name", "password_hash", "created_at", "password_changed_at"]);
    assert.deepEqual(columns("oauth_clients"), [
      "id",
      "platform",
      "label",
      "secret_hash",
      "redirect_uris",
      "pkce",
      "created_at",
    ]);
    const strict = db
      .prepare<[], { name: string; strict: number }>(
        "SELECT name, strict FROM pragma_table_list WHERE name IN ('users', 'oauth_clients') ORDER BY name",
      )
      .all();
    assert.deepEqual(strict, [
      { name: "oauth_clients", strict: 1 },
      { name: "users", strict: 1 },
    ]);
    db.close();
  });

  test("a v1 database with rows migrates to the latest version, keeping them and gaining the grant tables", () => {
    const path = freshPath();
    const v1 = new Database(path);
    v1.exec(FROZEN_V1);
    v1.pragma("user_version = 1");
    v1.prepare("INSERT INTO nodes (id, secret_hash, created_at) VALUES ('attic-1', 'sha256:w', 7)").run();
    v1.prepare(
      "INSERT INTO devices (id, node_id, dev_id, type, created_at, updated_at) VALUES ('attic-1.fan', 'attic-1', 'fan', 'fan', 7, 7)",
    ).run();
    v1.prepare(
      "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES ('t2', 'sha256:v', 'cli', 7)",
    ).run();
    v1.close();
    const db = openDatabase(path);
    assert.equal(db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
    assert.ok(LATEST_SCHEMA_VERSION >= 3);
    assert.deepEqual(db.prepare("SELECT id, secret_hash, created_at FROM nodes").all(), [
      { id: "attic-1", secret_hash: "sha256:w", created_at: 7 },
    ]);
    assert.deepEqual(db.prepare("SELECT id, node_id FROM devices").all(), [{ id: "attic-1.fan", node_id: "attic-1" }]);
    assert.deepEqual(db.prepare("SELECT id, label FROM admin_tokens").all(), [{ id: "t2", label: "cli" }]);
    const strict = db
      .prepare<[], { name: string; strict: number }>(
        "SELECT name, strict FROM pragma_table_list WHERE name IN ('oauth_grants', 'oauth_codes', 'oauth_tokens', 'account_links') ORDER BY name",
      )
      .all();
    assert.deepEqual(strict, [
      { name: "account_links", strict: 1 },
      { name: "oauth_codes", strict: 1 },
      { name: "oauth_grants", strict: 1 },
      { name: "oauth_tokens", strict: 1 },
    ]);
    const index = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'oauth_tokens_by_grant'");
    assert.ok(index.get());
    db.close();
  });

  test("a database newer than the code is refused, not downgraded", () => {
    const path = freshPath();
    openDatabase(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => openDatabase(path),
      (error: Error) => error instanceof StoreError && /newer/.test(error.message),
    );
    const after = new Database(path);
    assert.equal(after.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION + 1);
    after.close();
  });

  test("a failing migration leaves the database exactly as it was", () => {
    const path = freshPath();
    openDatabase(path, { migrations: MIGRATIONS.slice(0, 1) }).close();
    const broken = [
      ...MIGRATIONS.slice(0, 1),
      { version: 2, name: "broken", sql: "CREATE TABLE half (a); SELECT * FROM nope;" },
    ];
    assert.throws(() => openDatabase(path, { migrations: broken }));
    const db = new Database(path);
    assert.equal(db.pragma("user_version", { simple: true }), 1);
    const half = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get() as { n: number };
    assert.equal(half.n, 0, "the table of the failed migration must not exist");
    db.close();
  });
});

describe("registry", () => {
  test("a node's config adds, changes and retires devices, keeping retired history", () => {
    const store = storeWithNode();
    assert.deepEqual(
      store.devices.list().map((d) => d.id),
      ["node-1.door", "node-1.light"],
    );
    const dimmer = resolveDeclaration({
      ...light,
      id: "light",
      type: "light",
      params: [{ id: "on", type: "bool", rw: "rw" }],
    });
    const change = store.devices.applyNodeConfig("node-1", [dimmer], 2000);
    assert.deepEqual(change, { added: [], removed: ["node-1.door"], changed: ["node-1.light"] });
    assert.deepEqual(
      store.devices.list().map((d) => d.id),
      ["node-1.light"],
    );
    assert.equal(store.devices.get("node-1.door")?.present, false);
    const back = store.devices.applyNodeConfig("node-1", [dimmer, lock], 3000);
    assert.deepEqual(back.added, ["node-1.door"]);
    const same = store.devices.applyNodeConfig("node-1", [dimmer, lock], 4000);
    assert.deepEqual(same, { added: [], removed: [], changed: [] });
    store.close();
  });

  test("a node's devices are listed without those of nodes whose ids share its prefix", () => {
    const store = new Store(openDatabase(freshPath()));
    for (const nodeId of ["kit", "kit-2", "kit_2", "kit2", "ki"]) {
      store.nodes.add(nodeId, hashSecret("pw"), 1000);
      store.devices.applyNodeConfig(nodeId, [light], 1000);
    }
    store.devices.warm();
    for (const nodeId of ["kit", "kit-2", "kit_2", "kit2", "ki"]) {
      assert.deepEqual(
        store.devices.list({ nodeId }).map((d) => d.id),
        [`${nodeId}.light`],
      );
    }
    assert.equal(store.devices.list().length, 5);
    store.close();
  });

  test("a node re-announcing the same config keeps its state; a changed declaration is read again", () => {
    const store = storeWithNode();
    store.devices.recordReported("node-1.light", { on: true, brightness: 40 }, 1, 2000);
    assert.deepEqual(store.devices.applyNodeConfig("node-1", [light, lock], 3000), {
      added: [],
      removed: [],
      changed: [],
    });
    assert.deepEqual(store.devices.get("node-1.light")?.state, { on: true, brightness: 40 });
    const renamed = resolveDeclaration({ ...lightDeclaration, name: "Porch" });
    assert.deepEqual(store.devices.applyNodeConfig("node-1", [renamed, lock], 4000).changed, ["node-1.light"]);
    assert.equal(store.devices.get("node-1.light")?.name, "Porch");
    assert.deepEqual(store.devices.get("node-1.light")?.state, { on: true, brightness: 40 });
    store.close();
  });

  test("removing a node removes its devices and state but keeps the command log", () => {
    const store = storeWithNode();
    store.devices.recordReported("node-1.light", { on: true }, 1, 1000);
    store.commands.begin({
      id: "c1",
      deviceId: "node-1.light",
      actor: "admin",
      op: "set",
      params: { on: true },
      at: 1000,
    });
    assert.equal(store.nodes.remove("node-1"), true);
    assert.equal(store.devices.get("node-1.light"), undefined);
    assert.equal((store.db.prepare("SELECT count(*) AS n FROM device_state").get() as { n: number }).n, 0);
    assert.equal(store.commands.get("c1")?.deviceId, "node-1.light");
    store.close();
  });
});

describe("shadow", () => {
  test("reported state counts only real changes and keeps a sequence number", () => {
    const store = storeWithNode();
    const first = store.devices.recordReported("node-1.light", { on: true, brightness: 40 }, 7, 1000);
    assert.deepEqual(first.changed.sort(), ["brightness", "on"]);
    assert.equal(first.stateSeq, 1);
    const repeat = store.devices.recordReported("node-1.light", { on: true, brightness: 40 }, 8, 2000);
    assert.deepEqual(repeat.changed, []);
    assert.equal(repeat.stateSeq, 1);
    const dim = store.devices.recordReported("node-1.light", { brightness: 10 }, 9, 3000);
    assert.deepEqual(dim.changed, ["brightness"]);
    assert.deepEqual(dim.state, { on: true, brightness: 10 });
    const record = store.devices.get("node-1.light");
    assert.equal(record?.stateSeq, 2);
    assert.equal(record?.nodeSeq, 9);
    assert.equal(record?.reportedAt, 3000);
    store.close();
  });

  test("a desire newer than the last change is replayed; one overtaken by a later change is not", () => {
    const store = storeWithNode();
    store.devices.recordReported("node-1.light", { on: false, brightness: 50 }, undefined, 1000);
    store.devices.recordDesired("node-1.light", { on: true }, 2000);
    // The node re-announces its old state after a reconnect: that is not a newer decision.
    store.devices.recordReported("node-1.light", { on: false, brightness: 50 }, undefined, 3000);
    assert.deepEqual(store.devices.desiredToReplay("node-1", 0), [
      { deviceId: "node-1.light", devId: "light", params: { on: true } },
    ]);
    assert.deepEqual(store.devices.desiredToReplay("node-1", 2500), [], "older than the replay window");
    // Someone flips the wall switch after the command: the physical change wins.
    store.devices.recordReported("node-1.light", { brightness: 20 }, undefined, 4000);
    store.devices.recordReported("node-1.light", { on: true }, undefined, 5000);
    store.devices.recordReported("node-1.light", { on: false }, undefined, 6000);
    assert.deepEqual(store.devices.desiredToReplay("node-1", 0), []);
    store.close();
  });
});

describe("shadow after an absence", () => {
  test("a desire asked for while the node was away wins over what the node re-announces on return", () => {
    const store = storeWithNode();
    store.devices.recordReported("node-1.light", { on: false, brightness: 50 }, undefined, 1000);
    // The node goes offline at 2000; the user asks for the light at 3000; the node reboots to its
    // defaults and re-announces brightness 100 at 4000 before it says `online`.
    store.devices.recordDesired("node-1.light", { brightness: 30 }, 3000);
    store.devices.recordReported("node-1.light", { brightness: 100 }, undefined, 4000);
    assert.deepEqual(store.devices.desiredToReplay("node-1", 0), [], "without knowing about the absence");
    assert.deepEqual(store.devices.desiredToReplay("node-1", 0, 2000), [
      { deviceId: "node-1.light", devId: "light", params: { brightness: 30 } },
    ]);
    assert.deepEqual(store.devices.desiredToReplay("node-1", 0, 3500), [], "asked for before the node left");
    store.close();
  });
});

describe("command log and tokens", () => {
  test("pending commands of a previous run are marked expired at start", () => {
    const store = storeWithNode();
    store.commands.begin({
      id: "c1",
      deviceId: "node-1.light",
      actor: "cli",
      op: "set",
      params: { on: true },
      at: 1000,
    });
    store.commands.begin({
      id: "c2",
      deviceId: "node-1.light",
      actor: "cli",
      op: "set",
      params: { on: false },
      at: 1001,
    });
    store.commands.finish("c2", { status: "ok", resultState: { on: false }, attempts: 1, completedAt: 1011 });
    assert.equal(store.commands.expirePending(5000), 1);
    assert.equal(store.commands.get("c1")?.status, "expired");
    const done = store.commands.get("c2");
    assert.equal(done?.status, "ok");
    assert.equal(done?.latencyMs, 10);
    assert.deepEqual(done?.resultState, { on: false });
    store.close();
  });

  test("the command log as another process reads it: pending while in flight, then how it ended", async () => {
    const path = freshPath();
    const store = new Store(openDatabase(path));
    store.nodes.add("node-1", hashSecret("pw"), 1000);
    store.devices.applyNodeConfig("node-1", [light, lock], 1000);
    const cli = new Database(path, { readonly: true });
    const row = (id: string) =>
      cli.prepare("SELECT status, latency_ms, result_state FROM command_log WHERE id = ?").get(id) as
        | { status: string; latency_ms: number | null; result_state: string | null }
        | undefined;
    const begin = (id: string, at: number) =>
      store.commands.begin({ id, deviceId: "node-1.light", actor: "cli", op: "set", params: { on: true }, at });

    // Answered before the queue was written: one row, already finished, once committed.
    begin("fast", 2000);
    store.commands.finish("fast", { status: "ok", resultState: { on: true }, attempts: 1, completedAt: 2004 });
    assert.equal(row("fast"), undefined, "nothing is committed before the write-behind flush");
    await store.writes.commit();
    assert.deepEqual(row("fast"), { status: "ok", latency_ms: 4, result_state: '{"on":true}' });

    // Still waiting when the queue is written: pending, then updated.
    begin("slow", 3000);
    await store.writes.commit();
    assert.deepEqual(row("slow"), { status: "pending", latency_ms: null, result_state: null });
    store.commands.finish("slow", { status: "error", errorCode: "timeout", attempts: 2, completedAt: 8000 });
    await store.writes.commit();
    assert.deepEqual(row("slow"), { status: "error", latency_ms: 5000, result_state: null });
    assert.equal(store.commands.get("slow")?.errorCode, "timeout");
    cli.close();
    store.close();
  });

  test("admin tokens are stored hashed, expire and can be revoked", () => {
    const store = storeWithNode();
    const { id, token } = store.adminTokens.create("ops", 1000);
    assert.match(token, /^hth_/);
    const stored = store.db.prepare<[], { token_hash: string }>("SELECT token_hash FROM admin_tokens").all();
    assert.ok(
      stored.every((row) => !row.token_hash.includes(token)),
      "plain token never stored",
    );
    assert.equal(store.adminTokens.verify(token, 2000), true);
    assert.equal(store.adminTokens.verify(`${token}x`, 2000), false);
    const temporary = store.adminTokens.create("cli", 1000, 60_000);
    assert.equal(store.adminTokens.verify(temporary.token, 60_999), true);
    assert.equal(store.adminTokens.verify(temporary.token, 61_000), false);
    assert.equal(store.adminTokens.revoke(id), true);
    assert.equal(store.adminTokens.verify(token, 3000), false);
    store.close();
  });

  test("node secrets verify only with the right password", () => {
    const hash = hashSecret("correct horse");
    assert.equal(verifySecret("correct horse", hash), true);
    assert.equal(verifySecret("correct horsE", hash), false);
    assert.equal(verifySecret("correct horse", "garbage"), false);
  });

  test("a node added just before a kill -9 is still there", () => {
    const path = freshPath();
    openDatabase(path).close();
    const script = `
      import { Store, openDatabase } from ${JSON.stringify(new URL("../../src/store/index.ts", import.meta.url).href)};
      const store = new Store(openDatabase(${JSON.stringify(path)}));
      store.nodes.add("survivor", "sha256:abc", Date.now());
      process.stdout.write("added\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(child.signal, "SIGKILL");
    assert.match(child.stdout, /added/);
    const store = new Store(openDatabase(path));
    assert.equal(store.nodes.exists("survivor"), true);
    store.close();
  });
});

describe("users and OAuth clients", () => {
  test("user names are unique regardless of case and only the hash is stored", () => {
    const store = new Store(openDatabase(freshPath()));
    const anna = store.users.add("Anna", "scrypt$hash-1", 1000);
    assert.equal(anna?.name, "Anna");
    assert.equal(store.users.add("anna", "scrypt$hash-2", 2000), undefined, "same name in another case");
    assert.equal(store.users.get("ANNA")?.id, anna?.id);
    assert.deepEqual(store.users.credentials("anna"), { id: anna?.id, passwordHash: "scrypt$hash-1" });
    assert.deepEqual(store.users.list(), [{ id: anna?.id, name: "Anna", createdAt: 1000, passwordChangedAt: 1000 }]);
    assert.throws(() => store.users.add("no spaces", "h", 1), StoreError);
    assert.throws(() => store.users.add("x".repeat(65), "h", 1), StoreError);
    store.close();
  });

  test("a password change and a removal tell the credentials listeners, inside the change", () => {
    const store = new Store(openDatabase(freshPath()));
    const user = store.users.add("bob@example.org", "h1", 1000);
    const seen: Array<[string, string]> = [];
    store.users.onCredentialsChanged((userId, change) => seen.push([userId, change]));
    assert.equal(store.users.setPassword("BOB@example.org", "h2", 2000), true);
    assert.equal(store.users.get("bob@example.org")?.passwordChangedAt, 2000);
    assert.equal(store.users.credentials("bob@example.org")?.passwordHash, "h2");
    assert.equal(store.users.setPassword("nobody", "h3", 3000), false);
    assert.equal(store.users.remove("bob@example.org"), true);
    assert.equal(store.users.remove("bob@example.org"), false);
    assert.deepEqual(seen, [
      [user?.id, "password_changed"],
      [user?.id, "removed"],
    ]);
    store.close();
  });

  test("a listener that fails undoes the change it was told about", () => {
    const store = new Store(openDatabase(freshPath()));
    store.users.add("carol", "h1", 1000);
    store.users.onCredentialsChanged(() => {
      throw new Error("cannot revoke");
    });
    assert.throws(() => store.users.setPassword("carol", "h2", 2000), /cannot revoke/);
    assert.equal(store.users.credentials("carol")?.passwordHash, "h1");
    assert.throws(() => store.users.remove("carol"), /cannot revoke/);
    assert.ok(store.users.get("carol"));
    store.close();
  });

  test("a rehash replaces only the hash it was computed from and revokes nothing", () => {
    const store = new Store(openDatabase(freshPath()));
    const user = store.users.add("dave", "old", 1000);
    let told = 0;
    store.users.onCredentialsChanged(() => told++);
    assert.equal(store.users.rehash(user?.id as string, "old", "stronger"), true);
    assert.equal(store.users.rehash(user?.id as string, "old", "stale"), false, "changed meanwhile");
    assert.equal(store.users.credentials("dave")?.passwordHash, "stronger");
    assert.equal(store.users.get("dave")?.passwordChangedAt, 1000);
    assert.equal(told, 0);
    store.close();
  });

  test("OAuth clients keep a hash of their secret and verify it", () => {
    const store = new Store(openDatabase(freshPath()));
    const secret = "s3cr3t-0123456789abcdefghijklmnopqrstuvwxyz";
    const client = {
      id: "hearth-google-abc",
      platform: "google" as const,
      label: "Google",
      secretHash: hashSecret(secret),
      redirectUris: ["https://oauth-redirect.googleusercontent.com/r/my-project"],
    };
    assert.equal(store.oauthClients.add(client, 1000), true);
    assert.equal(store.oauthClients.add(client, 2000), false, "the id is taken");
    assert.deepEqual(store.oauthClients.get("hearth-google-abc"), {
      id: "hearth-google-abc",
      platform: "google",
      label: "Google",
      redirectUris: ["https://oauth-redirect.googleusercontent.com/r/my-project"],
      pkce: "optional",
      createdAt: 1000,
    });
    assert.equal(store.oauthClients.verifySecret("hearth-google-abc", secret), true);
    assert.equal(store.oauthClients.verifySecret("hearth-google-abc", `${secret}x`), false);
    assert.equal(store.oauthClients.verifySecret("hearth-unknown", secret), false);
    const dump = JSON.stringify(store.db.prepare("SELECT * FROM oauth_clients").all());
    assert.ok(!dump.includes(secret), "the secret itself is never stored");
    const removed: string[] = [];
    store.oauthClients.onRemoved((id) => removed.push(id));
    assert.equal(store.oauthClients.remove("hearth-google-abc"), true);
    assert.equal(store.oauthClients.remove("hearth-google-abc"), false);
    assert.deepEqual(removed, ["hearth-google-abc"]);
    assert.deepEqual(store.oauthClients.list(), []);
    store.close();
  });
});
