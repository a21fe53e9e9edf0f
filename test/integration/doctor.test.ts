/**
 * `hearth doctor` as a user runs it: a child process on real files, against Debian's mosquitto, the fake
 * Amazon and Google, and HTTPS servers with certificates made by openssl for the test. First a healthy
 * set-up passes; then each broken one gives its error (or warning) with its fix, and exit status 1 for
 * errors. A second suite runs the doctor next to a running daemon.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { BRIDGE_USERNAME } from "../../src/daemon.ts";
import type { Finding, Report } from "../../src/doctor/index.ts";
import { addClient } from "../../src/oauth/accounts.ts";
import { generateSecret, hashSecret } from "../../src/security/secrets.ts";
import { DATABASE_FILE, LATEST_SCHEMA_VERSION, Store } from "../../src/store/index.ts";
import { VERSION } from "../../src/version.ts";
import { TestBridge } from "../helpers/bridge.ts";
import { type KeyPair, startHttps, TestCertificates } from "../helpers/certificates.ts";
import { FakeAmazon } from "../helpers/fake-amazon.ts";
import { FakeGoogle } from "../helpers/fake-google.ts";
import { Cleanup } from "../helpers/integration.ts";
import { linkAccount } from "../helpers/linking.ts";
import { type RunningMosquitto, startMosquitto } from "../helpers/mosquitto.ts";
import { freePort } from "../helpers/ports.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const NODE_ID = "kitchen-1";
const ALEXA_CLIENT_ID = "amzn1.application-oa2-client.doctor";
const ALEXA_CLIENT_SECRET = "doctor-skill-messaging-secret";
/** The project of the fake Google's keys, so that the Google client and its key belong together. */
const GOOGLE_PROJECT = "hearth-test";

type Env = Record<string, string | undefined>;

interface DoctorRun {
  status: number | null;
  report: Report;
  stdout: string;
  stderr: string;
}

/** The process environment without any HEARTH_* variable, so the test decides every setting. */
function baseEnv(): Env {
  const env: Env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("HEARTH_") || key === "NODE_EXTRA_CA_CERTS") delete env[key];
  return env;
}

async function doctor(env: Env, ...args: string[]): Promise<DoctorRun> {
  const result = await runProcess(process.execPath, [BIN, "doctor", "--json", ...args], {
    env: env as NodeJS.ProcessEnv,
  });
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    assert.fail(`doctor printed no JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return { status: result.status, report, stdout: result.stdout, stderr: result.stderr };
}

function describeReport(report: Report): string {
  return report.checks.map((c) => `${c.status} ${c.id}: ${c.message}${c.fix ? ` [fix: ${c.fix}]` : ""}`).join("\n");
}

/** The one finding of `id` with `status` whose message matches; fails with the whole report otherwise. */
function expectFinding(run: DoctorRun, id: string, status: Finding["status"], message: RegExp): Finding {
  const found = run.report.checks.find((c) => c.id === id && c.status === status && message.test(c.message));
  assert.ok(found, `no ${status} ${id} matching ${message} in:\n${describeReport(run.report)}`);
  if (status !== "ok") assert.ok(found.fix && found.fix.length > 0, `${id} has no fix`);
  return found;
}

function problems(run: DoctorRun): Finding[] {
  return run.report.checks.filter((c) => c.status !== "ok");
}

describe("hearth doctor", () => {
  const cleanup = new Cleanup();
  let dir: string;
  let dataDir: string;
  let amazon: FakeAmazon;
  let google: FakeGoogle;
  let mosquitto: RunningMosquitto;
  let certificates: TestCertificates;
  let keyPath: string;
  let env: Env;
  let siteUrl: string;

  const healthz = (response: ServerResponse) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ status: "ok", version: VERSION, database: { ok: true }, mqtt: { connected: true } }));
  };

  async function site(pair: KeyPair): Promise<string> {
    const server = await startHttps(pair, (request, response) => {
      if (request.url === "/healthz") healthz(response);
      else response.writeHead(404).end();
    });
    cleanup.add(server, (s) => s.stop());
    return server.url;
  }

  /** A copy of the healthy data dir, for a set-up to break. */
  function copyOfData(name: string): string {
    const copy = join(dir, name);
    cpSync(dataDir, copy, { recursive: true });
    chmodSync(copy, 0o700);
    return copy;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "hearth-doctor-"));
    cleanup.add(dir, (d) => rmSync(d, { recursive: true, force: true }));
    amazon = cleanup.add(
      await FakeAmazon.start({ clientId: ALEXA_CLIENT_ID, clientSecret: ALEXA_CLIENT_SECRET }),
      (a) => a.stop(),
    );
    google = cleanup.add(await FakeGoogle.start(), (g) => g.stop());
    const keys = join(dir, "keys");
    mkdirSync(keys, { mode: 0o700 });
    keyPath = google.writeServiceAccountKey(keys);
    certificates = TestCertificates.create(join(dir, "tls"));
    siteUrl = await site(certificates.issue("public", 365));

    const bridgePassword = generateSecret();
    mosquitto = cleanup.add(
      await startMosquitto({ users: [{ username: BRIDGE_USERNAME, password: bridgePassword }] }),
      (m) => m.stop(),
    );
    const pidFile = join(dir, "mosquitto.pid");
    writeFileSync(pidFile, `${mosquitto.pid}\n`);

    // What a working installation holds: an Alexa and a Google user linked, the Alexa one with its event
    // grant and a directive seen, and one node that has connected, with its line in the password file.
    dataDir = join(dir, "data");
    const store = Store.open(dataDir);
    try {
      addClient(store, { platform: "google", projectId: GOOGLE_PROJECT });
      const alice = await linkAccount(store, "alice", "alexa");
      await linkAccount(store, "bob", "google");
      const now = Date.now();
      store.grants.recordRequest(alice.userId, "alexa", now);
      store.alexaGrants.save(
        { userId: alice.userId, accessToken: "Atza|a", refreshToken: "Atzr|r", expiresAt: now + 3_600_000 },
        now,
      );
      const nodePassword = generateSecret();
      store.nodes.add(NODE_ID, hashSecret(nodePassword), now);
      store.nodes.setOnline(NODE_ID, false, now);
      await mosquitto.addUser({ username: NODE_ID, password: nodePassword });
    } finally {
      store.close();
    }

    env = {
      ...baseEnv(),
      HEARTH_DATA_DIR: dataDir,
      HEARTH_HTTP_PORT: String(await freePort()),
      HEARTH_PUBLIC_URL: siteUrl,
      HEARTH_MQTT_URL: mosquitto.url,
      HEARTH_MQTT_USERNAME: BRIDGE_USERNAME,
      HEARTH_MQTT_PASSWORD: bridgePassword,
      HEARTH_MQTT_NODE_ACCOUNTS_FILE: mosquitto.passwordFile,
      HEARTH_MQTT_RELOAD_PID_FILE: pidFile,
      HEARTH_ALEXA_CLIENT_ID: ALEXA_CLIENT_ID,
      HEARTH_ALEXA_CLIENT_SECRET: ALEXA_CLIENT_SECRET,
      HEARTH_ALEXA_LWA_TOKEN_URL: amazon.lwaTokenUrl,
      HEARTH_ALEXA_FORWARDER_SECRET: "a-long-random-forwarder-secret",
      HEARTH_GOOGLE_SERVICE_ACCOUNT_KEY_PATH: keyPath,
      HEARTH_GOOGLE_HOMEGRAPH_URL: google.homegraphUrl,
      NODE_EXTRA_CA_CERTS: certificates.caFile,
    };
  });

  after(() => cleanup.run());

  test("a healthy set-up passes: exit 0, every check ok but the stopped daemon", async () => {
    const run = await doctor(env);
    assert.equal(run.status, 0, describeReport(run.report));
    assert.deepEqual(
      problems(run).map((c) => `${c.status} ${c.id}`),
      ["warn hearth"],
      describeReport(run.report),
    );
    for (const id of [
      "config",
      "data-dir",
      "database",
      "broker",
      "broker.acl",
      "broker.anonymous",
      "mosquitto-accounts",
      "oauth-clients",
      "public-url",
      "public-url.tls",
      "public-url.healthz",
      "alexa",
      "alexa.lwa",
      "google",
      "google.homegraph",
      "nodes",
      "links",
    ]) {
      assert.ok(
        run.report.checks.some((c) => c.id === id && c.status === "ok"),
        `no ok ${id}:\n${describeReport(run.report)}`,
      );
    }
    // The probes left nothing behind: no refresh of alice's grant, no report for a real user.
    assert.ok(amazon.tokenRequests.every((r) => r.form.grant_type === "authorization_code"));
    assert.ok(google.reports.every((r) => r.agentUserId === "hearth-doctor-probe"));
  });

  test("--json prints {checks: [{id, status, message, fix?}], skipped: [{id, reason}]}", async () => {
    const run = await doctor(env);
    assert.deepEqual(Object.keys(run.report).sort(), ["checks", "skipped"]);
    for (const check of run.report.checks) {
      assert.equal(typeof check.id, "string");
      assert.ok(["ok", "warn", "error"].includes(check.status), check.status);
      assert.equal(typeof check.message, "string");
      if (check.status === "ok") assert.equal(check.fix, undefined, check.id);
      else assert.equal(typeof check.fix, "string", check.id);
      assert.deepEqual(
        Object.keys(check).filter((key) => !["id", "status", "message", "fix"].includes(key)),
        [],
      );
    }
    for (const skipped of run.report.skipped) assert.deepEqual(Object.keys(skipped).sort(), ["id", "reason"]);
  });

  test("without --json: one line per finding with its fix, a summary, the same exit status", async () => {
    const result = await runProcess(process.execPath, [BIN, "doctor"], {
      env: { ...env, HEARTH_ALEXA_CLIENT_SECRET: "wrong-secret" } as NodeJS.ProcessEnv,
    });
    assert.equal(result.status, 1);
    assert.match(result.stdout, /^ok +config +the configuration .* is valid$/m);
    assert.match(
      result.stdout,
      /^error +alexa\.lwa +the Skill Messaging credentials were refused: .* → fix: copy alexa\.clientId/m,
    );
    assert.match(result.stdout, /^\d+ ok, 1 warning\(s\), 1 error\(s\)$/m);
  });

  test("--offline skips the checks that leave the machine and sends nothing to Amazon or Google", async () => {
    const amazonBefore = amazon.tokenRequests.length;
    const googleBefore = google.tokenRequests.length + google.reports.length;
    const run = await doctor(env, "--offline");
    assert.equal(run.status, 0, describeReport(run.report));
    assert.deepEqual(
      run.report.skipped.filter((s) => s.reason === "--offline").map((s) => s.id),
      ["public-url.reach", "alexa.lwa", "google.homegraph"],
    );
    for (const id of ["public-url.tls", "public-url.healthz", "alexa.lwa", "google.homegraph"]) {
      assert.ok(!run.report.checks.some((c) => c.id === id), id);
    }
    assert.equal(amazon.tokenRequests.length, amazonBefore);
    assert.equal(google.tokenRequests.length + google.reports.length, googleBefore);
    // The broker is on this machine: it is still checked.
    expectFinding(run, "broker.acl", "ok", /probe came back/);
  });

  test("the doctor changes nothing: no WAL files appear, the database is the same", async () => {
    const before = statSync(join(dataDir, DATABASE_FILE));
    await doctor(env, "--offline");
    assert.throws(() => statSync(join(dataDir, `${DATABASE_FILE}-wal`)), /ENOENT/);
    assert.throws(() => statSync(join(dataDir, `${DATABASE_FILE}-shm`)), /ENOENT/);
    const after = statSync(join(dataDir, DATABASE_FILE));
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.size, before.size);
  });

  describe("the configuration", () => {
    test("an invalid value from the environment names the variable; the other checks are skipped", async () => {
      const run = await doctor({ ...env, HEARTH_HTTP_PORT: "70000" });
      assert.equal(run.status, 1);
      const found = expectFinding(run, "config", "error", /^http\.port: .*65535.*\(set by HEARTH_HTTP_PORT\)/);
      assert.match(found.fix as string, /change HEARTH_HTTP_PORT/);
      assert.deepEqual(
        run.report.checks.map((c) => c.id),
        ["config"],
      );
      assert.ok(run.report.skipped.every((s) => s.reason === "the configuration is invalid"));
    });

    test("an invalid value from the config file names the file", async () => {
      const file = join(dir, "bad.yaml");
      writeFileSync(file, "mqtt:\n  topicPrefix: 'hearth/#'\n");
      const run = await doctor(env, "-c", file);
      assert.equal(run.status, 1);
      const found = expectFinding(run, "config", "error", new RegExp(`^mqtt\\.topicPrefix: .*\\(set by ${file}\\)`));
      assert.match(found.fix as string, new RegExp(`change mqtt\\.topicPrefix in ${file}`));
    });

    test("development defaults are warnings with their fix", async () => {
      const run = await doctor({ ...env, HEARTH_LOG_LEVEL: "debug" }, "--offline");
      assert.equal(run.status, 0);
      const found = expectFinding(run, "config.defaults", "warn", /logLevel is debug/);
      assert.equal(found.fix, "use info in production");
    });
  });

  describe("files", () => {
    test("a data dir other users can read is an error with its chmod", async () => {
      const copy = copyOfData("data-open");
      chmodSync(copy, 0o755);
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "data-dir", "error", /open to other users \(mode 0755\)/);
      assert.equal(found.fix, `chmod 700 ${copy}`);
    });

    test("a damaged database file is an error, and the checks that read it are skipped", async () => {
      const copy = copyOfData("data-corrupt");
      const file = join(copy, DATABASE_FILE);
      const { size } = statSync(file);
      const fd = openSync(file, "r+");
      // Everything after the first page: the header and user_version stay readable, the tables do not.
      writeSync(fd, Buffer.alloc(size - 4096, 0x5a), 0, size - 4096, 4096);
      closeSync(fd);
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "database", "error", /is damaged: integrity_check says/);
      assert.match(found.fix as string, /restore the database from a backup/);
      assert.ok(run.report.skipped.some((s) => s.id === "nodes" && /damaged/.test(s.reason)));
    });

    test("a file that is not a database at all is an error", async () => {
      const copy = copyOfData("data-garbage");
      writeFileSync(join(copy, DATABASE_FILE), Buffer.alloc(8192, 0x41));
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      expectFinding(run, "database", "error", /cannot be read: file is not a database/);
    });

    test("a database from a newer Hearth is an error", async () => {
      const copy = copyOfData("data-newer");
      const db = new Database(join(copy, DATABASE_FILE));
      db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
      db.close();
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "database", "error", /Hearth is older than its database/);
      assert.match(found.fix as string, /restore the backup taken before the upgrade/);
    });

    test("a node without its line in the broker's password file is an error", async () => {
      const copy = copyOfData("data-extra-node");
      const store = Store.open(copy);
      store.nodes.add("porch-1", hashSecret(generateSecret()), Date.now());
      store.close();
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "mosquitto-accounts", "error", /no line in .* for: porch-1/);
      assert.match(found.fix as string, /hearth node add <id> --rotate/);
    });

    test("a reload pid file naming no process is an error", async () => {
      const pidFile = join(dir, "stale.pid");
      writeFileSync(pidFile, "999999\n");
      const run = await doctor({ ...env, HEARTH_MQTT_RELOAD_PID_FILE: pidFile }, "--offline");
      assert.equal(run.status, 1);
      expectFinding(run, "mosquitto-accounts", "error", /no process 999999/);
    });
  });

  describe("the broker", () => {
    test("a broker that is down is an error", async () => {
      const run = await doctor({ ...env, HEARTH_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}` }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "broker", "error", /no MQTT broker answers at .*ECONNREFUSED/);
      assert.match(found.fix as string, /start the broker/);
    });

    test("a wrong bridge password is an error that explains the CONNACK", async () => {
      const run = await doctor({ ...env, HEARTH_MQTT_PASSWORD: "not-the-password" }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "broker", "error", /refused the bridge's login .*CONNACK 5: not authorised/);
      assert.match(found.fix as string, /mosquitto_passwd -b/);
    });

    test("a broker that lets anonymous clients in is an error", async (t) => {
      const password = generateSecret();
      const open = await startMosquitto({
        users: [{ username: BRIDGE_USERNAME, password }],
        allowAnonymous: true,
      });
      t.after(() => open.stop());
      const run = await doctor(
        {
          ...env,
          HEARTH_MQTT_URL: open.url,
          HEARTH_MQTT_PASSWORD: password,
          HEARTH_MQTT_NODE_ACCOUNTS_FILE: undefined,
          HEARTH_MQTT_RELOAD_PID_FILE: undefined,
        },
        "--offline",
      );
      assert.equal(run.status, 1);
      expectFinding(run, "broker", "ok", /the bridge logs in/);
      const found = expectFinding(run, "broker.anonymous", "error", /accepts clients without credentials/);
      assert.match(found.fix as string, /allow_anonymous false/);
    });
  });

  describe("account linking", () => {
    test("a client with a redirect URI that is not the platform's is an error", async () => {
      const copy = copyOfData("data-redirect");
      const db = new Database(join(copy, DATABASE_FILE));
      db.prepare("UPDATE oauth_clients SET redirect_uris = ? WHERE platform = 'alexa'").run(
        JSON.stringify([
          "https://pitangui.amazon.com/api/skill/link/M2XHEARTH1",
          "https://layla.amazon.com/api/skill/link/M2XHEARTH1",
          "https://alexa.amazon.co.jp/api/skill/link/M2XHEARTH2",
        ]),
      );
      db.close();
      const run = await doctor({ ...env, HEARTH_DATA_DIR: copy }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(
        run,
        "oauth-clients",
        "error",
        /not Amazon's three for Vendor ID M2XHEARTH1: missing https:\/\/alexa\.amazon\.co\.jp\/api\/skill\/link\/M2XHEARTH1; not the platform's: .*M2XHEARTH2/,
      );
      assert.match(found.fix as string, /hearth client add alexa --vendor-id M2XHEARTH1/);
    });

    test("no client at all is a warning", async () => {
      const empty = join(dir, "data-empty");
      Store.open(empty).close();
      const run = await doctor({ ...env, HEARTH_DATA_DIR: empty }, "--offline");
      expectFinding(run, "oauth-clients", "warn", /no assistant linked yet/);
    });

    test("a plain-HTTP public URL while assistants are registered is an error", async () => {
      const run = await doctor({ ...env, HEARTH_PUBLIC_URL: "http://hearth.example.net" }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "public-url", "error", /plain HTTP while assistants are registered/);
      assert.match(found.fix as string, /TLS reverse proxy/);
    });
  });

  describe("the public URL's certificate", () => {
    test("a self-signed certificate is an error", async () => {
      const url = await site(certificates.selfSigned("self-signed"));
      const run = await doctor({ ...env, HEARTH_PUBLIC_URL: url });
      assert.equal(run.status, 1);
      const found = expectFinding(run, "public-url.tls", "error", /is self-signed/);
      assert.match(found.fix as string, /public CA/);
      assert.ok(
        !run.report.checks.some((c) => c.id === "public-url.healthz"),
        "healthz is not fetched past a bad certificate",
      );
    });

    test("a certificate that expires within 14 days is a warning", async () => {
      const url = await site(certificates.issue("expiring", 5));
      const run = await doctor({ ...env, HEARTH_PUBLIC_URL: url });
      assert.equal(run.status, 0, describeReport(run.report));
      const found = expectFinding(run, "public-url.tls", "warn", /expires in [45] day\(s\)/);
      assert.match(found.fix as string, /certbot renew/);
      expectFinding(run, "public-url.healthz", "ok", /reaches Hearth/);
    });

    test("a proxy that answers without Hearth behind it is an error", async () => {
      const server = await startHttps(certificates.issue("proxy", 365), (_request, response) => {
        response.writeHead(502).end("Bad Gateway");
      });
      cleanup.add(server, (s) => s.stop());
      const run = await doctor({ ...env, HEARTH_PUBLIC_URL: server.url });
      assert.equal(run.status, 1);
      const found = expectFinding(run, "public-url.healthz", "error", /answered HTTP 502/);
      assert.match(found.fix as string, /Hearth does not answer behind it/);
    });
  });

  describe("Alexa", () => {
    test("Login with Amazon refusing the credentials (invalid_client) is an error", async () => {
      const run = await doctor({ ...env, HEARTH_ALEXA_CLIENT_SECRET: "wrong-secret" });
      assert.equal(run.status, 1);
      const found = expectFinding(
        run,
        "alexa.lwa",
        "error",
        /Skill Messaging credentials were refused: .*invalid_client/,
      );
      assert.match(found.fix as string, /Send Alexa Events/);
    });

    test("Login with Amazon out of reach is an error of its own", async () => {
      const run = await doctor({
        ...env,
        HEARTH_ALEXA_LWA_TOKEN_URL: `http://127.0.0.1:${await freePort()}/auth/o2/token`,
      });
      assert.equal(run.status, 1);
      const found = expectFinding(run, "alexa.lwa", "error", /could not reach Login with Amazon/);
      assert.match(found.fix as string, /--offline/);
    });

    test("missing Skill Messaging credentials and forwarder secret are warnings", async () => {
      const run = await doctor(
        {
          ...env,
          HEARTH_ALEXA_CLIENT_ID: undefined,
          HEARTH_ALEXA_CLIENT_SECRET: undefined,
          HEARTH_ALEXA_FORWARDER_SECRET: undefined,
        },
        "--offline",
      );
      assert.equal(run.status, 0, describeReport(run.report));
      expectFinding(run, "alexa", "warn", /gets no ChangeReports/);
      expectFinding(run, "alexa", "warn", /forwarderSecret is not set/);
    });

    test("a client id that is not Login with Amazon's is an error", async () => {
      const run = await doctor({ ...env, HEARTH_ALEXA_CLIENT_ID: "M2XHEARTH1" }, "--offline");
      assert.equal(run.status, 1);
      expectFinding(run, "alexa", "error", /does not start with amzn1\.application-oa2-client\./);
    });
  });

  describe("Google", () => {
    test("a key file that does not exist is an error", async () => {
      const run = await doctor({ ...env, HEARTH_GOOGLE_SERVICE_ACCOUNT_KEY_PATH: join(dir, "nope.json") }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "google", "error", /the file does not exist/);
      assert.match(found.fix as string, /create a JSON key/);
    });

    test("a malformed key file is an error", async () => {
      const file = join(dir, "keys", "malformed.json");
      writeFileSync(file, JSON.stringify({ type: "service_account", client_email: "x@y", private_key: "nope" }), {
        mode: 0o600,
      });
      const run = await doctor({ ...env, HEARTH_GOOGLE_SERVICE_ACCOUNT_KEY_PATH: file }, "--offline");
      assert.equal(run.status, 1);
      expectFinding(run, "google", "error", /private_key is not a PEM private key/);
    });

    test("a key file every user can read is an error", async () => {
      const file = join(dir, "keys", "open.json");
      cpSync(keyPath, file);
      chmodSync(file, 0o644);
      const run = await doctor({ ...env, HEARTH_GOOGLE_SERVICE_ACCOUNT_KEY_PATH: file }, "--offline");
      assert.equal(run.status, 1);
      const found = expectFinding(run, "google", "error", /readable by every user/);
      assert.equal(found.fix, `chmod 600 ${file} (owned by the user Hearth runs as)`);
    });

    test("the token endpoint refusing the key is an error", async () => {
      google.queueResponse("token", 400);
      const run = await doctor(env);
      assert.equal(run.status, 1);
      const found = expectFinding(run, "google.homegraph", "error", /Google refused the service-account key/);
      assert.match(found.fix as string, /create a JSON key/);
    });

    test("HomeGraph's 403 PERMISSION_DENIED is an error pointing at the API and the service account", async () => {
      google.queueResponse("report", 403);
      const run = await doctor(env);
      assert.equal(run.status, 1);
      const found = expectFinding(run, "google.homegraph", "error", /403 PERMISSION_DENIED/);
      assert.match(found.fix as string, /enable the HomeGraph API/);
      assert.match(found.fix as string, /Service Account Token Creator/);
    });
  });
});

describe("hearth doctor next to a running daemon", () => {
  const cleanup = new Cleanup();
  let bridge: TestBridge;
  let env: Env;

  before(async () => {
    bridge = cleanup.add(await TestBridge.start("embedded"), (b) => b.stop());
    env = {
      ...baseEnv(),
      HEARTH_DATA_DIR: bridge.dataDir,
      HEARTH_URL: bridge.httpUrl,
      HEARTH_MQTT_PORT: String(bridge.daemon.broker?.port),
    };
  });

  after(() => cleanup.run());

  test("sees the daemon and its embedded broker, which refuses anonymous clients", async () => {
    const run = await doctor(env, "--offline");
    expectFinding(run, "hearth", "ok", new RegExp(`Hearth ${VERSION} is running`));
    expectFinding(run, "broker", "ok", /embedded broker runs on .*the bridge is connected/);
    expectFinding(run, "broker.anonymous", "ok", /refuses clients without credentials/);
  });

  test("a node online with a stale heartbeat is a warning; a broken link is an error", async () => {
    const { store } = bridge.daemon;
    const now = Date.now();
    store.nodes.add("stale-1", hashSecret(generateSecret()), now);
    store.nodes.setOnline("stale-1", true, now - 10 * 60_000);
    const carol = await linkAccount(store, "carol", "google");
    store.googleLinks.markBroken(carol.userId, "Google answered 404 for this user: the link is marked broken", now);
    store.grants.recordLinkError(carol.userId, "google", "Google answered 404 for this user", now, "broken");

    const run = await doctor(env, "--offline");
    assert.equal(run.status, 1, describeReport(run.report));
    const stale = expectFinding(run, "nodes", "warn", /online, but nothing heard for over 3 min: stale-1 \(10 min\)/);
    assert.match(stale.fix as string, /telemetry/);
    const broken = expectFinding(run, "links", "error", /carol's Google link is broken: Google answered 404/);
    assert.match(broken.fix as string, /link it again/);
  });
});
