import { Command } from "commander";
import { type CommonOptions, printJson, withCommonOptions, withStore } from "./context.ts";

export function adminCommand(): Command {
  const admin = new Command("admin").description("admin API access");
  withCommonOptions(admin.command("token"))
    .description("create an admin API token (shown once; only a hash is kept)")
    .option("--label <label>", "what the token is for", "admin")
    .option("--json", "print one JSON object")
    .action((options: CommonOptions & { label: string; json?: boolean }) => {
      return withStore(options, async (store, config) => {
        const { id, token } = store.adminTokens.create(options.label, Date.now());
        if (options.json) return printJson({ id, token, label: options.label });
        process.stdout.write(
          `Admin token (shown only now):\n\n  ${token}\n\nUse it as: curl -H 'Authorization: Bearer ${token}' http://127.0.0.1:${config.http.port}/api/v1/devices\n`,
        );
      });
    });
  return admin;
}
