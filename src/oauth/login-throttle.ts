/**
 * Growing delays for failed logins, per account and per address. The first few failures are free; after
 * that each one doubles the wait before the next attempt is even looked at, up to a ceiling. Nothing is
 * ever locked for good — a correct password after the wait still works — so an attacker who knows a user
 * name cannot lock its owner out; they can only slow themselves down. Checked before the password hash,
 * so a flood of guesses costs a map lookup, not 0.4 s of scrypt each.
 */
export interface ThrottleOptions {
  /** Failures allowed before any delay. */
  freeFailures?: number;
  /** Delay after the first counted failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A key with no failure for this long is forgotten. */
  forgetAfterMs?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  /** No attempt for this key is examined before this time. */
  blockedUntil: number;
  lastFailure: number;
}

const MAX_KEYS = 10_000;

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;

  constructor(options: ThrottleOptions = {}) {
    this.freeFailures = options.freeFailures ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 24 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds to wait before any of these keys may try again (0: go ahead). */
  waitMs(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const entry = this.entry(key, now);
      if (entry) wait = Math.max(wait, entry.blockedUntil - now);
    }
    return Math.max(0, wait);
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const entry = this.entry(key, now) ?? { failures: 0, blockedUntil: 0, lastFailure: now };
      entry.failures += 1;
      entry.lastFailure = now;
      const counted = entry.failures - this.freeFailures;
      if (counted > 0) entry.blockedUntil = now + Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (counted - 1));
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    // Bounded memory under a flood of distinct names or addresses: the oldest entries go first.
    while (this.entries.size > MAX_KEYS) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  recordSuccess(keys: readonly string[]): void {
    for (const key of keys) this.entries.delete(key);
  }

  private entry(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.lastFailure > this.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
