/**
 * When a failed delivery is tried again: the Standard Webhooks schedule (immediately, then 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after each failure: 10 attempts, the last 75 h 35 m after
 * the first), each wait stretched or shrunk by up to 10 % so that receivers coming back from an outage are
 * not hit by every sender at the same second. A receiver's `Retry-After` can only lengthen a wait.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The wait after the 1st, 2nd, … failed attempt. */
export const RETRY_DELAYS_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
];

/** The first attempt and one per retry. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

export const JITTER = 0.1;

/**
 * A `Retry-After` is followed up to this long: a receiver must not park a delivery for months, and the
 * longest wait of the schedule is as long as any of its waits gets.
 */
export const MAX_RETRY_AFTER_MS = 24 * HOUR;

/** `Retry-After` as a wait in ms from `now`: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d{1,10}$/.test(value)) return Number(value) * SECOND;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * When to try again after `attempts` failed attempts, or undefined when that was the last one. `random`
 * returns [0, 1) as Math.random does.
 */
export function nextAttemptAt(
  attempts: number,
  now: number,
  random: () => number,
  retryAfterMs?: number,
): number | undefined {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return undefined;
  const scheduled = Math.round(base * (1 + (random() * 2 - 1) * JITTER));
  const asked = Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return now + Math.max(scheduled, asked);
}
