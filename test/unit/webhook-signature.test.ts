/**
 * Webhook signatures against published values: the Standard Webhooks test vector (the reference libraries'
 * "sign function works" test) both ways, several signatures in one header, the previous secret during a
 * rotation, the ±5 minute tolerance in both directions, and GitHub's X-Hub-Signature-256.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import {
  generateWebhookSecret,
  safeEqual,
  signGithub,
  signStandard,
  TIMESTAMP_TOLERANCE_S,
  verifyGithub,
  verifyStandard,
} from "../../src/webhooks/signature.ts";

const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

function headers(signature: string, timestamp = VECTOR.timestamp) {
  return { id: VECTOR.id, timestamp: String(timestamp), signature };
}

const body = Buffer.from(VECTOR.body);

describe("Standard Webhooks", () => {
  test("signs the published test vector", () => {
    assert.equal(signStandard(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    assert.equal(signStandard(VECTOR.secret, VECTOR.id, VECTOR.timestamp, body), VECTOR.signature);
  });

  test("verifies the published test vector at its own time", () => {
    assert.equal(verifyStandard([VECTOR.secret], headers(VECTOR.signature), body, VECTOR.timestamp), undefined);
  });

  test("the secret works with or without its whsec_ prefix", () => {
    const bare = VECTOR.secret.slice("whsec_".length);
    assert.equal(verifyStandard([bare], headers(VECTOR.signature), body, VECTOR.timestamp), undefined);
  });

  test("one matching signature among several is enough; other versions are ignored", () => {
    const other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    const list = [other, `v2,${VECTOR.signature.slice(3)}`, VECTOR.signature, other].join(" ");
    assert.equal(verifyStandard([VECTOR.secret], headers(list), body, VECTOR.timestamp), undefined);
    assert.equal(
      verifyStandard([VECTOR.secret], headers(`${other} v2,${VECTOR.signature.slice(3)}`), body, VECTOR.timestamp),
      "bad_signature",
    );
  });

  test("the previous secret still verifies during a rotation", () => {
    const current = generateWebhookSecret();
    assert.equal(
      verifyStandard([current, VECTOR.secret], headers(VECTOR.signature), body, VECTOR.timestamp),
      undefined,
    );
    assert.equal(verifyStandard([current], headers(VECTOR.signature), body, VECTOR.timestamp), "bad_signature");
  });

  test("a changed byte, id or timestamp breaks the signature", () => {
    const changed = Buffer.from('{"test":2432232314}');
    assert.equal(
      verifyStandard([VECTOR.secret], headers(VECTOR.signature), changed, VECTOR.timestamp),
      "bad_signature",
    );
    assert.equal(
      verifyStandard([VECTOR.secret], { ...headers(VECTOR.signature), id: "msg_other" }, body, VECTOR.timestamp),
      "bad_signature",
    );
    assert.equal(
      verifyStandard([VECTOR.secret], headers(VECTOR.signature, VECTOR.timestamp + 1), body, VECTOR.timestamp),
      "bad_signature",
    );
  });

  test("partial and malformed signatures are refused", () => {
    for (const signature of ["v1,", VECTOR.signature.slice(0, 8), "v1,dawfeoifkpqwoekfpqoekf", "garbage"]) {
      assert.equal(verifyStandard([VECTOR.secret], headers(signature), body, VECTOR.timestamp), "bad_signature");
    }
  });

  test("timestamps more than the tolerance away, in either direction, are refused", () => {
    const at = (offset: number) =>
      verifyStandard([VECTOR.secret], headers(VECTOR.signature), body, VECTOR.timestamp + offset);
    assert.equal(TIMESTAMP_TOLERANCE_S, 300);
    assert.equal(at(TIMESTAMP_TOLERANCE_S), undefined);
    assert.equal(at(-TIMESTAMP_TOLERANCE_S), undefined);
    assert.equal(at(TIMESTAMP_TOLERANCE_S + 1), "stale_timestamp");
    assert.equal(at(-TIMESTAMP_TOLERANCE_S - 1), "stale_timestamp");
    assert.equal(
      verifyStandard([VECTOR.secret], { ...headers(VECTOR.signature), timestamp: "hello" }, body, VECTOR.timestamp),
      "stale_timestamp",
    );
  });

  test("each missing header is reported as missing", () => {
    for (const missing of ["id", "timestamp", "signature"] as const) {
      const partial: Record<string, string> = { ...headers(VECTOR.signature) };
      delete partial[missing];
      assert.equal(verifyStandard([VECTOR.secret], partial, body, VECTOR.timestamp), "missing_headers", missing);
    }
  });

  test("generated secrets are whsec_ and 32 random bytes", () => {
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice(6), "base64").length, 32);
    assert.notEqual(secret, generateWebhookSecret());
  });
});

describe("GitHub", () => {
  test("X-Hub-Signature-256 is sha256= and the hex HMAC of the raw body, keyed with the secret's text", () => {
    const secret = "It's a Secret to Everybody";
    const payload = "Hello, World!";
    // The example of GitHub's "Validating webhook deliveries".
    const expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert.equal(signGithub(secret, payload), expected);
    assert.equal(expected, `sha256=${createHmac("sha256", secret).update(payload).digest("hex")}`);
    assert.equal(verifyGithub([secret], expected, Buffer.from(payload)), true);
  });

  test("a wrong, missing or differently encoded signature is refused; the previous secret is accepted", () => {
    const secret = generateWebhookSecret();
    const previous = generateWebhookSecret();
    const payload = Buffer.from('{"actions":[]}');
    assert.equal(verifyGithub([secret], signGithub(previous, payload), payload), false);
    assert.equal(verifyGithub([secret, previous], signGithub(previous, payload), payload), true);
    assert.equal(verifyGithub([secret], undefined, payload), false);
    assert.equal(verifyGithub([secret], signGithub(secret, payload).toUpperCase(), payload), false);
    assert.equal(verifyGithub([secret], signGithub(secret, payload), Buffer.from('{"actions": []}')), false);
  });
});

describe("safeEqual", () => {
  test("compares without throwing on different lengths", () => {
    assert.equal(safeEqual("abc", "abc"), true);
    assert.equal(safeEqual("abc", "abd"), false);
    assert.equal(safeEqual("abc", "abcd"), false);
    assert.equal(safeEqual("", ""), true);
  });
});
