/**
 * Account linking with an independent OAuth 2.0 client library playing the platforms: simple-oauth2 as
 * "Alexa" (client credentials in an HTTP Basic header, Alexa's default scheme) and as "Google" (client
 * credentials in the request body, as Google sends them).
 *
 * RFC 6749 §2.3.1: "Clients in possession of a client password MAY use the HTTP Basic authentication
 * scheme … Alternatively, the authorization server MAY support including the client credentials in the
 * request-body … The authorization server MUST support the HTTP Basic authentication scheme for
 * authenticating clients that were issued a client password."
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AuthorizationCode } from "simple-oauth2";
import { addClient, addUser } from "../../src/oauth/accounts.ts";
import { GrantService } from "../../src/oauth/grants.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { callAlexa, directive } from "../helpers/alexa.ts";
import { TestBridge } from "../helpers/bridge.ts";

const PASSWORD = "correct horse battery staple";

function csrfOf(html: string): string {
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(csrf, "the page has a CSRF token");
  return csrf;
}

describe("account linking driven by simple-oauth2", () => {
  let bridge: TestBridge;

  before(async () => {
    bridge = await TestBridge.start("embedded");
    await addUser(bridge.daemon.store, "bob", PASSWORD, {
      hasher: new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } }),
    });
  });
  after(() => bridge.stop());

  /** What the person does in the app's web view: open the URL, sign in, allow. Returns the code. */
  async function userLinks(authorizeUrl: string, redirectUri: string, state: string): Promise<string> {
    const page = await fetch(authorizeUrl, { redirect: "manual" });
    assert.equal(page.status, 200);
    const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const form = (fields: Record<string, string>) =>
      fetch(`${bridge.httpUrl}/oauth/authorize`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie },
        body: new URLSearchParams(fields).toString(),
      });
    const consent = await form({ csrf: csrfOf(await page.text()), step: "login", username: "bob", password: PASSWORD });
    assert.equal(consent.status, 200);
    const back = await form({ csrf: csrfOf(await consent.text()), step: "consent", decision: "allow" });
    assert.equal(back.status, 303);
    const location = new URL(back.headers.get("location") as string);
    assert.equal(`${location.origin}${location.pathname}`, redirectUri);
    assert.equal(location.searchParams.get("state"), state);
    return location.searchParams.get("code") as string;
  }

  const discover = (token: string) => callAlexa(bridge, directive("Alexa.Discovery", "Discover", { token }));

  for (const platform of ["alexa", "google"] as const) {
    test(`${platform}: code exchange, refresh and revocation through a standard client`, async () => {
      const created =
        platform === "alexa"
          ? addClient(bridge.daemon.store, { platform, vendorId: "SIMPLEOAUTH2" })
          : addClient(bridge.daemon.store, { platform, projectId: "simple-oauth2" });
      const redirectUri = created.client.redirectUris[0] as string;
      const client = new AuthorizationCode({
        client: { id: created.client.id, secret: created.secret },
        auth: {
          tokenHost: bridge.httpUrl,
          tokenPath: "/oauth/token",
          revokePath: "/oauth/revoke",
          authorizeHost: bridge.httpUrl,
          authorizePath: "/oauth/authorize",
        },
        options: { authorizationMethod: platform === "alexa" ? "header" : "body" },
      });
      const state = `${platform}-state+/=`;
      const url = client.authorizeURL({ redirect_uri: redirectUri, scope: "devices", state });
      const code = await userLinks(url, redirectUri, state);

      const token = await client.getToken({ code, redirect_uri: redirectUri });
      assert.equal(String(token.token.token_type).toLowerCase(), "bearer");
      assert.equal(token.token.scope, "devices");
      const first = token.token.access_token as string;
      const service = new GrantService(bridge.daemon.store);
      assert.equal(service.authenticate(first)?.platform, platform, "the access token maps to the link");

      if (platform === "alexa") {
        // RFC 6750 §2: the bearer token reaches the protected resource — here Alexa's fulfillment route.
        const discovered = await discover(first);
        assert.equal(discovered.body.event.header.name, "Discover.Response");
      }

      const refreshed = await token.refresh();
      assert.notEqual(refreshed.token.access_token, first);
      assert.equal(refreshed.token.refresh_token ?? token.token.refresh_token, token.token.refresh_token);
      if (platform === "alexa") {
        const answer = await discover(refreshed.token.access_token as string);
        assert.equal(answer.body.event.header.name, "Discover.Response", "the refreshed token works at once");
      }

      await refreshed.revoke("refresh_token");
      await assert.rejects(refreshed.refresh(), (error: { output?: { statusCode?: number } }) => {
        assert.equal(error.output?.statusCode, 400, "a revoked refresh token is invalid_grant");
        return true;
      });
      assert.equal(
        service.authenticate(refreshed.token.access_token as string),
        undefined,
        "its access token is revoked too",
      );
      if (platform === "alexa") {
        const refused = await discover(refreshed.token.access_token as string);
        assert.equal(refused.status, 401);
        assert.equal(refused.body.event.payload.type, "INVALID_AUTHORIZATION_CREDENTIAL");
      }
    });
  }
});
