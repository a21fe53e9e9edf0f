import { Command } from "commander";
import { linkView } from "../http/views.ts";
import { type CommonOptions, printJson, printTable, withCommonOptions, withStore } from "./context.ts";

export function linksCommand(): Command {
  return withCommonOptions(new Command("links"))
    .description("show each account link's health: when it was made, last refreshed, last used, last error")
    .option("--json", "print JSON")
    .action((options: CommonOptions & { json?: boolean }) =>
      withStore(options, async (store) => {
        const links = store.grants.links().map(linkView);
        if (options.json) return printJson(links);
        if (links.length === 0) {
          process.stdout.write(
            "No account links yet: link Hearth in the Alexa or Google Home app (docs/account-linking.md).\n",
          );
          return;
        }
        printTable(
          ["USER", "PLATFORM", "ACTIVE", "LINKED", "LAST REFRESH", "LAST REQUEST", "LAST ERROR"],
          links.map((l) => [
            l.user,
            l.platform,
            l.active ? "yes" : "no",
            l.linked_at,
            l.last_refresh_at,
            l.last_request_at,
            l.last_error ? `${l.last_error} (${l.last_error_at})` : null,
          ]),
        );
      }),
    );
}
