/**
 * Two-factor verification of guarded commands, on real SQLite files: which commands are guarded and how
 * the config changes that; the challenges issued; PIN checks, the lockout (counted in the database, read
 * before any hash, ended by the clock or a new PIN, kept across a reopen); the audit trail, which never
 * holds the PIN; and the audit log's listing. Hashes use N=2^10 and are counted at the KDF.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ConfigSchema } from "../../src/config/index.ts";
import {
  type GuardedChange,
  type GuardedDevice,
  guardedPolicy,
  PinError,
  pinProblem,
  TwoFactor,
  type TwoFactorOverrides,
} from "../../src/google/two-factor.ts";
import { createLogger } from "../../src/log.ts";
import type { DeviceClass, DeviceType } from "../../src/model/index.ts";
import { AccountError } from "../../src/oauth/errors.ts";
import { type Kdf, PasswordHasher, scryptKdf } from "../../src/oauth/passwords.ts";
import { Store } from "../../src/store/index.ts";

const PIN = "83920571";
const WRONG = "11112222";
const ATTEMPTS = 3;
const WINDOW_S = 60;
const LOCK = "door-1.lock";
const START = Date.UTC(2026, 0, 1);

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-two-factor-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;

/** Collects log lines, to look for the PIN in them. */
class LogText extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
}

interface Fixture {
  dir: string;
  store: Store;
  twoFactor: TwoFactor;
  userId: string;
  /** Key derivations run so far: one per hash or verify. */
  kdfRuns: () => number;
  clock: { now: number };
  logs: LogText;
  reopen(): void;
}

const config = ConfigSchema.parse({ google: { pinAttempts: ATTEMPTS, pinLockoutSeconds: WINDOW_S } });

function fixture(): Fixture {
  const dir = join(root, `data-${++counter}`);
  let runs = 0;
  const kdf: Kdf = (password, salt, keyLength, options) => {
    runs++;
    return scryptKdf(password, salt, keyLength, options);
  };
  const hasher = new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 }, kdf });
  const clock = { now: START };
  const logs = new LogText();
  const make = (store: Store) =>
    new TwoFactor({ store, config, hasher, now: () => clock.now, log: createLogger("debug", logs) });
  const store = Store.open(dir);
  const user = store.users.add("anna", "not-a-real-hash", START);
  assert.ok(user);
  const f: Fixture = {
    dir,
    store,
    twoFactor: make(store),
    userId: user.id,
    kdfRuns: () => runs,
    clock,
    logs,
    reopen() {
      f.store.close();
      f.store = Store.open(dir);
      f.twoFactor = make(f.store);
    },
  };
  return f;
}

function withFixture(fn: (f: Fixture) => Promise<void>): () => Promise<void> {
  return async () => {
    const f = fixture();
    try {
      await fn(f);
    } finally {
      f.store.close();
    }
  };
}

const pinCheck = (f: Fixture, pin?: string) =>
  f.twoFactor.verify({
    userId: f.userId,
    deviceId: LOCK,
    policy: "pin",
    ...(pin === undefined ? {} : { challenge: { pin } }),
  });

const outcomes = (f: Fixture) =>
  f.store.audit
    .list({ action: "two_factor" })
    .reverse()
    .map((e) => e.outcome);

function device(type: DeviceType, deviceClass?: DeviceClass, id = `n1.${type}`): GuardedDevice {
  return { id, type, definition: deviceClass === undefined ? {} : { class: deviceClass } };
}

const KINDS: GuardedChange["kind"][] = ["unlock", "lock", "open", "close", "other"];

/** The policy for each kind of change, in KINDS order. */
function policies(target: GuardedDevice, overrides: TwoFactorOverrides = {}): string[] {
  return KINDS.map((kind) => guardedPolicy(target, overrides, { kind } as GuardedChange));
}

describe("guardedPolicy", () => {
  test("defaults: a PIN to unlock a lock and to open a garage door, door, gate or window; nothing else", () => {
    assert.deepEqual(policies(device("lock")), ["pin", "none", "pin", "none", "none"]);
    for (const cls of ["garage", "door", "gate", "window"] as const) {
      assert.deepEqual(policies(device("cover", cls)), ["pin", "none", "pin", "none", "none"], cls);
    }
    for (const cls of ["blind", "curtain", "shutter", "awning", undefined] as const) {
      assert.deepEqual(policies(device("cover", cls)), ["none", "none", "none", "none", "none"], String(cls));
    }
    for (const type of ["switch", "outlet", "light", "thermostat", "fan", "sensor"] as const) {
      assert.deepEqual(policies(device(type)), ["none", "none", "none", "none", "none"], type);
    }
  });

  test("the config's class counts before the node's", () => {
    const blindDeclaredAsGarage = device("cover", "blind", "n1.cover");
    assert.deepEqual(policies(blindDeclaredAsGarage, { "n1.cover": { class: "garage" } })[2], "pin");
    const garageDeclaredAsBlind = device("cover", "garage", "n1.cover");
    assert.deepEqual(policies(garageDeclaredAsBlind, { "n1.cover": { class: "blind" } })[2], "none");
  });

  test("twoFactor replaces the default of the guarded actions, weaker or stronger", () => {
    const lock = device("lock", undefined, "n1.lock");
    assert.deepEqual(policies(lock, { "n1.lock": { twoFactor: "none" } }), ["none", "none", "none", "none", "none"]);
    assert.deepEqual(policies(lock, { "n1.lock": { twoFactor: "ack" } }), ["ack", "none", "ack", "none", "none"]);
    const blind = device("cover", "blind", "n1.cover");
    assert.deepEqual(policies(blind, { "n1.cover": { twoFactor: "pin" } }), ["pin", "none", "pin", "none", "none"]);
    const garage = device("cover", "garage", "n1.cover");
    assert.deepEqual(policies(garage, { "n1.cover": { twoFactor: "ack" } }), ["ack", "none", "ack", "none", "none"]);
    // On other types every command is guarded: a switch may drive a garage door's relay.
    const relay = device("switch", undefined, "n1.relay");
    assert.deepEqual(policies(relay, { "n1.relay": { twoFactor: "pin" } }), ["pin", "pin", "pin", "pin", "pin"]);
    // Another device's override changes nothing here.
    assert.deepEqual(policies(relay, { "n1.other": { twoFactor: "pin" } }), ["none", "none", "none", "none", "none"]);
  });
});

describe("PINs", () => {
  test("4 to 8 digits and nothing else", () => {
    for (const pin of ["0000", "4711", "12345678"]) assert.equal(pinProblem(pin), undefined, pin);
    for (const pin of ["", "123", "123456789", "12a4", " 1234", "1234\n", "١٢٣٤"]) {
      assert.match(pinProblem(pin) ?? "", /4 to 8 digits/, JSON.stringify(pin));
    }
  });

  test(
    "setPin stores a scrypt hash, refuses a bad PIN or an unknown user, and is audited without the PIN",
    withFixture(async (f) => {
      await assert.rejects(f.twoFactor.setPin(f.userId, "12a4"), PinError);
      await assert.rejects(
        f.twoFactor.setPin("no-such-user", PIN),
        (error) => error instanceof AccountError && error.code === "unknown_user",
      );
      await f.twoFactor.setPin(f.userId, PIN, "cli");
      assert.match(f.store.pins.hash(f.userId) ?? "", /^scrypt\$10\$/);
      assert.equal(await f.twoFactor.removePin(f.userId, "cli"), true);
      assert.equal(await f.twoFactor.removePin(f.userId, "cli"), false);
      assert.equal(f.store.pins.hash(f.userId), undefined);
      assert.deepEqual(
        f.store.audit.list().map((e) => [e.actor, e.action, e.target, e.outcome]),
        [
          ["cli", "pin_removed", f.userId, "ok"],
          ["cli", "pin_set", f.userId, "ok"],
        ],
      );
      assert.equal(JSON.stringify(f.store.audit.list()).includes(PIN), false);
    }),
  );
});

describe("TwoFactor.verify", () => {
  test(
    "policy none passes without a challenge or an audit entry",
    withFixture(async (f) => {
      assert.deepEqual(await f.twoFactor.verify({ userId: f.userId, deviceId: LOCK, policy: "none" }), { ok: true });
      assert.deepEqual(f.store.audit.list(), []);
    }),
  );

  test(
    "ack: asked for without a yes, passes with one",
    withFixture(async (f) => {
      const ack = (challenge?: { ack?: boolean; pin?: string }) =>
        f.twoFactor.verify({
          userId: f.userId,
          deviceId: "n1.light",
          policy: "ack",
          ...(challenge ? { challenge } : {}),
        });
      assert.deepEqual(await ack(), { ok: false, challenge: "ackNeeded" });
      assert.deepEqual(await ack({ ack: false }), { ok: false, challenge: "ackNeeded" });
      assert.deepEqual(await ack({ pin: PIN }), { ok: false, challenge: "ackNeeded" });
      assert.deepEqual(await ack({ ack: true }), { ok: true });
      const entries = f.store.audit.list().reverse();
      assert.deepEqual(
        entries.map((e) => [e.actor, e.action, e.target, e.outcome, e.detail]),
        [
          [`google:${f.userId}`, "two_factor", "n1.light", "challenged", "ackNeeded"],
          [`google:${f.userId}`, "two_factor", "n1.light", "challenged", "ackNeeded"],
          [`google:${f.userId}`, "two_factor", "n1.light", "challenged", "ackNeeded"],
          [`google:${f.userId}`, "two_factor", "n1.light", "acknowledged", null],
        ],
      );
      assert.equal(f.kdfRuns(), 0);
    }),
  );

  test(
    "no PIN set: challengeFailedNotSetup, with or without a PIN, and no hash",
    withFixture(async (f) => {
      assert.deepEqual(await pinCheck(f), { ok: false, error: "challengeFailedNotSetup" });
      assert.deepEqual(await pinCheck(f, PIN), { ok: false, error: "challengeFailedNotSetup" });
      assert.equal(f.kdfRuns(), 0);
      assert.deepEqual(outcomes(f), ["not_set_up", "not_set_up"]);
      assert.deepEqual(f.store.pins.failuresSince(f.userId, 0), [], "not a failure of the user's");
    }),
  );

  test(
    "no challenge asks for the PIN; a wrong one asks again; the right one passes and clears the failures",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      const afterSet = f.kdfRuns();
      assert.deepEqual(await pinCheck(f), { ok: false, challenge: "pinNeeded" });
      assert.deepEqual(
        await f.twoFactor.verify({ userId: f.userId, deviceId: LOCK, policy: "pin", challenge: { ack: true } }),
        { ok: false, challenge: "pinNeeded" },
        "a yes is not a PIN",
      );
      assert.equal(f.kdfRuns(), afterSet, "asking costs no hash");
      assert.deepEqual(await pinCheck(f, WRONG), { ok: false, challenge: "challengeFailedPinNeeded" });
      f.clock.now += 1000;
      assert.deepEqual(await pinCheck(f, "12ab"), { ok: false, challenge: "challengeFailedPinNeeded" });
      assert.equal(f.kdfRuns(), afterSet + 1, "a string that is no PIN is wrong without a hash");
      assert.equal(f.store.pins.failuresSince(f.userId, 0).length, 2);
      assert.deepEqual(await pinCheck(f, PIN), { ok: true });
      assert.deepEqual(f.store.pins.failuresSince(f.userId, 0), []);
      // The budget is whole again: ATTEMPTS - 1 wrong PINs do not lock out.
      for (let i = 1; i < ATTEMPTS; i++) {
        assert.deepEqual(await pinCheck(f, WRONG), { ok: false, challenge: "challengeFailedPinNeeded" });
      }
      assert.deepEqual(outcomes(f), [
        "challenged",
        "challenged",
        "wrong_pin",
        "wrong_pin",
        "ok",
        ...Array(ATTEMPTS - 1).fill("wrong_pin"),
      ]);
      const wrong = f.store.audit.list({ action: "two_factor" }).find((e) => e.outcome === "wrong_pin");
      assert.equal(wrong?.detail, `failure ${ATTEMPTS - 1} of ${ATTEMPTS}`);
    }),
  );

  test(
    "the Nth wrong PIN locks out; then even the right PIN is refused, without a hash",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      for (let i = 1; i < ATTEMPTS; i++) {
        assert.deepEqual(await pinCheck(f, WRONG), { ok: false, challenge: "challengeFailedPinNeeded" });
        f.clock.now += 1000;
      }
      assert.deepEqual(await pinCheck(f, WRONG), { ok: false, error: "tooManyFailedAttempts" });
      const hashesBefore = f.kdfRuns();
      assert.deepEqual(await pinCheck(f, PIN), { ok: false, error: "tooManyFailedAttempts" });
      assert.deepEqual(await pinCheck(f, WRONG), { ok: false, error: "tooManyFailedAttempts" });
      assert.deepEqual(await pinCheck(f), { ok: false, error: "tooManyFailedAttempts" });
      assert.equal(f.kdfRuns(), hashesBefore, "a locked-out user costs no hash");
      assert.equal(f.store.pins.failuresSince(f.userId, 0).length, ATTEMPTS, "refusals are not counted as guesses");
      const [latest] = f.store.audit.list({ action: "two_factor" });
      const until = new Date(START + WINDOW_S * 1000).toISOString();
      assert.equal(latest?.outcome, "locked_out");
      assert.equal(latest?.detail, `until ${until}`);
      const limitReached = f.store.audit.list({ action: "two_factor" }).find((e) => e.outcome === "wrong_pin");
      assert.equal(limitReached?.detail, `failure ${ATTEMPTS} of ${ATTEMPTS}; locked out until ${until}`);
      assert.match(f.logs.text, /too many wrong PINs/);
    }),
  );

  test(
    "the lockout ends when the oldest failure leaves the window, and a new PIN ends it at once",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      // Failures at 0 s, 30 s and 50 s.
      const times = [0, 30_000, 50_000];
      for (const at of times) {
        f.clock.now = START + at;
        await pinCheck(f, WRONG);
      }
      assert.equal(f.twoFactor.lockedOutUntil(f.userId), START + WINDOW_S * 1000);
      f.clock.now = START + WINDOW_S * 1000 - 1;
      assert.deepEqual(await pinCheck(f, PIN), { ok: false, error: "tooManyFailedAttempts" });
      // At 60 s the first failure no longer counts: one more guess is allowed, and it locks again
      // until the failure at 30 s is that old.
      f.clock.now = START + WINDOW_S * 1000;
      assert.equal(f.twoFactor.lockedOutUntil(f.userId), undefined);
      assert.deepEqual(await pinCheck(f, WRONG), { ok: false, error: "tooManyFailedAttempts" });
      assert.equal(f.twoFactor.lockedOutUntil(f.userId), START + 30_000 + WINDOW_S * 1000);
      assert.deepEqual(
        f.store.pins.failuresSince(f.userId, 0),
        [30_000, 50_000, WINDOW_S * 1000].map((at) => START + at),
        "the failure that left the window was pruned",
      );
      f.clock.now = START + 30_000 + WINDOW_S * 1000;
      assert.deepEqual(await pinCheck(f, PIN), { ok: true });

      for (let i = 0; i < ATTEMPTS; i++) await pinCheck(f, WRONG);
      assert.deepEqual(await pinCheck(f, PIN), { ok: false, error: "tooManyFailedAttempts" });
      await f.twoFactor.setPin(f.userId, "4711");
      assert.deepEqual(await pinCheck(f, "4711"), { ok: true });
    }),
  );

  test(
    "the lockout survives reopening the store",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      for (let i = 0; i < ATTEMPTS; i++) await pinCheck(f, WRONG);
      f.reopen();
      const hashesBefore = f.kdfRuns();
      assert.deepEqual(await pinCheck(f, PIN), { ok: false, error: "tooManyFailedAttempts" });
      assert.equal(f.kdfRuns(), hashesBefore);
      f.clock.now += WINDOW_S * 1000;
      assert.deepEqual(await pinCheck(f, PIN), { ok: true });
    }),
  );

  test(
    "guesses sent at once are checked one after another: no more hashes than attempts allowed",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      const hashesBefore = f.kdfRuns();
      const results = await Promise.all(Array.from({ length: ATTEMPTS + 3 }, () => pinCheck(f, WRONG)));
      assert.equal(f.kdfRuns() - hashesBefore, ATTEMPTS);
      assert.deepEqual(
        results.slice(0, ATTEMPTS - 1),
        Array(ATTEMPTS - 1).fill({ ok: false, challenge: "challengeFailedPinNeeded" }),
      );
      assert.deepEqual(results.slice(ATTEMPTS - 1), Array(4).fill({ ok: false, error: "tooManyFailedAttempts" }));
      // Another user is not held up or locked by them.
      const bob = f.store.users.add("bob", "not-a-real-hash", START);
      assert.ok(bob);
      await f.twoFactor.setPin(bob.id, "4711");
      assert.deepEqual(
        await f.twoFactor.verify({ userId: bob.id, deviceId: LOCK, policy: "pin", challenge: { pin: "4711" } }),
        { ok: true },
      );
    }),
  );

  test(
    "the audit trail has every check and challenge with its outcome; neither it, the logs nor the files hold the PIN",
    withFixture(async (f) => {
      await f.twoFactor.setPin(f.userId, PIN);
      await pinCheck(f);
      await pinCheck(f, WRONG);
      await pinCheck(f, PIN);
      await f.twoFactor.verify({ userId: f.userId, deviceId: LOCK, policy: "ack", challenge: { ack: true } });
      for (let i = 0; i < ATTEMPTS; i++) await pinCheck(f, WRONG);
      await pinCheck(f, PIN);
      await f.twoFactor.removePin(f.userId);
      await pinCheck(f, PIN);
      assert.deepEqual(outcomes(f), [
        "challenged",
        "wrong_pin",
        "ok",
        "acknowledged",
        ...Array(ATTEMPTS).fill("wrong_pin"),
        "locked_out",
        "not_set_up",
      ]);
      for (const entry of f.store.audit.list({ action: "two_factor" })) {
        assert.equal(entry.actor, `google:${f.userId}`);
        assert.equal(entry.target, LOCK);
        assert.equal(entry.at, START);
      }
      const audit = JSON.stringify(f.store.audit.list({ limit: 1000 }));
      assert.equal(audit.includes(PIN) || audit.includes(WRONG), false, "a PIN in the audit log");
      assert.equal(f.logs.text.includes(PIN) || f.logs.text.includes(WRONG), false, "a PIN in the logs");
      f.store.close();
      for (const file of readdirSync(f.dir)) {
        const bytes = readFileSync(join(f.dir, file));
        assert.equal(bytes.includes(PIN) || bytes.includes(WRONG), false, `a PIN in ${file}`);
      }
    }),
  );
});

describe("AuditLog", () => {
  test(
    "lists newest first by the order of writing, filtered by action, paged with before and bounded by limit",
    withFixture(async (f) => {
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) {
        // The clock going back must not reorder the log.
        const at = START - i * 1000;
        ids.push(
          f.store.audit.record(
            {
              actor: "cli",
              action: i % 2 === 0 ? "even" : "odd",
              outcome: "ok",
              ...(i === 0 ? { target: "t", detail: "d" } : {}),
            },
            at,
          ),
        );
      }
      assert.deepEqual(
        f.store.audit.list().map((e) => e.id),
        [...ids].reverse(),
      );
      assert.deepEqual(f.store.audit.list().at(-1), {
        id: ids[0],
        at: START,
        actor: "cli",
        action: "even",
        target: "t",
        outcome: "ok",
        detail: "d",
      });
      assert.deepEqual(f.store.audit.list().at(0)?.target, null);
      assert.deepEqual(
        f.store.audit.list({ action: "odd" }).map((e) => e.id),
        [ids[5], ids[3], ids[1]],
      );
      assert.deepEqual(
        f.store.audit.list({ limit: 2 }).map((e) => e.id),
        [ids[5], ids[4]],
      );
      assert.deepEqual(
        f.store.audit.list({ limit: 2, before: ids[4] as number }).map((e) => e.id),
        [ids[3], ids[2]],
      );
      assert.deepEqual(
        f.store.audit.list({ action: "even", before: ids[2] as number }).map((e) => e.id),
        [ids[0]],
      );
      assert.equal(f.store.audit.list({ limit: 0 }).length, 1, "at least one");
    }),
  );
});
