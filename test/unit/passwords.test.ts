/**
 * User password hashing: scrypt round trips, the self-describing format, rehash detection, the
 * concurrency gate, and the password policy. Hashes here use N=2^10 so the file runs in well under a
 * second; one test pins the production parameters.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Kdf,
  PASSWORD_MAX_LENGTH,
  PasswordHasher,
  PRODUCTION_COST,
  parsePasswordHash,
  passwordHasher,
  passwordProblem,
  scryptKdf,
} from "../../src/oauth/passwords.ts";

const CHEAP = { log2N: 10, r: 8, p: 1 };
const hasher = new PasswordHasher({ cost: CHEAP });
const PASSWORD = "correct horse battery staple";

describe("hashing", () => {
  test("a hash verifies with its password and not with another", async () => {
    const stored = await hasher.hash(PASSWORD);
    assert.equal(await hasher.verify(PASSWORD, stored), true);
    assert.equal(await hasher.verify("correct horse battery stapler", stored), false);
    assert.equal(await hasher.verify("", stored), false);
  });

  test("the stored string is scrypt$log2N$r$p$salt$key with a 16-byte salt and a 32-byte key", async () => {
    const stored = await hasher.hash(PASSWORD);
    assert.match(stored, /^scrypt\$10\$8\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parsePasswordHash(stored);
    assert.equal(parsed?.salt.length, 16);
    assert.equal(parsed?.key.length, 32);
    assert.ok(!stored.includes(PASSWORD));
  });

  test("the same password hashes differently each time (random salt)", async () => {
    const [a, b] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)]);
    assert.notEqual(a, b);
  });

  test("a tampered or malformed string never verifies", async () => {
    const stored = await hasher.hash(PASSWORD);
    const parts = stored.split("$");
    const key = Buffer.from(parts[5] as string, "base64");
    key[0] = (key[0] as number) ^ 1;
    const tampered = [
      [...parts.slice(0, 5), key.toString("base64").replace(/=+$/, "")].join("$"),
      [parts[0], "11", ...parts.slice(2)].join("$"),
      [...parts.slice(0, 4), Buffer.alloc(16).toString("base64").replace(/=+$/, ""), parts[5]].join("$"),
      stored.replace(/^scrypt/, "bcrypt"),
      stored.slice(0, -4),
      `${stored}$extra`,
      "scrypt$99$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "",
      "sha256:abc",
    ];
    for (const bad of tampered) assert.equal(await hasher.verify(PASSWORD, bad), false, bad);
  });

  test("verify reads the parameters from the string, so older hashes still verify", async () => {
    const older = await new PasswordHasher({ cost: { log2N: 9, r: 4, p: 1 } }).hash(PASSWORD);
    assert.match(older, /^scrypt\$9\$4\$1\$/);
    assert.equal(await hasher.verify(PASSWORD, older), true);
  });

  test("needsRehash is true for other parameters or an unreadable string, false for the current ones", async () => {
    const current = await hasher.hash(PASSWORD);
    assert.equal(hasher.needsRehash(current), false);
    const weaker = await new PasswordHasher({ cost: { log2N: 9, r: 8, p: 1 } }).hash(PASSWORD);
    assert.equal(hasher.needsRehash(weaker), true);
    assert.equal(new PasswordHasher({ cost: { log2N: 11, r: 8, p: 1 } }).needsRehash(current), true);
    assert.equal(hasher.needsRehash("garbage"), true);
  });

  test("an unknown user still costs a hash, so timing does not reveal which names exist", async () => {
    let calls = 0;
    const counting = new PasswordHasher({
      cost: CHEAP,
      kdf: (...args) => {
        calls++;
        return scryptKdf(...args);
      },
    });
    assert.equal(await counting.verify(PASSWORD, undefined), false);
    assert.equal(calls, 1);
  });

  test("the production cost is N=2^17, r=8, p=1, and Node accepts it with our maxmem", async () => {
    assert.deepEqual({ ...PRODUCTION_COST }, { log2N: 17, r: 8, p: 1 });
    assert.deepEqual({ ...passwordHasher.cost }, { log2N: 17, r: 8, p: 1 });
    // Without raising maxmem, Node refuses N=2^17; check the options without paying for a real hash.
    const seen: Array<Parameters<Kdf>[3]> = [];
    const probe = new PasswordHasher({
      kdf: async (_password, _salt, keyLength, options) => {
        seen.push(options);
        return Buffer.alloc(keyLength);
      },
    });
    assert.match(await probe.hash(PASSWORD), /^scrypt\$17\$8\$1\$/);
    assert.deepEqual(seen, [{ N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }]);
  });

  test("impossible costs are refused when the hasher is made", () => {
    assert.throws(() => new PasswordHasher({ cost: { log2N: 0, r: 8, p: 1 } }), RangeError);
    assert.throws(() => new PasswordHasher({ cost: { log2N: 20, r: 8, p: 1 } }), /MiB/);
    assert.throws(() => new PasswordHasher({ concurrency: 0 }), RangeError);
  });

  test("decomposed and composed accents are the same password", async () => {
    const composed = "Crème brûlée 2024";
    const stored = await hasher.hash(composed);
    assert.equal(await hasher.verify(composed.normalize("NFD"), stored), true);
  });
});

describe("concurrency gate", () => {
  test("never runs more hashes than its limit, and serves waiters in arrival order", async () => {
    let active = 0;
    let peak = 0;
    const started: string[] = [];
    const gated = new PasswordHasher({
      cost: CHEAP,
      concurrency: 2,
      kdf: async (password, ...rest) => {
        active++;
        peak = Math.max(peak, active);
        started.push(password);
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return await scryptKdf(password, ...rest);
        } finally {
          active--;
        }
      },
    });
    const passwords = Array.from({ length: 8 }, (_, i) => `password-${i}`);
    const pending = passwords.map((p) => gated.hash(p));
    assert.deepEqual(gated.load, { active: 2, waiting: 6 });
    const hashes = await Promise.all(pending);
    assert.equal(peak, 2);
    assert.deepEqual(started, passwords, "first come, first served");
    assert.deepEqual(gated.load, { active: 0, waiting: 0 });
    for (const [i, stored] of hashes.entries()) assert.equal(await hasher.verify(`password-${i}`, stored), true);
  });

  test("a failing hash frees its slot", async () => {
    let calls = 0;
    const flaky = new PasswordHasher({
      cost: CHEAP,
      concurrency: 1,
      kdf: async (...args) => {
        if (++calls === 1) throw new Error("out of memory");
        return scryptKdf(...args);
      },
    });
    const results = await Promise.allSettled([flaky.hash("a"), flaky.hash("b")]);
    assert.equal(results[0]?.status, "rejected");
    assert.equal(results[1]?.status, "fulfilled");
    assert.deepEqual(flaky.load, { active: 0, waiting: 0 });
  });
});

describe("password policy", () => {
  test("accepts a reasonable password", () => {
    assert.equal(passwordProblem(PASSWORD, "anna"), undefined);
    assert.equal(passwordProblem("x".repeat(PASSWORD_MAX_LENGTH), "anna"), undefined);
  });

  test("explains what is wrong", () => {
    assert.equal(
      passwordProblem("short", "anna"),
      "the password is too short: it needs at least 10 characters, this one has 5",
    );
    assert.equal(
      passwordProblem("x".repeat(1025), "anna"),
      "the password is too long: at most 1024 characters, this one has 1025",
    );
    assert.equal(passwordProblem("anna@example.org", "Anna@Example.org"), "the password must not be the user name");
    assert.match(passwordProblem("first line\nsecond line", "anna") ?? "", /line breaks/);
  });

  test("counts characters, not bytes", () => {
    assert.equal(passwordProblem("ééééééééé", "anna")?.includes("this one has 9"), true);
    assert.equal(passwordProblem("🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", "anna"), undefined);
  });
});
