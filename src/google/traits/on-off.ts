/** OnOff: switches, plugs, lights and fans with an `on` param. */
import { command, trait } from "../messages.ts";
import { type GoogleTrait, paramBoolean, writable } from "../trait.ts";

export const onOff: GoogleTrait = {
  name: trait("OnOff"),
  appliesTo: (device) => writable(device, "on") !== undefined,
  attributes: () => ({}),
  states: (device) => (typeof device.state.on === "boolean" ? { on: device.state.on } : {}),
  commands: {
    [command("OnOff")]: (params) => ({ params: { on: paramBoolean(params, "on") } }),
  },
};
