/**
 * LockUnlock. A lock is reported where its bolt is: while it moves, where it started (a lock that is
 * `locking` is not locked yet), whatever `locked` already says; `jammed` is `isJammed`.
 */
import { command, trait } from "../messages.ts";
import { type GoogleDevice, type GoogleTrait, paramBoolean, present, writable } from "../trait.ts";

const BOLT_LOCKED: Record<string, boolean> = { locked: true, unlocked: false, locking: false, unlocking: true };

export function isLocked(device: GoogleDevice): boolean | undefined {
  const bolt = device.state.lock_state;
  if (typeof bolt === "string" && bolt in BOLT_LOCKED) return BOLT_LOCKED[bolt];
  return typeof device.state.locked === "boolean" ? device.state.locked : undefined;
}

export const lockUnlock: GoogleTrait = {
  name: trait("LockUnlock"),
  appliesTo: (device) => device.type === "lock" && writable(device, "locked") !== undefined,
  attributes: () => ({}),
  states: (device) =>
    present({
      isLocked: isLocked(device),
      isJammed: typeof device.state.lock_state === "string" ? device.state.lock_state === "jammed" : undefined,
    }),
  commands: {
    [command("LockUnlock")]: (params) => ({ params: { locked: paramBoolean(params, "lock") } }),
  },
};
