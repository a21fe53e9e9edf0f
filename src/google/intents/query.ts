/**
 * QUERY: the devices' states from the store, never by asking a node. An offline node's devices are
 * `OFFLINE`; an id Hearth does not know (a device removed since the last SYNC) is `deviceNotFound`.
 */
import { sceneIdOfEndpoint } from "../../scenes/index.ts";
import type { IntentContext } from "../context.ts";
import { deviceStates, isExposed, present } from "../devices.ts";
import { GoogleError } from "../errors.ts";
import { QueryPayloadSchema } from "../messages.ts";

export function query(ctx: IntentContext, payload: unknown) {
  const parsed = QueryPayloadSchema.safeParse(payload);
  if (!parsed.success) throw new GoogleError("protocolError", "QUERY needs payload.devices");
  const devices: Record<string, unknown> = {};
  for (const { id } of parsed.data.devices) {
    const sceneId = sceneIdOfEndpoint(id);
    if (sceneId !== undefined) {
      devices[id] = ctx.scenes.get(sceneId)
        ? { online: true, status: "SUCCESS" }
        : { online: false, status: "ERROR", errorCode: "deviceNotFound" };
      continue;
    }
    const record = ctx.store.devices.get(id);
    const device = record ? present(record, ctx.config) : undefined;
    if (!device || !isExposed(device)) devices[id] = { online: false, status: "ERROR", errorCode: "deviceNotFound" };
    else if (!device.online) devices[id] = { ...deviceStates(device), status: "OFFLINE" };
    else devices[id] = { ...deviceStates(device), status: "SUCCESS" };
  }
  return { devices };
}
