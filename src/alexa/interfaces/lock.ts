/**
 * Alexa.LockController. The reported state is the node's `lock_state` when it declares one (it knows
 * "jammed"); while the bolt moves, the lock is still where it started, whatever `locked` already says.
 * Without `lock_state`, `locked` is all there is. Alexa asks for the voice PIN before an unlock itself.
 */
import { type AlexaDevice, type AlexaInterface, setsParam, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.LockController";
const BOLT: Record<string, string> = {
  locked: "LOCKED",
  unlocked: "UNLOCKED",
  jammed: "JAMMED",
  locking: "UNLOCKED",
  unlocking: "LOCKED",
};

export function lockState(device: AlexaDevice): string | undefined {
  const bolt = typeof device.state.lock_state === "string" ? BOLT[device.state.lock_state] : undefined;
  if (bolt) return bolt;
  if (typeof device.state.locked === "boolean") return device.state.locked ? "LOCKED" : "UNLOCKED";
  return undefined;
}

export const lockController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "lock" && writable(device, "locked") !== undefined,
  capabilities: () => [reportedCapability(NAMESPACE, ["lockState"])],
  properties: (device) => {
    const value = lockState(device);
    return value ? [{ namespace: NAMESPACE, name: "lockState", value, sources: ["locked", "lock_state"] }] : [];
  },
  directives: {
    Lock: setsParam("locked", true),
    Unlock: setsParam("locked", false),
  },
};
