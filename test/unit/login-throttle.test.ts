/**
 * reliability-perf.md §A1 row 20: "Documented rate limiting and anti-automation for logins that does not
 * let an attacker lock users out" — growing delays per account and per address, never a permanent lock.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoginThrottle } from "../../src/oauth/login-throttle.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test("the first failures are free, then each one doubles the wait up to the ceiling", () => {
  const time = clock();
  const throttle = new LoginThrottle({ freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000, now: time.now });
  const keys = ["ip:10.0.0.1", "user:alice"];
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    throttle.recordFailure(keys);
    waits.push(throttle.waitMs(keys));
  }
  assert.deepEqual(waits, [0, 0, 0, 1000, 2000, 4000, 8000, 8000]);
});

test("a correct password after the wait still works: the wait ends, and success clears the record", () => {
  const time = clock();
  const throttle = new LoginThrottle({ freeFailures: 0, baseDelayMs: 1000, now: time.now });
  const keys = ["ip:10.0.0.1", "user:alice"];
  for (let i = 0; i < 5; i++) throttle.recordFailure(keys);
  assert.equal(throttle.waitMs(keys), 16_000);
  time.advance(16_000);
  assert.equal(throttle.waitMs(keys), 0, "no permanent lockout");
  throttle.recordSuccess(keys);
  throttle.recordFailure(keys);
  assert.equal(throttle.waitMs(keys), 1000, "the count starts again after a success");
});

test("a wait on one account does not slow another account from another address", () => {
  const time = clock();
  const throttle = new LoginThrottle({ freeFailures: 0, now: time.now });
  for (let i = 0; i < 4; i++) throttle.recordFailure(["ip:10.0.0.66", "user:alice"]);
  assert.ok(throttle.waitMs(["ip:10.0.0.66", "user:bob"]) > 0, "the guessing address waits for any account");
  assert.ok(throttle.waitMs(["ip:10.0.0.2", "user:alice"]) > 0, "the guessed account waits from any address");
  assert.equal(throttle.waitMs(["ip:10.0.0.2", "user:bob"]), 0);
});

test("failures are forgotten after a quiet day", () => {
  const time = clock();
  const throttle = new LoginThrottle({ freeFailures: 0, now: time.now, forgetAfterMs: 3600_000 });
  throttle.recordFailure(["user:alice"]);
  time.advance(3600_001);
  throttle.recordFailure(["user:alice"]);
  assert.equal(throttle.waitMs(["user:alice"]), 1000, "counted as a first failure again");
});
