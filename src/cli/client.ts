import { Argument, Command } from "commander";
import type { Config } from "../config/index.ts";
import type { ClientRequest, NewClient } from "../oauth/accounts.ts";
import { oauthEndpoints } from "../oauth/endpoints.ts";
import type { OAUTH_PLATFORMS, OAuthClientRecord, OAuthPlatform } from "../store/index.ts";
import { CliError, type CommonOptions, listCommand, printJson, withCommonOptions, withStore } from "./context.ts";

/**
 * The store's OAUTH_PLATFORMS, in its order, for `client add --help`: a copy, because importing the store
 * module loads SQLite for every command. The compiler keeps the two equal.
 */
const PLATFORMS = ["alexa", "google", "custom"] as const satisfies typeof OAUTH_PLATFORMS;

interface AddOptions extends CommonOptions {
  vendorId?: string;
  projectId?: string;
  redirectUri?: string[];
  label?: string;
  requirePkce?: boolean;
  json?: boolean;
}

/** Which option each platform needs; the others are refused so that a mix-up is not silently ignored. */
const PLATFORM_OPTION = { alexa: "--vendor-id", google: "--project-id", custom: "--redirect-uri" } as const;

function clientRequest(platform: OAuthPlatform, options: AddOptions): ClientRequest {
  const given = {
    "--vendor-id": options.vendorId !== undefined,
    "--project-id": options.projectId !== undefined,
    "--redirect-uri": options.redirectUri !== undefined,
  };
  const needed = PLATFORM_OPTION[platform];
  if (!given[needed]) throw new CliError(`\`hearth client add ${platform}\` needs ${needed}`);
  for (const [option, present] of Object.entries(given)) {
    if (present && option !== needed) throw new CliError(`${option} is not for ${platform} clients`);
  }
  const common = { label: options.label, requirePkce: options.requirePkce ?? false };
  if (platform === "alexa") return { platform, vendorId: options.vendorId as string, ...common };
  if (platform === "google") return { platform, projectId: options.projectId as string, ...common };
  return { platform, redirectUris: options.redirectUri as string[], ...common };
}

export function clientView(client: OAuthClientRecord) {
  return {
    client_id: client.id,
    platform: client.platform,
    label: client.label,
    redirect_uris: client.redirectUris,
    pkce: client.pkce,
    created_at: new Date(client.createdAt).toISOString(),
  };
}

export function clientCommand(): Command {
  const client = new Command("client").description("register the assistants (OAuth clients) that may link accounts");

  withCommonOptions(client.command("add"))
    .description("register an Alexa skill, a Google project or another OAuth client; prints its secret once")
    .addArgument(new Argument("<platform>", "which kind of client").choices(PLATFORMS))
    .option("--vendor-id <id>", "alexa: your Amazon Vendor ID, from the skill's account-linking page")
    .option("--project-id <id>", "google: the id of your Google project")
    .option("--redirect-uri <uri...>", "custom: the client's redirect URIs (https://, or http://localhost)")
    .option("--label <label>", "a name for the client in lists")
    .option(
      "--require-pkce",
      "refuse authorization requests without a PKCE S256 challenge (enable PKCE in the console first)",
    )
    .option("--json", "print one JSON object")
    .action((platform: OAuthPlatform, options: AddOptions) => {
      return withStore(options, async (store, config) => {
        const { addClient } = await import("../oauth/accounts.ts");
        const created = addClient(store, clientRequest(platform, options));
        if (options.json) {
          return printJson({
            client_id: created.client.id,
            client_secret: created.secret,
            redirect_uris: created.client.redirectUris,
          });
        }
        printSetup(created, config);
      });
    });

  listCommand(client.command("list").description("list OAuth clients (secrets are never shown)"), {
    rows: (store) => store.oauthClients.list().map(clientView),
    empty:
      "No OAuth clients yet: add one with `hearth client add alexa --vendor-id <id>` or `hearth client add google --project-id <id>`.",
    columns: [
      ["CLIENT ID", (c) => c.client_id],
      ["PLATFORM", (c) => c.platform],
      ["LABEL", (c) => c.label],
      ["REDIRECT URIS", (c) => c.redirect_uris.length],
      ["CREATED", (c) => c.created_at],
    ],
  });

  withCommonOptions(client.command("remove <client-id>"))
    .description("remove an OAuth client; it can no longer link accounts")
    .action((clientId: string, options: CommonOptions) => {
      return withStore(options, async (store) => {
        const { removeClient } = await import("../oauth/accounts.ts");
        removeClient(store, clientId);
        process.stdout.write(`Removed OAuth client ${clientId}.\n`);
      });
    });

  return client;
}

/** Where each value goes in the platform's console, so nothing has to be guessed or retyped from docs. */
function printSetup({ client, secret }: NewClient, config: Config): void {
  if (!config.publicUrl) {
    process.stderr.write(
      "warning: publicUrl is not set (HEARTH_PUBLIC_URL), so the URLs below are placeholders; use the HTTPS address Amazon and Google reach Hearth at\n",
    );
  } else if (config.publicUrl.startsWith("http:")) {
    process.stderr.write(`warning: publicUrl ${config.publicUrl} is plain HTTP; Amazon and Google require HTTPS\n`);
  }
  const urls = oauthEndpoints(config.publicUrl ?? "https://<public-url>");
  const rows = (pairs: Array<[string, string]>) => {
    const width = Math.max(...pairs.map(([name]) => name.length));
    return pairs.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
  };
  const uris = client.redirectUris.map((uri) => `  ${uri}`);
  const lines = [`Registered OAuth client "${client.label}". The secret is shown only now; Hearth keeps a hash.`, ""];
  if (client.platform === "alexa") {
    lines.push(
      "In the Alexa developer console, open the skill's Account Linking page, choose Auth Code Grant, and enter:",
      "",
      ...rows([
        ["Your Web Authorization URI", urls.authorize],
        ["Access Token URI", urls.token],
        ["Your Client ID", client.id],
        ["Your Secret", secret],
        ["Your Authentication Scheme", "HTTP Basic (Recommended)"],
      ]),
      "",
      "The Alexa Redirect URLs on that page must be these; Hearth sends users back to no others:",
    );
  } else if (client.platform === "google") {
    lines.push(
      "In the Google Home developer console, open the project's account linking (OAuth, authorization code) and enter:",
      "",
      ...rows([
        ["Client ID", client.id],
        ["Client secret", secret],
        ["Authorization URL", urls.authorize],
        ["Token URL", urls.token],
      ]),
      "",
      "Google sends users back to these redirect URIs; Hearth accepts no others:",
    );
  } else {
    lines.push(
      ...rows([
        ["client_id", client.id],
        ["client_secret", secret],
        ["authorization endpoint", urls.authorize],
        ["token endpoint", urls.token],
      ]),
      "",
      "Redirect URIs (compared character by character):",
    );
  }
  process.stdout.write(`${[...lines, "", ...uris].join("\n")}\n`);
}
