/**
 * A user who linked an assistant, without the pages: what the account-linking flow leaves behind (a user,
 * the platform's client, a grant and its tokens), for tests of what comes after.
 */
import { addClient, addUser } from "../../src/oauth/accounts.ts";
import { GrantService } from "../../src/oauth/grants.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import type { Store } from "../../src/store/index.ts";

const fastHasher = new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } });

export interface LinkedAccount {
  userId: string;
  accessToken: string;
  refreshToken: string;
  clientId: string;
}

export async function linkAccount(
  store: Store,
  username: string,
  platform: "alexa" | "google",
): Promise<LinkedAccount> {
  const user = await addUser(store, username, "correct horse battery", { hasher: fastHasher });
  const existing = store.oauthClients.list().find((c) => c.platform === platform);
  const client =
    existing ??
    addClient(
      store,
      platform === "alexa" ? { platform, vendorId: "M2XHEARTH1" } : { platform, projectId: "hearth-home" },
    ).client;
  const grants = new GrantService(store);
  const redirectUri = client.redirectUris[0] as string;
  const code = grants.issueCode({ clientId: client.id, userId: user.id, redirectUri, scope: "devices" });
  const tokens = grants.exchangeCode({ clientId: client.id, code, redirectUri });
  return {
    userId: user.id,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token as string,
    clientId: client.id,
  };
}
