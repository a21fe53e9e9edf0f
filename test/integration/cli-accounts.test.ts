/**
 * `hearth user …` and `hearth client …` as a user runs them: real processes on a temp data dir, with
 * production scrypt parameters (about half a second per password). Secrets appear on stdout once and
 * nowhere in the data dir.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { hashSecret } from "../../src/security/secrets.ts";
import { databasePath } from "../../src/store/index.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

let dataDir: string;
let env: NodeJS.ProcessEnv;

before(() => {
  dataDir = mkdtempSync(join(tmpdir(), "hearth-accounts-"));
  env = { HEARTH_DATA_DIR: dataDir };
  for (const key of Object.keys(process.env))
    if (key.startsWith("HEARTH_") && key !== "HEARTH_DATA_DIR") env[key] = undefined;
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string, extraEnv: NodeJS.ProcessEnv = {}): Result {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env, ...extraEnv },
    encoding: "utf8",
    // A pipe, never the test runner's terminal: the CLI must see a non-TTY stdin.
    input: input ?? "",
    timeout: 30_000,
  });
}

/** The same, without blocking: independent refusals run side by side to keep the file quick. */
function runAsync(args: string[], input = "", extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> {
  return runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, ...extraEnv }, input });
}

function query<T>(sql: string): T[] {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Every byte of every file in the data dir (database, WAL, anything else). */
function dataDirContents(): Buffer {
  return Buffer.concat(
    readdirSync(dataDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(entry.parentPath, entry.name))),
  );
}

describe("hearth user", () => {
  const PASSWORD = "a long test password";

  test("add with --password-stdin, then list without any hash", async () => {
    const added = run(["user", "add", "alice", "--password-stdin"], `${PASSWORD}\n`);
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /Added user alice/);
    const [row] = query<{ password_hash: string }>("SELECT password_hash FROM users WHERE name = 'alice'");
    assert.match(row?.password_hash ?? "", /^scrypt\$17\$8\$1\$/);

    const [table, json] = await Promise.all([runAsync(["user", "list"]), runAsync(["user", "list", "--json"])]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+CREATED\s+PASSWORD CHANGED$/m);
    assert.match(table.stdout, /^alice\s/m);
    const users = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(users[0] ?? {}).sort(), ["created_at", "id", "name", "password_changed_at"]);
    assert.doesNotMatch(table.stdout + json.stdout, /scrypt|password_hash/);
  });

  test("a taken name, a short password and a stdin that is not a terminal are refused; nothing is added", async () => {
    const [taken, short, noTty] = await Promise.all([
      runAsync(["user", "add", "ALICE", "--password-stdin"], `${PASSWORD}\n`),
      runAsync(["user", "add", "bob", "--password-stdin"], "short\n"),
      runAsync(["user", "add", "carol"], `${PASSWORD}\n`),
    ]);
    for (const result of [taken, short, noTty]) assert.equal(result.status, 1, result.stderr);
    assert.match(taken.stderr, /^hearth: user "alice" already exists$/m);
    assert.match(short.stderr, /^hearth: the password is too short: it needs at least 10 characters, this one has 5$/m);
    assert.match(noTty.stderr, /standard input is not a terminal.*--password-stdin/);
    assert.deepEqual(query("SELECT name FROM users ORDER BY name"), [{ name: "alice" }]);
  });

  test("passwd replaces the stored hash", () => {
    const [before] = query<{ password_hash: string; password_changed_at: number }>("SELECT * FROM users");
    const result = run(["user", "passwd", "Alice", "--password-stdin"], "another long password\n");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Changed the password of alice/);
    const [after] = query<{ password_hash: string; password_changed_at: number }>("SELECT * FROM users");
    assert.match(after?.password_hash ?? "", /^scrypt\$17\$8\$1\$/);
    assert.notEqual(after?.password_hash, before?.password_hash);
    assert.ok((after?.password_changed_at ?? 0) >= (before?.password_changed_at ?? Number.POSITIVE_INFINITY));
  });

  test("remove deletes the user; a second remove says there is no such user", () => {
    const removed = run(["user", "remove", "alice"]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, /Removed user alice/);
    assert.deepEqual(query("SELECT * FROM users"), []);
    const again = run(["user", "remove", "alice"]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no user "alice"/);
  });
});

describe("hearth client", () => {
  interface Created {
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
  }

  function parseCreated(result: Result): Created {
    assert.equal(result.status, 0, result.stderr);
    const created = JSON.parse(result.stdout) as Created;
    assert.deepEqual(Object.keys(created), ["client_id", "client_secret", "redirect_uris"]);
    assert.match(created.client_secret, /^[A-Za-z0-9_-]{43}$/);
    return created;
  }

  const secrets: string[] = [];

  test("add alexa, google and custom --json print the id, the secret and the exact redirect URIs", async () => {
    const results = await Promise.all([
      runAsync(["client", "add", "alexa", "--vendor-id", "ABCDEFGHIJ", "--json"]),
      runAsync(["client", "add", "google", "--project-id", "my-home-1", "--label", "Google Home", "--json"]),
      runAsync([
        "client",
        "add",
        "custom",
        "--redirect-uri",
        "https://app.example.org/cb",
        "http://localhost:8081/cb",
        "--json",
      ]),
    ]);
    const [alexa, google, custom] = results.map(parseCreated) as [Created, Created, Created];
    secrets.push(alexa.client_secret, google.client_secret, custom.client_secret);
    assert.match(alexa.client_id, /^hearth-alexa-[a-z0-9]{10}$/);
    assert.deepEqual(alexa.redirect_uris, [
      "https://pitangui.amazon.com/api/skill/link/ABCDEFGHIJ",
      "https://layla.amazon.com/api/skill/link/ABCDEFGHIJ",
      "https://alexa.amazon.co.jp/api/skill/link/ABCDEFGHIJ",
    ]);
    assert.match(google.client_id, /^hearth-google-[a-z0-9]{10}$/);
    assert.deepEqual(google.redirect_uris, [
      "https://oauth-redirect.googleusercontent.com/r/my-home-1",
      "https://oauth-redirect-sandbox.googleusercontent.com/r/my-home-1",
    ]);
    assert.match(custom.client_id, /^hearth-custom-[a-z0-9]{10}$/);
    assert.deepEqual(custom.redirect_uris, ["https://app.example.org/cb", "http://localhost:8081/cb"]);
  });

  test("the data dir holds only hashes of the secrets", () => {
    const contents = dataDirContents();
    assert.equal(secrets.length, 3);
    for (const secret of secrets) {
      assert.equal(contents.includes(secret), false, "a client secret is in the data dir");
      assert.equal(contents.includes(hashSecret(secret)), true, "its hash is stored");
    }
  });

  test("bad input is refused with the reason and adds nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["alexa", "--vendor-id", "abc"], /not an Amazon Vendor ID/],
      [["alexa", "--vendor-id", "ABCDEFGHIJ", "--project-id", "my-home-1"], /--project-id is not for alexa/],
      [["siri"], /Allowed choices are alexa, google, custom/],
    ];
    const results = await Promise.all(cases.map(([args]) => runAsync(["client", "add", ...args])));
    for (const [i, [args, reason]] of cases.entries()) {
      assert.notEqual(results[i]?.status, 0, args.join(" "));
      assert.match(results[i]?.stderr ?? "", reason, args.join(" "));
    }
    assert.equal(query("SELECT id FROM oauth_clients").length, 3);
  });

  test("add for humans says which console field each value goes in", async () => {
    const [google, alexa] = await Promise.all([
      runAsync(["client", "add", "google", "--project-id", "my-home-1"]),
      runAsync(["client", "add", "alexa", "--vendor-id", "ABCDEFGHIJ"], "", {
        HEARTH_PUBLIC_URL: "https://example.org/hearth/",
      }),
    ]);
    assert.equal(google.status, 0, google.stderr);
    assert.match(google.stderr, /^warning: publicUrl is not set/m);
    assert.match(google.stdout, /Client ID\s+hearth-google-[a-z0-9]{10}$/m);
    assert.match(google.stdout, /Client secret\s+[A-Za-z0-9_-]{43}$/m);
    assert.match(google.stdout, /Authorization URL\s+https:\/\/<public-url>\/oauth\/authorize$/m);
    assert.match(google.stdout, /Token URL\s+https:\/\/<public-url>\/oauth\/token$/m);
    assert.match(google.stdout, /^ {2}https:\/\/oauth-redirect\.googleusercontent\.com\/r\/my-home-1$/m);
    assert.equal(alexa.status, 0, alexa.stderr);
    assert.equal(alexa.stderr, "", "no warning once publicUrl is set");
    assert.match(alexa.stdout, /Your Web Authorization URI\s+https:\/\/example\.org\/hearth\/oauth\/authorize$/m);
    assert.match(alexa.stdout, /Access Token URI\s+https:\/\/example\.org\/hearth\/oauth\/token$/m);
    assert.match(alexa.stdout, /Your Client ID\s+hearth-alexa-[a-z0-9]{10}$/m);
    assert.match(alexa.stdout, /Your Secret\s+[A-Za-z0-9_-]{43}$/m);
    assert.match(alexa.stdout, /Your Authentication Scheme\s+HTTP Basic/);
    assert.match(alexa.stdout, /^ {2}https:\/\/layla\.amazon\.com\/api\/skill\/link\/ABCDEFGHIJ$/m);
  });

  test("list shows the clients without secrets, and remove deletes one", async () => {
    const [json, table] = await Promise.all([runAsync(["client", "list", "--json"]), runAsync(["client", "list"])]);
    assert.equal(json.status, 0, json.stderr);
    const clients = JSON.parse(json.stdout) as Array<{ client_id: string; platform: string; label: string }>;
    assert.equal(clients.length, 5);
    assert.deepEqual(clients.map((c) => c.platform).sort(), ["alexa", "alexa", "custom", "google", "google"]);
    assert.ok(clients.some((c) => c.label === "Google Home"));
    for (const secret of secrets) assert.equal(json.stdout.includes(secret), false);
    assert.match(table.stdout, /^CLIENT ID\s+PLATFORM\s+LABEL\s+REDIRECT URIS\s+CREATED$/m);

    const target = clients[0]?.client_id as string;
    const removed = run(["client", "remove", target]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`Removed OAuth client ${target}`));
    assert.equal(query(`SELECT id FROM oauth_clients WHERE id = '${target}'`).length, 0);
    const again = run(["client", "remove", target]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no OAuth client/);
  });
});
