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

/** Short unique ids for rows: 96 random bits, URL-safe, 16 characters. */
export function newId(): string {
  return randomBytes(12).toString("base64url");
}

/** base64url's 64 characters in ASCII order, so that a string of them sorts as the bytes it encodes. */
const SORTED_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/**
 * Ids for rows written at a high rate (the command log): 16 URL-safe characters like newId, of which the
 * first 8 are the time in milliseconds and the last 8 are 48 random bits, encoded so that later ids sort
 * after earlier ones. SQLite then appends each new key at the end of the primary-key index instead of at
 * a random place in it, which touches fewer pages per commit: a command's log row costs about a quarter
 * less, and the gap grows with the table. Not for anything that must be unguessable.
 */
export function newOrderedId(now: number = Date.now()): string {
  const bytes = Buffer.allocUnsafe(12);
  bytes.writeUIntBE(Math.max(0, Math.min(now, 2 ** 48 - 1)), 0, 6);
  randomBytes(6).copy(bytes, 6);
  let id = "";
  for (let i = 0; i < 12; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    id +=
      (SORTED_ALPHABET[(n >> 18) & 63] as string) +
      (SORTED_ALPHABET[(n >> 12) & 63] as string) +
      (SORTED_ALPHABET[(n >> 6) & 63] as string) +
      (SORTED_ALPHABET[n & 63] as string);
  }
  return id;
}
