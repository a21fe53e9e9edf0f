import { Command } from "commander";
import { deviceView } from "../http/views.ts";
import { type CommonOptions, printJson, printTable, withCommonOptions, withStore } from "./context.ts";

export function devicesCommand(): Command {
  return withCommonOptions(new Command("devices"))
    .description("list devices with their last confirmed state and online flag (from the store)")
    .option("--json", "print JSON")
    .action((options: CommonOptions & { json?: boolean }) => {
      return withStore(options, async (store) => {
        const devices = store.devices.list().map(deviceView);
        if (options.json) return printJson(devices);
        if (devices.length === 0) {
          process.stdout.write(
            "No devices yet: a node announces its devices when it connects (try `hearth sim --nodes 1`).\n",
          );
          return;
        }
        printTable(
          ["DEVICE", "TYPE", "NAME", "ONLINE", "STATE"],
          devices.map((d) => [
            d.id,
            d.type,
            d.name,
            d.online ? "yes" : "no",
            Object.entries(d.state)
              .map(([k, v]) => `${k}=${v}`)
              .join(" "),
          ]),
        );
      });
    });
}
