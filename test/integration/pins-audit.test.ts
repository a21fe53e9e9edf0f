/**
 * PINs and the audit log as a user meets them, on a real daemon: `hearth user pin` sets (with production
 * scrypt parameters) and removes a user's PIN in the daemon's database while it runs; the daemon's
 * two-factor checks then use it; `GET /api/v1/audit` shows the checks and the changes, newest first,
 * filtered and paged. The PIN is nowhere in the data dir, the audit log or the daemon's log.
 *
 * One broker kind is enough: nothing here goes over MQTT.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TwoFactor } from "../../src/google/two-factor.ts";
import { createLogger } from "../../src/log.ts";
import { TestBridge } from "../helpers/bridge.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const PIN = "58203914";
const WRONG = "58203915";
const LOCK = "pin-node-1.lock";

interface AuditView {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  detail: string | null;
}

describe("PINs and the audit log", () => {
  let bridge: TestBridge;
  let userId: string;

  before(async () => {
    bridge = await TestBridge.start("embedded");
    const user = bridge.daemon.store.users.add("anna", "not-a-real-hash", Date.now());
    assert.ok(user);
    userId = user.id;
  });
  after(() => bridge.stop());

  function cli(args: string[], input = "") {
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (key.startsWith("HEARTH_")) env[key] = undefined;
    return runProcess(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env, HEARTH_DATA_DIR: bridge.dataDir },
      input,
    });
  }

  /** The daemon's two-factor service as the Google handler uses it, with the production hasher. */
  function twoFactor(): TwoFactor {
    return new TwoFactor({ store: bridge.daemon.store, config: bridge.config, log: createLogger("silent") });
  }

  async function audit(query = ""): Promise<AuditView[]> {
    const response = await bridge.api("GET", `/api/v1/audit${query}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as AuditView[];
  }

  test("hearth user pin refuses what cannot be a PIN, an unknown user and a missing terminal", async () => {
    const [letters, short, noTty, nobody, removeWithPin] = await Promise.all([
      cli(["user", "pin", "anna", "--pin-stdin"], "12a4\n"),
      cli(["user", "pin", "anna", "--pin-stdin"], "123\n"),
      cli(["user", "pin", "anna"], `${PIN}\n`),
      cli(["user", "pin", "nobody", "--pin-stdin"], `${PIN}\n`),
      cli(["user", "pin", "anna", "--remove", "--pin-stdin"], `${PIN}\n`),
    ]);
    for (const result of [letters, short, noTty, nobody, removeWithPin]) assert.equal(result.status, 1, result.stderr);
    assert.match(letters.stderr, /^hearth: a PIN is 4 to 8 digits/m);
    assert.match(short.stderr, /^hearth: a PIN is 4 to 8 digits/m);
    assert.match(noTty.stderr, /standard input is not a terminal.*--pin-stdin/);
    assert.match(nobody.stderr, /^hearth: no user "nobody"$/m);
    assert.match(removeWithPin.stderr, /--remove reads no PIN/);
    assert.equal(bridge.daemon.store.pins.hash(userId), undefined);
    assert.deepEqual(await audit(), []);
  });

  test("hearth user pin --pin-stdin sets a PIN the running daemon then checks", async () => {
    const set = await cli(["user", "pin", "ANNA", "--pin-stdin"], `${PIN}\n`);
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /^Set the PIN of anna\./m);
    assert.match(bridge.daemon.store.pins.hash(userId) ?? "", /^scrypt\$17\$8\$1\$/);

    const service = twoFactor();
    const check = (pin?: string) =>
      service.verify({ userId, deviceId: LOCK, policy: "pin", ...(pin === undefined ? {} : { challenge: { pin } }) });
    assert.deepEqual(await check(), { ok: false, challenge: "pinNeeded" });
    assert.deepEqual(await check(WRONG), { ok: false, challenge: "challengeFailedPinNeeded" });
    assert.deepEqual(await check(PIN), { ok: true });
  });

  test("GET /api/v1/audit lists the events newest first, by action, paged, with ISO times", async () => {
    const all = await audit();
    assert.deepEqual(
      all.map((e) => [e.actor, e.action, e.target, e.outcome]),
      [
        [`google:${userId}`, "two_factor", LOCK, "ok"],
        [`google:${userId}`, "two_factor", LOCK, "wrong_pin"],
        [`google:${userId}`, "two_factor", LOCK, "challenged"],
        ["cli", "pin_set", userId, "ok"],
      ],
    );
    assert.deepEqual(Object.keys(all[0] ?? {}), ["id", "at", "actor", "action", "target", "outcome", "detail"]);
    for (const entry of all) assert.match(entry.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(all[1]?.detail, "failure 1 of 5");
    assert.equal(all[2]?.detail, "pinNeeded");

    const twoFactorOnly = await audit("?action=two_factor&limit=2");
    assert.deepEqual(
      twoFactorOnly.map((e) => e.id),
      all.slice(0, 2).map((e) => e.id),
    );
    const nextPage = await audit(`?action=two_factor&before=${twoFactorOnly[1]?.id}`);
    assert.deepEqual(
      nextPage.map((e) => e.outcome),
      ["challenged"],
    );

    const badCursor = await bridge.api("GET", "/api/v1/audit?before=latest");
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.error.code, "invalid_request");
    const noToken = await bridge.api("GET", "/api/v1/audit", undefined, "hth_not-a-token");
    assert.equal(noToken.status, 401);
  });

  test("hearth user pin --remove removes it; the daemon then refuses guarded commands as not set up", async () => {
    const removed = await cli(["user", "pin", "anna", "--remove"]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, /^Removed the PIN of anna\./m);
    const again = await cli(["user", "pin", "anna", "--remove"]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^anna has no PIN; nothing changed\.$/m);

    const result = await twoFactor().verify({ userId, deviceId: LOCK, policy: "pin", challenge: { pin: PIN } });
    assert.deepEqual(result, { ok: false, error: "challengeFailedNotSetup" });
    const [latest, removal] = await audit();
    assert.deepEqual([latest?.action, latest?.outcome], ["two_factor", "not_set_up"]);
    assert.deepEqual([removal?.actor, removal?.action, removal?.target], ["cli", "pin_removed", userId]);
  });

  test("the PIN is nowhere in the data dir, the audit log or the daemon's log", async () => {
    const entries = JSON.stringify(await audit("?limit=1000"));
    assert.equal(entries.includes(PIN) || entries.includes(WRONG), false);
    assert.equal(bridge.logs.text().includes(PIN) || bridge.logs.text().includes(WRONG), false);
    const files = readdirSync(bridge.dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.ok(files.length > 0);
    for (const file of files) {
      const bytes = readFileSync(join(file.parentPath, file.name));
      assert.equal(bytes.includes(PIN) || bytes.includes(WRONG), false, `a PIN in ${file.name}`);
    }
  });
});
