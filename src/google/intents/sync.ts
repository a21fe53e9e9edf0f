/**
 * SYNC: every device Google can use and every scene, for the user who linked. All devices belong to the
 * household, so every linked user gets the same list; `agentUserId` is the user's own id, which never
 * changes (Report State and Request Sync are keyed on it).
 */
import type { IntentContext, Principal } from "../context.ts";
import { isExposed, present, syncDevice, syncScene } from "../devices.ts";

export function sync(ctx: IntentContext, principal: Principal) {
  // A SYNC is Google asking for this user's devices: whatever broke the link before, it works now. Written
  // only on a change: a SYNC must not cost a durable write each time.
  const before = ctx.store.googleLinks.get(principal.userId)?.state;
  if (before !== "active") {
    ctx.store.googleLinks.markActive(principal.userId, ctx.now());
    // A link that was broken works again; a new one was announced when it was made.
    if (before === "broken") ctx.store.grants.clearLinkError(principal.userId, "google", ctx.now());
  }
  const nodes = new Map(ctx.store.nodes.list().map((node) => [node.id, node]));
  const devices = ctx.store.devices
    .list()
    .map((record) => present(record, ctx.config))
    .filter(isExposed)
    .map((device) => syncDevice(device, nodes.get(device.nodeId)));
  return { agentUserId: principal.userId, devices: [...devices, ...ctx.scenes.list().map(syncScene)] };
}
