/**
 * `hearth backup` as an administrator runs it: a child process copying the database of a daemon that keeps
 * writing (a node reporting, commands, users added), and the restore procedure of docs/deploy.md carried out
 * on the copy: the restored database is whole (integrity_check, foreign_key_check, the latest schema), holds
 * a consistent moment of the writes, and a new daemon on it serves the node (which logs in with its old
 * password) and the user (who signs in through the linking pages). Also: a data dir without a daemon, an
 * existing file (refused without --force), destinations that cannot be written (exit 1, nothing left
 * behind), a destination inside the data dir, and what a restored backup from an older or a newer Hearth
 * does at start.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { loadConfig } from "../../src/config/index.ts";
import { Daemon } from "../../src/daemon.ts";
import { addNode, type NodeCredentials } from "../../src/devices/node-registry.ts";
import { createLogger } from "../../src/log.ts";
import { addClient, addUser } from "../../src/oauth/accounts.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { LATEST_SCHEMA_VERSION, Store, StoreError } from "../../src/store/index.ts";
import { LogCapture, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, Cleanup, connectNode, listDevices } from "../helpers/integration.ts";
import { linkThroughPages, type PageClient } from "../helpers/oauth-pages.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const FROZEN_V1 = readFileSync(new URL("../fixtures/schema-v1.sql", import.meta.url), "utf8");
const PASSWORD = "correct horse battery staple";
/** The stored scrypt string carries its cost, so the daemon verifies this user's password quickly too. */
const fastHasher = new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } });

interface BackupJson {
  file: string;
  bytes: number;
  schema_version: number;
  integrity: string;
  foreign_key_violations: number;
  counts: { nodes: number; devices: number; users: number; clients: number };
  pages: number;
  restarts: number;
  elapsed_ms: number;
}

function cliEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("HEARTH_")) delete env[key];
  return { ...env, HEARTH_DATA_DIR: dataDir };
}

function backup(dataDir: string, ...args: string[]) {
  return runProcess(process.execPath, [BIN, "backup", ...args], { env: cliEnv(dataDir) });
}

/** What a restored database must be, whatever happened while it was copied. */
function assertWhole(path: string): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    assert.deepEqual(db.pragma("integrity_check"), [{ integrity_check: "ok" }]);
    assert.deepEqual(db.pragma("foreign_key_check"), []);
    assert.equal(db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
    // One self-contained file: nothing of it lives in a -wal next to it.
    assert.equal(db.pragma("journal_mode", { simple: true }), "delete");
  } finally {
    db.close();
  }
}

/** The restore procedure of docs/deploy.md, minus systemctl: the copy in place, mode 0600, no stale WAL. */
function restoreInto(dataDir: string, backupFile: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const target = join(dataDir, "hearth.db");
  copyFileSync(backupFile, target);
  chmodSync(target, 0o600);
  for (const stale of [`${target}-wal`, `${target}-shm`]) rmSync(stale, { force: true });
}

async function startDaemon(dataDir: string): Promise<{ daemon: Daemon; logs: LogCapture }> {
  const { config } = loadConfig({
    env: {},
    overrides: { dataDir, "http.port": 0, "mqtt.port": 0, "commands.timeoutMs": 1500, logLevel: "warn" },
  });
  const logs = new LogCapture();
  return { daemon: await Daemon.start(config, createLogger(config.logLevel, logs)), logs };
}

function partialFiles(folder: string): string[] {
  return readdirSync(folder).filter((name) => name.includes(".partial-"));
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "hearth-backup-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe("hearth backup of a running daemon that keeps writing", () => {
  const cleanup = new Cleanup();
  let bridge: TestBridge;
  let sim: SimNode;
  let credentials: NodeCredentials;
  let client: PageClient;

  before(async () => {
    bridge = cleanup.add(await TestBridge.start("embedded", { settings: { logLevel: "warn" } }), (b) => b.stop());
    const store = bridge.daemon.store;
    await addUser(store, "alice", PASSWORD, { hasher: fastHasher });
    const added = addClient(store, { platform: "alexa", vendorId: "M2BACKUPTEST" });
    client = { id: added.client.id, secret: added.secret, redirectUri: added.client.redirectUris[0] as string };
    const connected = await addAndConnectNode(bridge, "backup-house-1", { devices: ["light", "switch", "sensor"] });
    sim = cleanup.add(connected.sim, (s) => s.close());
    credentials = connected.credentials;
    // Some bulk, so that the copy takes several steps of pages rather than one.
    const audit = store.db.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        store.audit.record({ actor: "test", action: "bulk", outcome: "ok", detail: `row ${i} ${"x".repeat(150)}` }, i);
      }
    });
    audit();
  });

  after(() => cleanup.run());

  test("the copy is whole and consistent, and a new daemon serves its node and user", async () => {
    const store = bridge.daemon.store;
    const hash = await fastHasher.hash("during-the-backup");
    let writing = true;
    let added = 0;
    let commands = 0;
    // Writes of every kind the daemon makes, as fast as they come, until the backup has finished: users
    // added one transaction each (durable), the node's reports (write-behind), commands and their log.
    const writer = (async () => {
      while (writing) {
        store.users.add(`during-${added}`, hash, Date.now());
        added++;
        await sim.press("switch", { on: added % 2 === 0 });
        if (added % 4 === 0) {
          const answer = await bridge.api("POST", "/api/v1/devices/backup-house-1.light/commands", {
            params: { on: added % 8 === 0 },
          });
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          commands++;
        }
      }
    })();
    const file = join(root, "running.db");
    let result: Awaited<ReturnType<typeof backup>>;
    try {
      result = await backup(bridge.dataDir, file, "--json");
    } finally {
      writing = false;
      await writer;
    }
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
    const printed = JSON.parse(result.stdout) as BackupJson;
    assert.equal(printed.file, file);
    assert.equal(printed.integrity, "ok");
    assert.equal(printed.schema_version, LATEST_SCHEMA_VERSION);
    assert.equal(printed.foreign_key_violations, 0);
    assert.equal(printed.bytes, statSync(file).size);
    assert.ok(printed.pages > 256, `${printed.pages} pages: the copy took several steps`);
    assert.equal(printed.counts.nodes, 1);
    assert.equal(printed.counts.devices, 3);
    assert.equal(printed.counts.clients, 1);
    assert.ok(printed.counts.users >= 1);
    assert.ok(printed.elapsed_ms >= 0);
    assert.ok(added > 0 && commands > 0, "writes went on during the backup");
    assert.equal(statSync(file).mode & 0o777, 0o600, "the backup is readable by its owner only");
    assert.deepEqual(partialFiles(root), []);
    assertWhole(file);

    // A consistent moment: the users added one transaction each are a prefix of the sequence, no gaps.
    const copy = new Database(file, { readonly: true });
    const names = (copy.prepare("SELECT name FROM users WHERE name LIKE 'during-%'").all() as Array<{ name: string }>)
      .map((row) => Number(row.name.slice("during-".length)))
      .sort((a, b) => a - b);
    copy.close();
    assert.deepEqual(
      names,
      names.map((_, i) => i),
      "the users in the copy are the first n added",
    );
    assert.equal(printed.counts.users, names.length + 1);

    // The restore procedure, on a new machine: a fresh data dir and a new daemon.
    const dataDir = join(root, "restored");
    restoreInto(dataDir, file);
    const { daemon } = await startDaemon(dataDir);
    cleanup.add(daemon, (d) => d.stop());
    assert.equal(statSync(join(dataDir, "hearth.db")).mode & 0o777, 0o600);
    assert.equal(daemon.store.db.pragma("journal_mode", { simple: true }), "wal", "Hearth runs the restore in WAL");
    assert.ok(daemon.store.users.get("alice"));
    // The node logs in to the new daemon with the password it had, and its devices come back online.
    const restored = asBridge(daemon);
    const moved = cleanup.add(
      await connectNode(restored, credentials, { devices: ["light", "switch", "sensor"] }),
      (s) => s.close(),
    );
    const devices = await listDevices(restored, "backup-house-1");
    assert.ok(moved.connected);
    assert.deepEqual(devices.map((d) => d.id).sort(), [
      "backup-house-1.light",
      "backup-house-1.sensor",
      "backup-house-1.switch",
    ]);
    // And the user signs in through the linking pages with her password.
    const link = await linkThroughPages(daemon.httpUrl, client, "alice", PASSWORD);
    assert.ok(link.accessToken.length > 20);
  });
});

/**
 * A daemon started outside TestBridge, with the part of TestBridge's shape the integration helpers use
 * (`api` and `mqttUrl`), so that connectNode and listDevices work on it.
 */
function asBridge(daemon: Daemon): TestBridge {
  const token = daemon.store.adminTokens.create("backup-test", Date.now()).token;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${daemon.httpUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
  };
  return { api, mqttUrl: daemon.mqttUrl, httpUrl: daemon.httpUrl } as unknown as TestBridge;
}

describe("hearth backup without a daemon, and what it refuses", () => {
  let dataDir: string;
  let out: string;

  before(() => {
    dataDir = join(root, "quiet");
    out = join(root, "out");
    mkdirSync(out);
    const store = Store.open(dataDir);
    addNode(store, loadConfig({ env: {}, overrides: { dataDir } }).config, "quiet-node-1");
    store.close();
  });

  test("a data dir without a running Hearth backs up the same way, and prints what it copied", async () => {
    const file = join(out, "quiet.db");
    const result = await backup(dataDir, file);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Backed up ${join(dataDir, "hearth.db")} to ${file}$`, "m"));
    assert.match(result.stdout, new RegExp(`schema version\\s+${LATEST_SCHEMA_VERSION}$`, "m"));
    assert.match(result.stdout, /integrity\s+ok$/m);
    assert.match(result.stdout, /contents\s+1 node, 0 devices, 0 users, 0 clients$/m);
    assert.match(result.stdout, /took\s+[\d.]+ ms/);
    assert.match(result.stdout, /holds secrets/);
    assertWhole(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test("an existing file is refused without --force and replaced with it", async () => {
    const file = join(out, "existing.db");
    writeFileSync(file, "keep me");
    const refused = await backup(dataDir, file);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, `hearth: ${file} exists; pass --force to replace it\n`);
    assert.equal(readFileSync(file, "utf8"), "keep me");
    const forced = await backup(dataDir, file, "--force", "--json");
    assert.equal(forced.status, 0, forced.stderr);
    assertWhole(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(partialFiles(out), []);
  });

  test("a destination that cannot be written: a clear error, exit 1, no file left behind", async () => {
    const missing = await backup(dataDir, join(out, "no-such-folder", "x.db"));
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /^hearth: cannot write the backup to .*no-such-folder\/x\.db: .*no-such-folder does not exist\n$/,
    );
    const file = join(out, "a-file");
    writeFileSync(file, "");
    const notFolder = await backup(dataDir, join(file, "x.db"));
    assert.equal(notFolder.status, 1);
    assert.match(notFolder.stderr, /is not a folder\n$/);
    // /proc accepts no new files, even from root.
    const proc = await backup(dataDir, "/proc/hearth-backup.db");
    assert.equal(proc.status, 1);
    assert.match(proc.stderr, /^hearth: cannot write the backup to \/proc\/hearth-backup\.db: /);
    assert.ok(!existsSync("/proc/hearth-backup.db"));
    assert.deepEqual(partialFiles(out), []);
    assert.ok(!existsSync(join(out, "no-such-folder")));
  });

  test("a destination inside the data dir is refused, and so is a data dir without a database", async () => {
    const inside = await backup(dataDir, join(dataDir, "copy.db"));
    assert.equal(inside.status, 1);
    assert.match(inside.stderr, /would be inside the data dir/);
    assert.ok(!existsSync(join(dataDir, "copy.db")));
    const itself = await backup(dataDir, join(dataDir, "hearth.db"), "--force");
    assert.equal(itself.status, 1);
    assert.match(itself.stderr, /would be inside the data dir/);
    const empty = await backup(join(root, "no-data-here"), join(out, "nothing.db"));
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /there is no database at .*no-data-here\/hearth\.db/);
    assert.ok(!existsSync(join(root, "no-data-here")), "the data dir is not created");
    assert.ok(!existsSync(join(out, "nothing.db")));
  });

  test("a restored backup of an older Hearth is migrated at start; one of a newer Hearth is refused", async () => {
    const old = join(out, "v1.db");
    const v1 = new Database(old);
    v1.exec(FROZEN_V1);
    v1.pragma("user_version = 1");
    v1.close();
    const olderDir = join(root, "restored-older");
    restoreInto(olderDir, old);
    const { daemon } = await startDaemon(olderDir);
    assert.equal(daemon.store.db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
    await daemon.stop();

    const newer = join(out, "newer.db");
    const fromNewer = await backup(dataDir, newer);
    assert.equal(fromNewer.status, 0, fromNewer.stderr);
    const db = new Database(newer);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    const newerDir = join(root, "restored-newer");
    restoreInto(newerDir, newer);
    await assert.rejects(
      startDaemon(newerDir),
      (error: Error) => error instanceof StoreError && /newer than this Hearth understands/.test(error.message),
    );
    const again = await backup(newerDir, join(out, "of-newer.db"));
    assert.equal(again.status, 1);
    assert.match(again.stderr, /newer than this Hearth understands/);
  });
});
