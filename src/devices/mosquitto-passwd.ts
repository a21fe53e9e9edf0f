/**
 * Password-file lines for an external mosquitto 2.x broker.
 *
 * When nodes connect to a mosquitto run by the user instead of the embedded broker, each node needs a line in
 * that broker's `password_file`. Hearth hands the line to the operator and never
 * stores the node's password itself: only the node and the salted hash in the broker's file know it.
 *
 * The format is the one `mosquitto_passwd` 2.x writes:
 *
 *   `<username>:$7$<iterations>$<base64 salt>$<base64 hash>`
 *
 * with PBKDF2-HMAC-SHA512, 101 iterations, a random 12-byte salt and a 64-byte derived key, both in standard
 * base64 with padding. The broker hashes the UTF-8 bytes of the password the client sends with the salt and
 * iteration count read from the line, so these values only have to match what it can parse, not be secret.
 */
import { pbkdf2, pbkdf2Sync, randomBytes } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

/** The values `mosquitto_passwd` 2.0 uses; the iteration count is stored in the line. */
export const MOSQUITTO_PBKDF2 = {
  iterations: 101,
  saltBytes: 12,
  keyBytes: 64,
  digest: "sha512",
} as const;

export class MosquittoPasswdError extends Error {
  override readonly name = "MosquittoPasswdError";
}

function validate(username: string, password: string): void {
  if (username.length === 0) {
    throw new MosquittoPasswdError("mosquitto username must not be empty");
  }
  // The file is `user:hash` per line: a colon or line break would split the line somewhere else.
  if (/[:\r\n\0]/.test(username)) {
    throw new MosquittoPasswdError("mosquitto username must not contain ':', a line break or NUL");
  }
  if (username.trim() !== username) {
    throw new MosquittoPasswdError("mosquitto username must not start or end with whitespace");
  }
  // The broker treats the password as a C string, so anything after a NUL would be ignored.
  if (password.includes("\0")) {
    throw new MosquittoPasswdError("mosquitto password must not contain NUL");
  }
}

function formatLine(username: string, salt: Buffer, key: Buffer): string {
  return `${username}:$7$${MOSQUITTO_PBKDF2.iterations}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/**
 * One `password_file` line (without a trailing newline) for `username` in mosquitto's `$7$` PBKDF2-SHA512
 * format. A fresh random salt is used on every call, so two lines for the same password differ.
 */
export function mosquittoPasswordLine(username: string, password: string): string {
  validate(username, password);
  const salt = randomBytes(MOSQUITTO_PBKDF2.saltBytes);
  const { iterations, keyBytes, digest } = MOSQUITTO_PBKDF2;
  return formatLine(username, salt, pbkdf2Sync(password, salt, iterations, keyBytes, digest));
}

/** Same as {@link mosquittoPasswordLine}, with the key derivation on the libuv thread pool. */
export async function mosquittoPasswordLineAsync(username: string, password: string): Promise<string> {
  validate(username, password);
  const salt = randomBytes(MOSQUITTO_PBKDF2.saltBytes);
  const { iterations, keyBytes, digest } = MOSQUITTO_PBKDF2;
  return formatLine(username, salt, await pbkdf2Async(password, salt, iterations, keyBytes, digest));
}
