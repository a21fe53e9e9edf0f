import { Command } from "commander";
import type { Config } from "../config/index.ts";
import type { IssuedHook } from "../store/index.ts";
import {
  CliError,
  type CommonOptions,
  daemonUrl,
  printJson,
  printTable,
  withCommonOptions,
  withStore,
} from "./context.ts";

interface AddOptions extends CommonOptions {
  devices?: string;
  scenes?: string;
  async?: boolean;
  unsigned?: boolean;
  json?: boolean;
}

/** `a, b,,c` → [a, b, c] */
function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** The hooks' admin module (express and zod), imported when a hook command runs rather than for every command. */
type HookAdmin = typeof import("../webhooks/hook-admin.ts");
const hookAdmin = (): Promise<HookAdmin> => import("../webhooks/hook-admin.ts");

function baseUrl(admin: HookAdmin, config: Config): string {
  return admin.hooksBaseUrl(config, daemonUrl(config));
}

function printIssued(admin: HookAdmin, issued: IssuedHook, config: Config, verb: string): void {
  const view = admin.issuedHookView(issued, baseUrl(admin, config));
  const lines: string[] = [];
  if (view.mode === "signed") {
    lines.push(
      `${verb} hook ${view.name}. Its secret is shown only now; give it to the sender.`,
      "",
      `  URL     ${view.url}`,
      `  Secret  ${issued.credential}`,
      "",
      "The sender signs each call with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)",
      "or, like GitHub, with X-Hub-Signature-256 (the whole secret, whsec_ included, is GitHub's Secret).",
    );
  } else {
    lines.push(
      `${verb} hook ${view.name}. Its URL carries the hook's token and is shown only now:`,
      "",
      `  URL  ${view.url}`,
      "",
      "Whoever sees this URL can call the hook, and calls can be replayed: prefer a signed hook when the",
      "sender can sign.",
    );
  }
  if (!config.publicUrl) {
    lines.push("", "publicUrl is not set (HEARTH_PUBLIC_URL): the URL is Hearth's local address.");
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function hookCommand(): Command {
  const hook = new Command("hook").description(
    "manage inbound webhooks: URLs that let another service command chosen devices and scenes",
  );

  withCommonOptions(hook.command("add <name>"))
    .description("add a hook and print its URL and its secret (or, with --unsigned, its token), shown once")
    .option("--devices <ids>", "devices the hook may command, comma-separated")
    .option("--scenes <ids>", "scenes the hook may activate, comma-separated")
    .option("--async", "answer at once with a tracking id and run the actions afterwards")
    .option("--unsigned", "no signatures: a random token in the URL is the only credential (weaker)")
    .option("--json", "print one JSON object")
    .action((name: string, options: AddOptions) => {
      return withStore(options, async (store, config) => {
        const admin = await hookAdmin();
        const parsed = admin.NewHookSchema.safeParse({
          name,
          devices: splitList(options.devices),
          scenes: splitList(options.scenes),
          async: options.async ?? false,
          unsigned: options.unsigned ?? false,
        });
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
          throw new CliError(`${where}${issue?.message ?? "invalid hook"}`);
        }
        const issued = store.hooks.add(parsed.data, Date.now());
        if (!issued) throw new CliError(`a hook named "${name}" exists; remove it first or rotate its secret`);
        admin.auditHookChange(store, "cli", "hook_add", issued.hook, Date.now());
        if (options.json) return printJson(admin.issuedHookView(issued, baseUrl(admin, config)));
        printIssued(admin, issued, config, "Added");
      });
    });

  // Not listCommand: the URLs need the config as well as the store.
  withCommonOptions(hook.command("list"))
    .description("list hooks with their URLs (secrets and tokens are never shown)")
    .option("--json", "print JSON")
    .action((options: CommonOptions & { json?: boolean }) =>
      withStore(options, async (store, config) => {
        const admin = await hookAdmin();
        const rows = store.hooks.list().map((h) => admin.hookView(h, baseUrl(admin, config)));
        if (options.json) return printJson(rows);
        if (rows.length === 0) {
          return void process.stdout.write("No hooks yet: add one with `hearth hook add <name> --devices <id>`.\n");
        }
        printTable(
          ["NAME", "MODE", "ASYNC", "DEVICES", "SCENES", "LAST USED", "URL"],
          rows.map((h) => [
            h.name,
            h.mode,
            h.async ? "yes" : "no",
            h.devices.join(",") || null,
            h.scenes.join(",") || null,
            h.last_used_at,
            h.url,
          ]),
        );
      }),
    );

  withCommonOptions(hook.command("remove <name>"))
    .description("remove a hook; its URL stops working at once")
    .action((name: string, options: CommonOptions) => {
      return withStore(options, async (store) => {
        const admin = await hookAdmin();
        const existing = store.hooks.getByName(name);
        if (!existing || !store.hooks.remove(name)) throw new CliError(`no hook "${name}"`);
        admin.auditHookChange(store, "cli", "hook_remove", existing, Date.now());
        process.stdout.write(`Removed hook ${name}.\n`);
      });
    });

  withCommonOptions(hook.command("rotate-secret <name>"))
    .description("give a hook a new secret; the previous one stays valid until the next rotation")
    .option("--json", "print one JSON object")
    .action((name: string, options: CommonOptions & { json?: boolean }) => {
      return withStore(options, async (store, config) => {
        const admin = await hookAdmin();
        const issued = store.hooks.rotate(name);
        if (!issued) throw new CliError(`no hook "${name}"`);
        admin.auditHookChange(store, "cli", "hook_rotate", issued.hook, Date.now());
        if (options.json) return printJson(admin.issuedHookView(issued, baseUrl(admin, config)));
        printIssued(admin, issued, config, "Rotated");
        process.stdout.write(
          issued.hook.mode === "signed"
            ? "The previous secret is still accepted until the next rotation.\n"
            : "The previous token no longer works.\n",
        );
      });
    });

  return hook;
}
