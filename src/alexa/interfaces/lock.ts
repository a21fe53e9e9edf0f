/**
 * Alexa.LockController. The reported state prefers the node's `lock_state` (which knows "jammed");
 * while a lock is still moving, the `locked` param says where it is heading. Alexa asks for the voice
 * PIN before an unlock on its own side.
 */
import { type AlexaDevice, type AlexaInterface, requireWritable, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.LockController";
const SETTLED: Record<string, string> = { locked: "LOCKED", unlocked: "UNLOCKED", jammed: "JAMMED" };

export function lockState(device: AlexaDevice): string | undefined {
  const settled = typeof device.state.lock_state === "string" ? SETTLED[device.state.lock_state] : undefined;
  if (settled) return settled;
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
    Lock: (_directive, device) => {
      requireWritable(device, "locked");
      return { params: { locked: true } };
    },
    Unlock: (_directive, device) => {
      requireWritable(device, "locked");
      return { params: { locked: false } };
    },
  },
};
