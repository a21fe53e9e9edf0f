import { Command } from "commander";
import { deviceView } from "../http/views.ts";
import { listCommand } from "./context.ts";

export function devicesCommand(): Command {
  return listCommand(
    new Command("devices").description("list devices with their last confirmed state and online flag (from the store)"),
    {
      rows: (store) => store.devices.list().map(deviceView),
      empty: "No devices yet: a node announces its devices when it connects (try `hearth sim --nodes 1`).",
      columns: [
        ["DEVICE", (d) => d.id],
        ["TYPE", (d) => d.type],
        ["NAME", (d) => d.name],
        ["ONLINE", (d) => (d.online ? "yes" : "no")],
        [
          "STATE",
          (d) =>
            Object.entries(d.state)
              .map(([k, v]) => `${k}=${v}`)
              .join(" "),
        ],
      ],
    },
  );
}
