/**
 * User passwords: the one secret in Hearth that a person chooses, so the one hashed with a slow KDF.
 *
 * scrypt N=2^17, r=8, p=1 (OWASP's setting) costs about 0.4 s and 128 MiB per hash. It always runs
 * through the async `crypto.scrypt`, on libuv's thread pool: the sync call would stall every Alexa
 * directive for that long. A gate lets at most two hashes run at once and queues the rest in order, so
 * a burst of logins costs waiting time instead of 128 MiB per thread. The rate limiter in front of the
 * login keeps that queue short.
 *
 * Stored format: `scrypt$<log2 N>$<r>$<p>$<salt>$<key>` (salt and key in unpadded base64). The string
 * carries its own parameters, so raising the cost later keeps old hashes verifiable; `needsRehash`
 * says when a stored hash should be replaced at the next successful login.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { ConcurrencyGate } from "../security/concurrency-gate.ts";

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost. */
  log2N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** What new hashes use in production. */
export const PRODUCTION_COST: Readonly<ScryptCost> = Object.freeze({ log2N: 17, r: 8, p: 1 });

export const DEFAULT_CONCURRENCY = 2;
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 1024;

const SCHEME = "scrypt";
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** scrypt needs 128·N·r bytes: 128 MiB at the production cost, four times Node's default `maxmem`. */
const MAX_MEMORY = 256 * 1024 * 1024;

/** The key derivation; injectable so tests can watch how many run at once. */
export type Kdf = (password: string, salt: Buffer, keyLength: number, options: ScryptOptions) => Promise<Buffer>;

export const scryptKdf: Kdf = (password, salt, keyLength, options) =>
  new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });

export interface ParsedPasswordHash extends ScryptCost {
  salt: Buffer;
  key: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+$/;
const DECIMAL = /^[1-9][0-9]{0,2}$/;

function costProblem({ log2N, r, p }: ScryptCost): string | undefined {
  if (![log2N, r, p].every((n) => Number.isInteger(n) && n >= 1)) return "log2N, r and p must be positive integers";
  if (log2N > 30 || r > 64 || p > 16) return "log2N must be ≤ 30, r ≤ 64 and p ≤ 16";
  if (128 * 2 ** log2N * r > MAX_MEMORY) return `N and r need more than ${MAX_MEMORY / 2 ** 20} MiB`;
  return undefined;
}

/** The parts of a stored hash, or undefined when it is not a well-formed scrypt string this code can check. */
export function parsePasswordHash(stored: string): ParsedPasswordHash | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== SCHEME) return undefined;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  if (![n, r, p].every((part) => DECIMAL.test(part)) || !B64.test(salt) || !B64.test(key)) return undefined;
  const cost = { log2N: Number(n), r: Number(r), p: Number(p) };
  if (costProblem(cost)) return undefined;
  const parsed = { ...cost, salt: Buffer.from(salt, "base64"), key: Buffer.from(key, "base64") };
  // A fixed key length: scrypt's output for a shorter length is a prefix of the longer one, so a
  // truncated string would otherwise still verify.
  if (parsed.salt.length < SALT_BYTES || parsed.key.length !== KEY_BYTES) return undefined;
  return parsed;
}

function formatHash(cost: ScryptCost, salt: Buffer, key: Buffer): string {
  const b64 = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "");
  return [SCHEME, cost.log2N, cost.r, cost.p, b64(salt), b64(key)].join("$");
}

/**
 * The same password typed on a Mac terminal and in an Android browser can arrive as different Unicode
 * sequences (decomposed or composed accents); both are hashed in NFC so that they match.
 */
function normalize(password: string): string {
  return password.normalize("NFC");
}

export interface PasswordHasherOptions {
  /** Cost of new hashes (default: PRODUCTION_COST). Tests use log2N 10. */
  cost?: ScryptCost;
  /** Hashes allowed to run at once (default 2). */
  concurrency?: number;
  kdf?: Kdf;
}

export class PasswordHasher {
  readonly cost: Readonly<ScryptCost>;
  private readonly gate: ConcurrencyGate;
  private readonly kdf: Kdf;

  constructor(options: PasswordHasherOptions = {}) {
    const cost = { ...(options.cost ?? PRODUCTION_COST) };
    const problem = costProblem(cost);
    if (problem) throw new RangeError(`invalid scrypt cost: ${problem}`);
    this.cost = Object.freeze(cost);
    this.gate = new ConcurrencyGate(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.kdf = options.kdf ?? scryptKdf;
  }

  /** Hashes running now and hashes waiting for a slot. */
  get load(): { active: number; waiting: number } {
    return { active: this.gate.active, waiting: this.gate.waiting };
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.derive(password, this.cost, salt, KEY_BYTES);
    return formatHash(this.cost, salt, key);
  }

  /**
   * True when `password` matches `stored`; false for a wrong password or a malformed string. With no
   * stored hash (an unknown user name) it still spends one hash, so that the answer's timing does not
   * tell which user names exist.
   */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    const parsed = stored === undefined ? undefined : parsePasswordHash(stored);
    if (!parsed) {
      await this.hash(password);
      return false;
    }
    const key = await this.derive(password, parsed, parsed.salt, KEY_BYTES);
    return timingSafeEqual(key, parsed.key);
  }

  /** True when `stored` was made with other parameters than new hashes get (or cannot be read). */
  needsRehash(stored: string): boolean {
    const parsed = parsePasswordHash(stored);
    if (!parsed) return true;
    const { log2N, r, p } = this.cost;
    return parsed.log2N !== log2N || parsed.r !== r || parsed.p !== p;
  }

  private derive(password: string, cost: ScryptCost, salt: Buffer, keyLength: number): Promise<Buffer> {
    const options: ScryptOptions = { N: 2 ** cost.log2N, r: cost.r, p: cost.p, maxmem: MAX_MEMORY };
    return this.gate.run(() => this.kdf(normalize(password), salt, keyLength, options));
  }
}

/** The process's hasher: one gate for every caller, so the limit holds for the whole daemon. */
export const passwordHasher = new PasswordHasher();

export function hashPassword(password: string): Promise<string> {
  return passwordHasher.hash(password);
}

export function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  return passwordHasher.verify(password, stored);
}

export function needsRehash(stored: string): boolean {
  return passwordHasher.needsRehash(stored);
}

/**
 * Why `password` is not acceptable for `userName`, or undefined when it is. Lengths count characters
 * (code points) after normalisation, as a person would count them.
 */
export function passwordProblem(password: string, userName?: string): string | undefined {
  const normalized = normalize(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return `the password is too short: it needs at least ${PASSWORD_MIN_LENGTH} characters, this one has ${length}`;
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return `the password is too long: at most ${PASSWORD_MAX_LENGTH} characters, this one has ${length}`;
  }
  // No one can type a line break or a control character into the login page's password field.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control range is what is being refused
  if (/[\u0000-\u001f\u007f]/.test(normalized)) {
    return "the password must not contain line breaks, tabs or other control characters";
  }
  if (userName !== undefined && normalized.toLowerCase() === normalize(userName).toLowerCase()) {
    return "the password must not be the user name";
  }
  return undefined;
}
