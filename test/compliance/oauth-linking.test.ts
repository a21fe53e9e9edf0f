/**
 * Account linking as Alexa and Google drive it, against the real daemon over HTTP.
 *
 * RFC 6749 §4.1: "The authorization code grant type is used to obtain both access tokens and refresh
 * tokens … the client initiates the flow by directing the resource owner's user-agent to the
 * authorization endpoint … the authorization server authenticates the resource owner … and establishes
 * whether the resource owner grants or denies the client's access request … the authorization server
 * redirects the user-agent back to the client using the redirection URI provided earlier."
 *
 * Each test names the row of the requirement matrix (reliability-perf.md §A1) it checks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addClient, addUser } from "../../src/oauth/accounts.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { TestBridge } from "../helpers/bridge.ts";

const PASSWORD = "correct horse battery staple";
/**
 * A cheap cost for the test user: the stored string carries its parameters, so the daemon's own hasher
 * verifies it at that cost, and a login takes milliseconds instead of 0.4 s.
 */
const setupHasher = new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } });

interface Started {
  status: number;
  html: string;
  cookie: string | undefined;
  csrf: string | undefined;
  location: string | null;
  headers: Headers;
}

function csrfOf(html: string): string | undefined {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1];
}

describe("account linking (OAuth 2.0 authorization code grant)", () => {
  let bridge: TestBridge;
  let alexa: { id: string; secret: string; redirect: string };
  let google: { id: string; secret: string; redirect: string };

  before(async () => {
    bridge = await TestBridge.start("embedded", { settings: { logLevel: "info" } });
    const store = bridge.daemon.store;
    await addUser(store, "alice", PASSWORD, { hasher: setupHasher });
    const a = addClient(store, { platform: "alexa", vendorId: "M2X3ABCDEF12" });
    alexa = { id: a.client.id, secret: a.secret, redirect: "https://layla.amazon.com/api/skill/link/M2X3ABCDEF12" };
    const g = addClient(store, { platform: "google", projectId: "my-home" });
    google = { id: g.client.id, secret: g.secret, redirect: "https://oauth-redirect.googleusercontent.com/r/my-home" };
  });
  after(() => bridge.stop());

  async function start(params: Record<string, string>): Promise<Started> {
    const url = `${bridge.httpUrl}/oauth/authorize?${new URLSearchParams(params)}`;
    const response = await fetch(url, { redirect: "manual" });
    const html = await response.text();
    const cookie = response.headers.get("set-cookie")?.split(";")[0];
    return {
      status: response.status,
      html,
      cookie,
      csrf: csrfOf(html),
      location: response.headers.get("location"),
      headers: response.headers,
    };
  }

  async function post(cookie: string | undefined, fields: Record<string, string>) {
    const response = await fetch(`${bridge.httpUrl}/oauth/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });
    const html = await response.text();
    return {
      status: response.status,
      html,
      csrf: csrfOf(html),
      location: response.headers.get("location"),
      headers: response.headers,
    };
  }

  /** The login form's POST. */
  const signIn = (cookie: string | undefined, csrf: string, username: string, password: string) =>
    post(cookie, { csrf, step: "login", username, password });

  /** Login and consent as a person would; returns the redirect back to the client. */
  async function link(client: { id: string; redirect: string }, extra: Record<string, string> = {}) {
    const page = await start({
      client_id: client.id,
      redirect_uri: client.redirect,
      response_type: "code",
      state: "s-1",
      ...extra,
    });
    assert.equal(page.status, 200, page.html);
    const consent = await signIn(page.cookie, page.csrf as string, "alice", PASSWORD);
    assert.equal(consent.status, 200, consent.html);
    assert.match(consent.html, /Allow access\?/);
    const done = await post(page.cookie, { csrf: consent.csrf as string, step: "consent", decision: "allow" });
    return { ...done, page, consent };
  }

  async function token(fields: Record<string, string>, basic?: { id: string; secret: string }) {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (basic)
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString("base64")}`;
    const response = await fetch(`${bridge.httpUrl}/oauth/token`, {
      method: "POST",
      headers,
      body: new URLSearchParams(fields).toString(),
    });
    return {
      status: response.status,
      body: (await response.json().catch(() => null)) as Record<string, unknown> | null,
      headers: response.headers,
    };
  }

  test("Alexa (HTTP Basic) links, gets tokens and refreshes them (rows 8, 13, 14, 18)", async () => {
    const done = await link(alexa);
    // Row 18: "After a POST of credentials, redirect with 303, never 307."
    assert.equal(done.status, 303);
    const back = new URL(done.location as string);
    assert.equal(`${back.origin}${back.pathname}`, alexa.redirect);
    assert.equal(back.searchParams.get("state"), "s-1");
    const code = back.searchParams.get("code") as string;
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);

    const issued = await token({ grant_type: "authorization_code", code, redirect_uri: alexa.redirect }, alexa);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    // Row 13: token responses carry Cache-Control: no-store and Pragma: no-cache.
    assert.equal(issued.headers.get("cache-control"), "no-store");
    assert.equal(issued.headers.get("pragma"), "no-cache");
    assert.equal(String(issued.body?.token_type).toLowerCase(), "bearer");
    assert.ok(Number(issued.body?.expires_in) >= 360, "Alexa needs expires_in ≥ 360 s");
    // Row 14: opaque, not a JWT.
    assert.doesNotMatch(String(issued.body?.access_token), /^ey[\w-]+\.[\w-]+\./);

    const refreshed = await token(
      { grant_type: "refresh_token", refresh_token: String(issued.body?.refresh_token) },
      alexa,
    );
    assert.equal(refreshed.status, 200);
    assert.notEqual(
      refreshed.body?.access_token,
      issued.body?.access_token,
      "row 14: a refresh returns a different access token",
    );
  });

  test("Google (credentials in the body) links; both credential styles at once are refused (row 8)", async () => {
    const done = await link(google);
    const code = new URL(done.location as string).searchParams.get("code") as string;
    const both = await token(
      {
        grant_type: "authorization_code",
        code,
        redirect_uri: google.redirect,
        client_id: google.id,
        client_secret: google.secret,
      },
      google,
    );
    assert.equal(both.status, 400);
    assert.equal(both.body?.error, "invalid_request");
    const issued = await token({
      grant_type: "authorization_code",
      code,
      redirect_uri: google.redirect,
      client_id: google.id,
      client_secret: google.secret,
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const wrongSecret = await token({
      grant_type: "refresh_token",
      refresh_token: String(issued.body?.refresh_token),
      client_id: google.id,
      client_secret: "nope",
    });
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body?.error, "invalid_client");
    const unknown = await token({
      grant_type: "refresh_token",
      refresh_token: "not-a-token",
      client_id: google.id,
      client_secret: google.secret,
    });
    assert.equal(unknown.status, 400, "row 14: an invalid refresh token is 400 invalid_grant");
    assert.equal(unknown.body?.error, "invalid_grant");
  });

  test("an unknown client or an unregistered redirect URI gets an error page, never a redirect (rows 1, 2)", async () => {
    const variants = [
      `${alexa.redirect}/`,
      alexa.redirect.toUpperCase(),
      `${alexa.redirect}?x=1`,
      alexa.redirect.replace("https:", "http:"),
      "https://layla.amazon.com/api/skill/link/OTHERVENDOR1",
      "https://evil.example/callback",
    ];
    for (const redirect of variants) {
      const page = await start({ client_id: alexa.id, redirect_uri: redirect, response_type: "code", state: "x" });
      assert.equal(page.status, 400, redirect);
      assert.equal(page.location, null, `no redirect for ${redirect}`);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    }
    const unknown = await start({
      client_id: "hearth-alexa-nobody",
      redirect_uri: alexa.redirect,
      response_type: "code",
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.location, null);
  });

  test("implicit grant and ROPC are not offered (row 16)", async () => {
    const page = await start({ client_id: alexa.id, redirect_uri: alexa.redirect, response_type: "token", state: "t" });
    assert.equal(page.status, 303);
    const back = new URL(page.location as string);
    assert.equal(back.searchParams.get("error"), "unsupported_response_type");
    assert.equal(back.searchParams.get("state"), "t");
    const ropc = await token({ grant_type: "password", username: "alice", password: PASSWORD }, alexa);
    assert.equal(ropc.status, 400);
    assert.equal(ropc.body?.error, "unsupported_grant_type");
  });

  test("PKCE S256 binds the code; a client registered with --require-pkce must send a challenge (rows 6, 7)", async () => {
    const { createHash, randomBytes } = await import("node:crypto");
    const strict = addClient(bridge.daemon.store, { platform: "alexa", vendorId: "PKCEVENDOR01", requirePkce: true });
    const client = { id: strict.client.id, secret: strict.secret, redirect: strict.client.redirectUris[0] as string };
    const without = await start({
      client_id: client.id,
      redirect_uri: client.redirect,
      response_type: "code",
      state: "p",
    });
    assert.equal(without.status, 303);
    assert.equal(new URL(without.location as string).searchParams.get("error"), "invalid_request");
    const plain = await start({
      client_id: client.id,
      redirect_uri: client.redirect,
      response_type: "code",
      code_challenge: "abc",
      code_challenge_method: "plain",
    });
    assert.equal(new URL(plain.location as string).searchParams.get("error"), "invalid_request", "plain is refused");

    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const done = await link(client, { code_challenge: challenge, code_challenge_method: "S256" });
    const code = new URL(done.location as string).searchParams.get("code") as string;
    const exchange = { grant_type: "authorization_code", code, redirect_uri: client.redirect };
    const noVerifier = await token(exchange, client);
    assert.equal(noVerifier.body?.error, "invalid_grant");
    const wrongVerifier = await token({ ...exchange, code_verifier: randomBytes(32).toString("base64url") }, client);
    assert.equal(wrongVerifier.body?.error, "invalid_grant");
    const good = await token({ ...exchange, code_verifier: verifier }, client);
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });

  test("the client's state comes back byte for byte (row 19)", async () => {
    const state = "a+b/c=d é 🔥 %20&x=y";
    const done = await link(alexa, { state });
    assert.equal(new URL(done.location as string).searchParams.get("state"), state);
  });

  test("login and consent pages resist framing and forged posts (rows 17, 19)", async () => {
    const page = await start({ client_id: alexa.id, redirect_uri: alexa.redirect, response_type: "code", state: "f" });
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /frame-ancestors 'none'/);
    // Helmet's default form-action 'self' would block the redirect back to Amazon in Chrome and Safari.
    assert.match(csp, /form-action 'self' https:\/\/layla\.amazon\.com/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    assert.match(page.headers.get("set-cookie") ?? "", /HttpOnly/i);
    assert.match(page.headers.get("set-cookie") ?? "", /SameSite=Lax/i);
    const noToken = await post(page.cookie, { step: "login", username: "alice", password: PASSWORD });
    assert.equal(noToken.status, 403);
    const wrongToken = await signIn(page.cookie, "x".repeat(43), "alice", PASSWORD);
    assert.equal(wrongToken.status, 403);
    const noCookie = await signIn(undefined, page.csrf as string, "alice", PASSWORD);
    assert.equal(noCookie.status, 400);
    // Consent cannot be skipped: a consent post before a login is refused.
    const skipped = await post(page.cookie, { csrf: page.csrf as string, step: "consent", decision: "allow" });
    assert.equal(skipped.status, 400);
    assert.equal(skipped.location, null);
  });

  test("denying consent returns access_denied to the client with its state", async () => {
    const page = await start({
      client_id: google.id,
      redirect_uri: google.redirect,
      response_type: "code",
      state: "d",
    });
    const consent = await signIn(page.cookie, page.csrf as string, "alice", PASSWORD);
    const denied = await post(page.cookie, { csrf: consent.csrf as string, step: "consent", decision: "deny" });
    assert.equal(denied.status, 303);
    const back = new URL(denied.location as string);
    assert.equal(back.searchParams.get("error"), "access_denied");
    assert.equal(back.searchParams.get("state"), "d");
    assert.equal(back.searchParams.get("code"), null);
    const again = await post(page.cookie, { csrf: consent.csrf as string, step: "consent", decision: "allow" });
    assert.equal(again.status, 400, "one decision per sign-in");
  });

  test("revocation (RFC 7009) ends the link; an unknown token is still 200 (row 12)", async () => {
    const done = await link(google);
    const code = new URL(done.location as string).searchParams.get("code") as string;
    const creds = { client_id: google.id, client_secret: google.secret };
    const issued = await token({ grant_type: "authorization_code", code, redirect_uri: google.redirect, ...creds });
    const refresh = String(issued.body?.refresh_token);
    const revoke = (fields: Record<string, string>) =>
      fetch(`${bridge.httpUrl}/oauth/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
    assert.equal((await revoke({ token: "never-issued", ...creds })).status, 200);
    assert.equal((await revoke({ token: refresh, client_id: google.id, client_secret: "wrong" })).status, 401);
    assert.equal((await revoke({ token: refresh, ...creds })).status, 200);
    const after = await token({ grant_type: "refresh_token", refresh_token: refresh, ...creds });
    assert.equal(after.status, 400);
    assert.equal(after.body?.error, "invalid_grant");
  });

  test("a replayed code is refused and the tokens issued from it stop working (row 4)", async () => {
    const done = await link(alexa);
    const code = new URL(done.location as string).searchParams.get("code") as string;
    const exchange = { grant_type: "authorization_code", code, redirect_uri: alexa.redirect };
    const first = await token(exchange, alexa);
    assert.equal(first.status, 200);
    const replay = await token(exchange, alexa);
    assert.equal(replay.status, 400);
    assert.equal(replay.body?.error, "invalid_grant");
    const refresh = await token(
      { grant_type: "refresh_token", refresh_token: String(first.body?.refresh_token) },
      alexa,
    );
    assert.equal(refresh.status, 400, "the refresh token of the replayed code is revoked");
  });

  test("wrong passwords are answered, then slowed down without locking the account for good (row 20)", async () => {
    // Last of the login tests: it leaves this test client's address waiting.
    const page = await start({ client_id: alexa.id, redirect_uri: alexa.redirect, response_type: "code", state: "b" });
    const statuses: number[] = [];
    // Three failures are free; the fourth sets a one-second wait, which the fifth runs into.
    for (let i = 0; i < 5; i++) {
      const attempt = await signIn(page.cookie, page.csrf as string, "mallory", "wrong password!");
      statuses.push(attempt.status);
      if (attempt.status === 429) assert.match(attempt.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
    const alice = await signIn(page.cookie, page.csrf as string, "alice", PASSWORD);
    assert.equal(alice.status, 429, "the guessing address waits before any password is checked, whatever the account");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = await signIn(page.cookie, page.csrf as string, "alice", PASSWORD);
    assert.equal(later.status, 200, "after the wait the right password still works");
  });

  test("link health shows each user's link per platform (GET /api/v1/links)", async () => {
    const links = await bridge.api("GET", "/api/v1/links");
    assert.equal(links.status, 200);
    const byPlatform = new Map((links.body as Array<Record<string, unknown>>).map((l) => [l.platform, l]));
    const alexaLink = byPlatform.get("alexa");
    assert.equal(alexaLink?.user, "alice");
    assert.equal(typeof alexaLink?.linked_at, "string");
    assert.equal(typeof alexaLink?.last_token_at, "string");
    assert.equal(alexaLink?.active, true, "the first Alexa link is still valid");
    assert.equal(byPlatform.get("google")?.user, "alice");
    const unauthenticated = await bridge.api("GET", "/api/v1/links", undefined, "wrong");
    assert.equal(unauthenticated.status, 401);
  });

  test("logs never contain an issued code, token, secret or password (row 22)", () => {
    const text = bridge.logs.text();
    for (const secret of [alexa.secret, google.secret, PASSWORD])
      assert.ok(!text.includes(secret), "a secret is in the log");
    assert.doesNotMatch(text, /code=[A-Za-z0-9_-]{43}/);
    assert.doesNotMatch(text, /access_token|refresh_token"\s*:\s*"[A-Za-z0-9_-]{20,}/);
  });
});

describe("account linking served over HTTPS", () => {
  let bridge: TestBridge;
  let alexa: { id: string; redirect: string };

  before(async () => {
    bridge = await TestBridge.start("embedded", { settings: { publicUrl: "https://hearth.example.net" } });
    const { client } = addClient(bridge.daemon.store, { platform: "alexa", vendorId: "M2X3ABCDEF12" });
    alexa = { id: client.id, redirect: client.redirectUris[0] as string };
  });
  after(() => bridge.stop());

  test("the sign-in cookie is __Host-, Secure, HttpOnly and SameSite (ASVS 3.3.1–3.3.4, row 19)", async () => {
    const query = new URLSearchParams({ client_id: alexa.id, redirect_uri: alexa.redirect, response_type: "code" });
    const response = await fetch(`${bridge.httpUrl}/oauth/authorize?${query}`);
    assert.equal(response.status, 200);
    const cookie = response.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^__Host-hearth_authz=/);
    assert.match(cookie, /; Secure/i);
    assert.match(cookie, /; HttpOnly/i);
    assert.match(cookie, /; SameSite=Lax/i);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /Domain=/i, "a __Host- cookie has no Domain");
  });
});
