/**
 * The OAuth clients: an Alexa or Google client's redirect URIs must be exactly the platform's for its
 * Vendor ID or project id, built by the same code that registered them (src/oauth/platforms.ts). A list
 * edited by hand, or written by an older Hearth, shows up here instead of as a failed link on a phone.
 */
import {
  alexaRedirectUris,
  googleRedirectUris,
  projectIdProblem,
  redirectUriProblem,
  vendorIdProblem,
} from "../oauth/platforms.ts";
import type { OAuthClientRecord } from "../store/index.ts";
import { type Check, type Finding, finding, Skip } from "./check.ts";

const ID = "oauth-clients";

/** The Vendor ID or project id a client's URIs were built from: the last path segment of the first one. */
function idFrom(uris: readonly string[], pattern: RegExp): string | undefined {
  for (const uri of uris) {
    const match = pattern.exec(uri);
    if (match) return match[1];
  }
  return undefined;
}

function compare(expected: readonly string[], actual: readonly string[]): string | undefined {
  const missing = expected.filter((uri) => !actual.includes(uri));
  const unexpected = actual.filter((uri) => !expected.includes(uri));
  if (missing.length === 0 && unexpected.length === 0) return undefined;
  return [
    missing.length > 0 ? `missing ${missing.join(", ")}` : "",
    unexpected.length > 0 ? `not the platform's: ${unexpected.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

function reAdd(client: OAuthClientRecord, option: string): string {
  return (
    `re-register it: hearth client remove ${client.id}, then hearth client add ${client.platform} ${option}, ` +
    "and enter the new client id and secret in the console (its users link again)"
  );
}

function checkClient(client: OAuthClientRecord): Finding {
  const name = `client ${client.id} (${client.platform}, "${client.label}")`;
  if (client.platform === "alexa") {
    const vendorId = idFrom(client.redirectUris, /\/api\/skill\/link\/([^/?#]+)$/);
    if (vendorId === undefined || vendorIdProblem(vendorId)) {
      return finding(
        ID,
        "error",
        `${name}: its redirect URIs name no Amazon Vendor ID (${client.redirectUris.join(", ") || "none"})`,
        reAdd(client, "--vendor-id <your Vendor ID>"),
      );
    }
    const difference = compare(alexaRedirectUris(vendorId), client.redirectUris);
    if (difference) {
      return finding(
        ID,
        "error",
        `${name}: its redirect URIs are not Amazon's three for Vendor ID ${vendorId}: ${difference}`,
        reAdd(client, `--vendor-id ${vendorId}`),
      );
    }
    return finding(ID, "ok", `${name}: redirect URIs are Amazon's for Vendor ID ${vendorId}`);
  }
  if (client.platform === "google") {
    const projectId = idFrom(
      client.redirectUris,
      /^https:\/\/oauth-redirect(?:-sandbox)?\.googleusercontent\.com\/r\/([^/?#]+)$/,
    );
    if (projectId === undefined || projectIdProblem(projectId)) {
      return finding(
        ID,
        "error",
        `${name}: its redirect URIs name no Google project (${client.redirectUris.join(", ") || "none"})`,
        reAdd(client, "--project-id <your project id>"),
      );
    }
    const difference = compare(googleRedirectUris(projectId), client.redirectUris);
    if (difference) {
      return finding(
        ID,
        "error",
        `${name}: its redirect URIs are not Google's for project ${projectId}: ${difference}`,
        reAdd(client, `--project-id ${projectId}`),
      );
    }
    return finding(ID, "ok", `${name}: redirect URIs are Google's for project ${projectId}`);
  }
  const problems = client.redirectUris.map(redirectUriProblem).filter((p): p is string => p !== undefined);
  if (client.redirectUris.length === 0 || problems.length > 0) {
    return finding(
      ID,
      "error",
      `${name}: ${problems.length > 0 ? problems.join("; ") : "it has no redirect URI"}`,
      reAdd(client, "--redirect-uri <https://…>"),
    );
  }
  return finding(ID, "ok", `${name}: ${client.redirectUris.length} valid redirect URI(s)`);
}

export const oauthClientsCheck: Check = {
  id: ID,
  run(ctx) {
    const store = ctx.store();
    if (!store) return new Skip(ctx.storeUnavailable());
    const clients = store.oauthClients.list();
    if (clients.length === 0) {
      return [
        finding(
          ID,
          "warn",
          "no assistant linked yet: there is no OAuth client",
          "hearth client add alexa --vendor-id <id>, or hearth client add google --project-id <id> (docs/account-linking.md)",
        ),
      ];
    }
    return clients.map(checkClient);
  },
};

/** The Google project ids of the registered Google clients, for the key's cross-check. */
export function googleProjectIds(clients: readonly OAuthClientRecord[]): string[] {
  return clients
    .filter((client) => client.platform === "google")
    .map((client) => idFrom(client.redirectUris, /^https:\/\/oauth-redirect\.googleusercontent\.com\/r\/([^/?#]+)$/))
    .filter((id): id is string => id !== undefined);
}
