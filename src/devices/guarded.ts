/**
 * Guarded commands: which commands let someone into the house, and what an assistant must ask before
 * running them (nothing, a spoken "yes" = `ack`, or the user's PIN). Google asks through its two-factor
 * challenge (src/google/two-factor.ts); Alexa has no such challenge for scenes and refuses guarded ones.
 *
 * The rule:
 * - Unlocking and opening are the guarded actions of locks and covers: they let someone in. Locking and
 *   closing never ask (a door left open is the risk, not a door closed), nor does anything else (stop).
 *   The change is named by its target, not by the direction of travel: moving a cover to any position
 *   above 0 % is `open` (a garage door at 30 % lets a person under it), even when it was further open.
 * - By default unlocking a lock needs the PIN, and so does opening a cover of class garage, door, gate or
 *   window (the class from the config's override first, then the node's declaration). These are the
 *   cases Google requires a PIN for when it certifies an integration. Blinds, curtains, shutters, awnings
 *   and covers without a class need nothing.
 * - On every other device type every command is guarded, with `none` as the default: a switch may drive a
 *   garage door's relay, and only the user knows it does.
 * - `devices.<id>.twoFactor` in the config replaces the default for the device's guarded actions, in
 *   either direction: `none` lets a bedroom door's lock open without a PIN, `ack` or `pin` guards a switch.
 *
 * A scene is guarded by its most demanding action.
 */
import type { TwoFactorPolicy } from "../config/index.ts";
import type { CanonicalCommand, DeviceClass, DeviceType } from "../model/index.ts";
import type { Scene } from "../scenes/index.ts";
import type { DeviceRecord } from "../store/index.ts";

/** What a command does, as far as the policy cares. */
export type GuardedChange =
  | { kind: "unlock" }
  | { kind: "lock" }
  | { kind: "open" }
  | { kind: "close" }
  | { kind: "other" };

/** What the policy needs of a device: a store DeviceRecord fits. */
export interface GuardedDevice {
  id: string;
  type: DeviceType;
  definition: { class?: DeviceClass };
}

/** The part of the config's `devices` overrides the policy reads. */
export type TwoFactorOverrides = Readonly<Record<string, { class?: DeviceClass; twoFactor?: TwoFactorPolicy }>>;

/** Cover classes that are a way into the house. */
export const PIN_GUARDED_COVER_CLASSES: ReadonlySet<DeviceClass> = new Set(["garage", "door", "gate", "window"]);

const LETS_SOMEONE_IN: ReadonlySet<GuardedChange["kind"]> = new Set(["unlock", "open"]);

/** The policy that applies to `change` on `device`; see the module comment for the rule. */
export function guardedPolicy(
  device: GuardedDevice,
  overrides: TwoFactorOverrides,
  change: GuardedChange,
): TwoFactorPolicy {
  const override = overrides[device.id];
  if (device.type === "lock" || device.type === "cover") {
    if (!LETS_SOMEONE_IN.has(change.kind)) return "none";
    if (override?.twoFactor !== undefined) return override.twoFactor;
    if (device.type === "lock") return "pin";
    const deviceClass = override?.class ?? device.definition.class;
    return deviceClass !== undefined && PIN_GUARDED_COVER_CLASSES.has(deviceClass) ? "pin" : "none";
  }
  return override?.twoFactor ?? "none";
}

/** What a command on a device does, as the policy cares: does it let someone in? */
export function changeOf(
  device: GuardedDevice & { definition: DeviceRecord["definition"] },
  command: CanonicalCommand,
): GuardedChange {
  const { locked, position } = command.params ?? {};
  if (device.type === "lock" && typeof locked === "boolean") return { kind: locked ? "lock" : "unlock" };
  // Any position above closed leaves the way in open, whatever it was before.
  if (device.type === "cover" && typeof position === "number") {
    const closed = device.definition.params.find((p) => p.id === "position")?.min ?? 0;
    return { kind: position > closed ? "open" : "close" };
  }
  return { kind: "other" };
}

const STRENGTH: Record<TwoFactorPolicy, number> = { none: 0, ack: 1, pin: 2 };

/** The most demanding policy among a scene's actions; an action on an unknown device asks nothing. */
export function scenePolicy(
  scene: Scene,
  devices: (id: string) => DeviceRecord | undefined,
  overrides: TwoFactorOverrides,
): TwoFactorPolicy {
  let strongest: TwoFactorPolicy = "none";
  for (const action of scene.actions) {
    const device = devices(action.device);
    if (!device) continue;
    const command: CanonicalCommand = { ...(action.op ? { op: action.op } : {}), params: action.params ?? {} };
    const policy = guardedPolicy(device, overrides, changeOf(device, command));
    if (STRENGTH[policy] > STRENGTH[strongest]) strongest = policy;
  }
  return strongest;
}
