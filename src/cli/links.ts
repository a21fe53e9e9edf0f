import { Command } from "commander";
import { linkViews } from "../http/views.ts";
import { listCommand } from "./context.ts";

export function linksCommand(): Command {
  return listCommand(
    new Command("links").description(
      "show each account link's health: when it was made, last refreshed, last used, last error",
    ),
    {
      rows: linkViews,
      empty: "No account links yet: link Hearth in the Alexa or Google Home app (docs/account-linking.md).",
      columns: [
        ["USER", (l) => l.user],
        ["PLATFORM", (l) => l.platform],
        ["ACTIVE", (l) => (l.active ? "yes" : "no")],
        ["LINKED", (l) => l.linked_at],
        ["LAST REFRESH", (l) => l.last_refresh_at],
        ["LAST REQUEST", (l) => l.last_request_at],
        // What Hearth pushes to the platform: Alexa's events, Google's reports.
        ["PUSH", (l) => l.events?.state ?? l.reports?.state ?? null],
        ["LAST ERROR", (l) => (l.last_error ? `${l.last_error} (${l.last_error_at})` : null)],
      ],
    },
  );
}
