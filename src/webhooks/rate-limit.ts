/**
 * Calls per hook and minute, as a token bucket: a hook may spend its whole minute at once and then gets
 * one call back every 60/limit seconds. Checked before the body is read or any HMAC computed, so a
 * flood costs a map lookup per request. Buckets exist only for hooks that exist, so memory stays bounded.
 */

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number; firstRefusal: boolean };

/** The most buckets kept; an evicted one starts full again, which only forgives its least recent caller. */
const MAX_BUCKETS = 10_000;

/** One call's worth of credit: credit is counted in integers so that no rounding lets a call slip through. */
const CALL = 60_000;

interface Bucket {
  /** Credit left, in CALL units per call; it grows by `perMinute` every millisecond. */
  credit: number;
  updatedAt: number;
  /** Set by the first refusal, cleared by the next allowed call: one audit entry per burst. */
  refusing: boolean;
}

export class HookRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = perMinute * CALL;
  }

  take(hookId: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(hookId) ?? { credit: this.capacity, updatedAt: now, refusing: false };
    // A clock stepped back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.credit = Math.min(this.capacity, bucket.credit + elapsed * this.perMinute);
    bucket.updatedAt = now;
    // Re-inserted so that the map's order is least recently used first: keyed by caller address (firmware
    // downloads), the keys are the attacker's to choose, so the oldest bucket goes once there are too many.
    this.buckets.delete(hookId);
    this.buckets.set(hookId, bucket);
    if (this.buckets.size > MAX_BUCKETS) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.credit >= CALL) {
      bucket.credit -= CALL;
      bucket.refusing = false;
      return { allowed: true };
    }
    const firstRefusal = !bucket.refusing;
    bucket.refusing = true;
    const waitMs = Math.ceil((CALL - bucket.credit) / this.perMinute);
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)), firstRefusal };
  }

  /** Drops the bucket of a hook that no longer exists. */
  forget(hookId: string): void {
    this.buckets.delete(hookId);
  }
}
