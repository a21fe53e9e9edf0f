/**
 * Machine-generated secrets (node MQTT passwords, admin API tokens). They carry 128+ bits of randomness,
 * so a single SHA-256 is a sufficient one-way hash for storage: a slow KDF only matters for secrets a
 * person chose. User passwords (account linking) use scrypt instead. Comparisons are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

export function hashSecret(secret: string): string {
  return `sha256:${createHash("sha256").update(secret, "utf8").digest("hex")}`;
}

export function verifySecret(secret: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, "utf8");
  const actual = Buffer.from(hashSecret(secret), "utf8");
  // Equal lengths by construction for well-formed hashes; a malformed stored hash simply never matches.
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Short unique ids for commands and rows: 96 random bits, URL-safe, 16 characters. */
export function newId(): string {
  return randomBytes(12).toString("base64url");
}
