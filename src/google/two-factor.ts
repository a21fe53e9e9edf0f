/**
 * Two-factor verification of guarded commands: which commands need a spoken "yes" (`ack`) or the user's
 * PIN (`pin`), and checking what the user gave. Google's EXECUTE handler asks `guardedPolicy` for the
 * policy, calls `verify` with the `challenge` the request carried, and turns a refusal into
 * `challengeNeeded` or an error code; this module knows nothing else of Google's messages.
 *
 * The policy rule is in src/devices/guarded.ts.
 *
 * Checking:
 * - `ack` needs `challenge.ack === true`; anything else is answered `ackNeeded`. There is no lockout:
 *   there is nothing to guess.
 * - `pin` first checks that the user has a PIN (`challengeFailedNotSetup` otherwise: asking for one that
 *   cannot be checked helps nobody), then the lockout, then whether a PIN came at all (`pinNeeded`), and
 *   only then hashes it. The lockout is read from the database before any hash, so a locked-out user, or
 *   someone guessing for them, costs nothing. `google.pinAttempts` wrong PINs within
 *   `google.pinLockoutSeconds` lock the user out until the oldest of them is older than the window; the
 *   wrong PIN that reaches the limit is already answered `tooManyFailedAttempts`. A right PIN clears the
 *   failures. One user's PIN checks run one after another, so guesses sent in parallel cannot all pass
 *   the lockout check before the first failure is counted.
 * - Every attempt that carries a challenge, and every challenge issued, goes to the audit log as
 *   `two_factor` by `google:<user id>` on the device (`none` checks nothing and writes nothing). The PIN
 *   itself is never written, nor logged.
 *
 * PINs are 4 to 8 digits, because they are spoken: the Assistant hears "four seven one one" reliably,
 * while letters, case and symbols are misheard or have to be spelled out.
 *
 * They are hashed with the process's password hasher (`passwordHasher`, scrypt N=2^17, r=8, p=1) rather
 * than a cheaper one. The online guessing rate is bounded by the lockout, whatever the cost; the cost
 * only matters once the database is copied, and then it is all there is between the copy and the PIN.
 * With 10^4 to 10^8 possible PINs that protection is thin already (a 4-digit PIN falls in about an hour
 * on one core at this cost), and people reuse the code of their door keypad or bank card; a lower cost
 * would make that minutes. The price is about 0.4 s on a guarded EXECUTE, well within Google's budget,
 * paid at most `pinAttempts` times per user and window thanks to the lockout, and the shared hasher's
 * gate keeps PIN checks and logins together at two hashes at a time.
 */
import type { Config, TwoFactorPolicy } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { AccountError } from "../oauth/errors.ts";
import { type PasswordHasher, passwordHasher } from "../oauth/passwords.ts";
import type { Store } from "../store/index.ts";

export {
  type GuardedChange,
  type GuardedDevice,
  guardedPolicy,
  PIN_GUARDED_COVER_CLASSES,
  type TwoFactorOverrides,
} from "../devices/guarded.ts";

export const PIN_MIN_DIGITS = 4;
export const PIN_MAX_DIGITS = 8;
const PIN_PATTERN = new RegExp(`^[0-9]{${PIN_MIN_DIGITS},${PIN_MAX_DIGITS}}$`);

/** Why `pin` cannot be a PIN, or undefined when it can. Never repeats the PIN. */
export function pinProblem(pin: string): string | undefined {
  if (PIN_PATTERN.test(pin)) return undefined;
  return `a PIN is ${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} digits (0–9), nothing else`;
}

export class PinError extends Error {
  override readonly name = "PinError";
}

/** What Google re-sends after a challenge. */
export interface ChallengeAnswer {
  pin?: string;
  ack?: boolean;
}

export type ChallengeType = "ackNeeded" | "pinNeeded" | "challengeFailedPinNeeded";
export type TwoFactorErrorCode = "tooManyFailedAttempts" | "challengeFailedNotSetup";

export type VerifyResult =
  | { ok: true }
  | { ok: false; challenge: ChallengeType }
  | { ok: false; error: TwoFactorErrorCode };

export interface VerifyRequest {
  userId: string;
  deviceId: string;
  policy: TwoFactorPolicy;
  challenge?: ChallengeAnswer;
}

export type TwoFactorOutcome = "challenged" | "ok" | "wrong_pin" | "locked_out" | "not_set_up" | "acknowledged";

export const TWO_FACTOR_ACTION = "two_factor";

export interface TwoFactorDeps {
  store: Store;
  config: Pick<Config, "google">;
  /** Default: the process's password hasher (see the module comment). */
  hasher?: Pick<PasswordHasher, "hash" | "verify">;
  now?: () => number;
  log: Logger;
}

export class TwoFactor {
  private readonly store: Store;
  private readonly config: Pick<Config, "google">;
  private readonly hasher: Pick<PasswordHasher, "hash" | "verify">;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Per user, the end of the queue of PIN checks in progress. */
  private readonly pinChecks = new Map<string, Promise<unknown>>();

  constructor(deps: TwoFactorDeps) {
    this.store = deps.store;
    this.config = deps.config;
    this.hasher = deps.hasher ?? passwordHasher;
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
  }

  async verify(request: VerifyRequest): Promise<VerifyResult> {
    switch (request.policy) {
      case "none":
        return { ok: true };
      case "ack":
        return this.verifyAck(request);
      case "pin":
        return this.oneAtATime(request.userId, () => this.verifyPin(request));
    }
  }

  /** Sets or replaces a user's PIN (and forgets their failed attempts). */
  async setPin(userId: string, pin: string, actor = "admin"): Promise<void> {
    const problem = pinProblem(pin);
    if (problem) throw new PinError(problem);
    const hash = await this.hasher.hash(pin);
    if (!this.store.pins.set(userId, hash, this.now()))
      throw new AccountError("unknown_user", `no user with id "${userId}"`);
    this.store.audit.record({ actor, action: "pin_set", target: userId, outcome: "ok" }, this.now());
    this.log.info({ userId }, "PIN set");
  }

  /** Removes a user's PIN; false when they had none. Their guarded commands then fail as not set up. */
  async removePin(userId: string, actor = "admin"): Promise<boolean> {
    const removed = this.store.pins.remove(userId);
    if (removed) {
      this.store.audit.record({ actor, action: "pin_removed", target: userId, outcome: "ok" }, this.now());
      this.log.info({ userId }, "PIN removed");
    }
    return removed;
  }

  /** When the user's lockout ends (ms), or undefined when they are not locked out. */
  lockedOutUntil(userId: string, now = this.now()): number | undefined {
    const { pinAttempts } = this.config.google;
    const windowMs = this.windowMs();
    const failures = this.store.pins.failuresSince(userId, now - windowMs);
    if (failures.length < pinAttempts) return undefined;
    // Below the limit again once all but pinAttempts - 1 of them have aged out.
    return (failures[failures.length - pinAttempts] as number) + windowMs;
  }

  private verifyAck({ userId, deviceId, challenge }: VerifyRequest): VerifyResult {
    if (challenge?.ack === true) {
      this.audit(userId, deviceId, "acknowledged");
      return { ok: true };
    }
    this.audit(userId, deviceId, "challenged", "ackNeeded");
    return { ok: false, challenge: "ackNeeded" };
  }

  private async verifyPin({ userId, deviceId, challenge }: VerifyRequest): Promise<VerifyResult> {
    const stored = this.store.pins.hash(userId);
    if (stored === undefined) {
      this.audit(userId, deviceId, "not_set_up");
      return { ok: false, error: "challengeFailedNotSetup" };
    }
    const lockedUntil = this.lockedOutUntil(userId);
    if (lockedUntil !== undefined) {
      this.audit(userId, deviceId, "locked_out", `until ${new Date(lockedUntil).toISOString()}`);
      return { ok: false, error: "tooManyFailedAttempts" };
    }
    const pin = challenge?.pin;
    if (typeof pin !== "string") {
      this.audit(userId, deviceId, "challenged", "pinNeeded");
      return { ok: false, challenge: "pinNeeded" };
    }
    // A string that cannot be a PIN is wrong without a hash, and counts as a guess like any other.
    if (pinProblem(pin) === undefined && (await this.hasher.verify(pin, stored))) {
      this.store.pins.clearFailures(userId);
      this.audit(userId, deviceId, "ok");
      return { ok: true };
    }
    return this.countWrongPin(userId, deviceId);
  }

  private countWrongPin(userId: string, deviceId: string): VerifyResult {
    const now = this.now();
    this.store.pins.recordFailure(userId, now);
    this.store.pins.pruneFailures(now - this.windowMs());
    const { pinAttempts } = this.config.google;
    const failures = this.store.pins.failuresSince(userId, now - this.windowMs()).length;
    if (failures < pinAttempts) {
      this.audit(userId, deviceId, "wrong_pin", `failure ${failures} of ${pinAttempts}`);
      return { ok: false, challenge: "challengeFailedPinNeeded" };
    }
    const until = this.lockedOutUntil(userId, now) ?? now + this.windowMs();
    const untilIso = new Date(until).toISOString();
    this.audit(userId, deviceId, "wrong_pin", `failure ${failures} of ${pinAttempts}; locked out until ${untilIso}`);
    this.log.warn(
      { userId, deviceId, failures, until: untilIso },
      "too many wrong PINs: guarded commands are refused for this user until the lockout ends",
    );
    return { ok: false, error: "tooManyFailedAttempts" };
  }

  private windowMs(): number {
    return this.config.google.pinLockoutSeconds * 1000;
  }

  private audit(userId: string, deviceId: string, outcome: TwoFactorOutcome, detail?: string): void {
    this.store.audit.record(
      {
        actor: `google:${userId}`,
        action: TWO_FACTOR_ACTION,
        target: deviceId,
        outcome,
        ...(detail === undefined ? {} : { detail }),
      },
      this.now(),
    );
  }

  /** Runs `task` after every earlier PIN check of the same user has finished. */
  private oneAtATime<T>(userId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.pinChecks.get(userId) ?? Promise.resolve();
    const result = previous.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.pinChecks.set(userId, settled);
    void settled.then(() => {
      if (this.pinChecks.get(userId) === settled) this.pinChecks.delete(userId);
    });
    return result;
  }
}
