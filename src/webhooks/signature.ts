/**
 * Webhook signatures, both ways. Standard Webhooks v1 (HMAC-SHA256 over `{id}.{timestamp}.{raw body}`,
 * `whsec_`-prefixed base64 secrets, a space-separated list of `v1,<base64>` signatures so that a secret can
 * be rotated without downtime, ±5 minutes of clock tolerance) signs what Hearth sends and verifies what it
 * receives; GitHub's `X-Hub-Signature-256` (`sha256=<hex HMAC of the raw body>`) is verified for senders
 * that speak it. Everything works on the raw bytes: re-serialised JSON would not match.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SECRET_PREFIX = "whsec_";
/** The reference implementation's tolerance, both ways: a timestamp older or newer than this is refused. */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;

/** A new secret: 32 random bytes, as Standard Webhooks formats them. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
}

/** The `v1,<base64>` signature of one message. */
export function signStandard(secret: string, id: string, timestampS: number, body: Buffer | string): string {
  const mac = createHmac("sha256", keyOf(secret)).update(`${id}.${timestampS}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** Constant-time comparison of two strings; unequal lengths are simply unequal. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type VerifyFailure = "missing_headers" | "stale_timestamp" | "bad_signature";

/**
 * Verifies a Standard Webhooks request against any of `secrets` (the current one and, during a rotation, the
 * previous one). Returns undefined when it is genuine, else why not.
 */
export function verifyStandard(
  secrets: readonly string[],
  headers: { id?: string; timestamp?: string; signature?: string },
  body: Buffer,
  nowS: number,
): VerifyFailure | undefined {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return "missing_headers";
  if (!/^\d{1,12}$/.test(timestamp)) return "stale_timestamp";
  const ts = Number(timestamp);
  if (Math.abs(nowS - ts) > TIMESTAMP_TOLERANCE_S) return "stale_timestamp";
  const offered = signature
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .slice(0, 16);
  for (const secret of secrets) {
    const expected = signStandard(secret, id, ts, body);
    if (offered.some((candidate) => safeEqual(candidate, expected))) return undefined;
  }
  return "bad_signature";
}

/** GitHub's `X-Hub-Signature-256` value for a body. */
export function signGithub(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function verifyGithub(secrets: readonly string[], header: string | undefined, body: Buffer): boolean {
  if (!header) return false;
  return secrets.some((secret) => safeEqual(header, signGithub(secret, body)));
}
