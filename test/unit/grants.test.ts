/**
 * Codes, grants and tokens on a real SQLite file with a fake clock. Each test names the row of the
 * requirement matrix (reliability-perf.md §A1) it covers.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { OAuthError } from "../../src/oauth/errors.ts";
import { GrantService, type TokenResponse } from "../../src/oauth/grants.ts";
import { hashSecret } from "../../src/security/secrets.ts";
import { openDatabase, Store } from "../../src/store/index.ts";

const ALEXA = "hearth-alexa-1";
const GOOGLE = "hearth-google-1";
const ALEXA_URI = "https://pitangui.amazon.com/api/skill/link/ABCDEFGHIJ";
const GOOGLE_URI = "https://oauth-redirect.googleusercontent.com/r/my-project";
const SECOND = 1000;
const DAY = 86_400 * SECOND;
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-grants-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const freshPath = () => join(dir, `db-${++counter}.sqlite`);

function seed(store: Store): string {
  store.oauthClients.add(
    { id: ALEXA, platform: "alexa", label: "Alexa", secretHash: hashSecret("a"), redirectUris: [ALEXA_URI] },
    0,
  );
  store.oauthClients.add(
    { id: GOOGLE, platform: "google", label: "Google", secretHash: hashSecret("g"), redirectUris: [GOOGLE_URI] },
    0,
  );
  const user = store.users.add("anna", "scrypt$x", 0);
  assert.ok(user);
  return user.id;
}

interface Fixture {
  store: Store;
  grants: GrantService;
  clock: { t: number };
  userId: string;
  path: string;
}

function setup(): Fixture {
  const path = freshPath();
  const store = new Store(openDatabase(path));
  const userId = seed(store);
  const clock = { t: 1_000_000 };
  return { store, grants: new GrantService(store, { now: () => clock.t }), clock, userId, path };
}

function code(f: Fixture, extra: { codeChallenge?: string; codeChallengeMethod?: string } = {}): string {
  return f.grants.issueCode({
    clientId: ALEXA,
    userId: f.userId,
    redirectUri: ALEXA_URI,
    scope: "smart_home",
    ...extra,
  });
}

function link(f: Fixture): TokenResponse {
  return f.grants.exchangeCode({ clientId: ALEXA, code: code(f), redirectUri: ALEXA_URI });
}

function invalidGrant(error: unknown): boolean {
  return error instanceof OAuthError && error.error === "invalid_grant" && error.status === 400;
}

describe("authorization codes", () => {
  test("row 5 'guessing probability ≤ 2^-128': codes are 32 random bytes as 43 base64url characters", () => {
    const f = setup();
    const codes = new Set(Array.from({ length: 20 }, () => code(f)));
    assert.equal(codes.size, 20);
    for (const c of codes) assert.match(c, /^[A-Za-z0-9_-]{43}$/);
    const tokens = link(f);
    assert.match(tokens.access_token, /^[A-Za-z0-9_-]{43}$/);
    assert.match(tokens.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    f.store.close();
  });

  test("row 3 'the auth code expires shortly': valid at 59 s, invalid_grant at 61 s", () => {
    const f = setup();
    const early = code(f);
    const late = code(f);
    f.clock.t += 59 * SECOND;
    const tokens = f.grants.exchangeCode({ clientId: ALEXA, code: early, redirectUri: ALEXA_URI });
    assert.equal(tokens.token_type, "Bearer");
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.scope, "smart_home");
    f.clock.t += 2 * SECOND;
    assert.throws(() => f.grants.exchangeCode({ clientId: ALEXA, code: late, redirectUri: ALEXA_URI }), invalidGrant);
    f.store.close();
  });

  test("row 3 'bound to client_id and redirect_uri': another client, another URI or an unknown code is invalid_grant", () => {
    const f = setup();
    const c = code(f);
    assert.throws(() => f.grants.exchangeCode({ clientId: GOOGLE, code: c, redirectUri: ALEXA_URI }), invalidGrant);
    for (const uri of [
      `${ALEXA_URI}/`,
      ALEXA_URI.toUpperCase(),
      `${ALEXA_URI}?x=1`,
      ALEXA_URI.replace("https", "http"),
    ]) {
      assert.throws(() => f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: uri }), invalidGrant);
    }
    assert.throws(
      () => f.grants.exchangeCode({ clientId: ALEXA, code: `${c}x`, redirectUri: ALEXA_URI }),
      invalidGrant,
    );
    // None of the refusals used the code up.
    assert.ok(f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: ALEXA_URI }).access_token);
    f.store.close();
  });

  test("a code is only issued for a registered redirect URI", () => {
    const f = setup();
    assert.throws(
      () => f.grants.issueCode({ clientId: ALEXA, userId: f.userId, redirectUri: GOOGLE_URI, scope: "" }),
      (error: unknown) => error instanceof OAuthError && error.error === "invalid_request",
    );
    f.store.close();
  });

  test("row 4 'single use … revoke all tokens issued from that code': a replay is refused and ends the grant", () => {
    const f = setup();
    const c = code(f);
    const tokens = f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: ALEXA_URI });
    assert.ok(f.grants.authenticate(tokens.access_token));
    assert.throws(() => f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: ALEXA_URI }), invalidGrant);
    assert.equal(f.grants.authenticate(tokens.access_token), undefined, "the access token stops working");
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), invalidGrant);
    f.store.close();
  });
});

describe("PKCE", () => {
  const exchange = (f: Fixture, c: string, codeVerifier?: string) =>
    f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: ALEXA_URI, codeVerifier });

  test("row 6: an S256 challenge with its verifier is accepted", () => {
    const f = setup();
    const c = code(f, { codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
    assert.ok(exchange(f, c, VERIFIER).access_token);
    f.store.close();
  });

  test("row 7 'must not accept plain': plain, or a challenge without a method, is refused at issue", () => {
    const f = setup();
    const invalidRequest = (error: unknown) => error instanceof OAuthError && error.error === "invalid_request";
    assert.throws(() => code(f, { codeChallenge: VERIFIER, codeChallengeMethod: "plain" }), invalidRequest);
    assert.throws(() => code(f, { codeChallenge: CHALLENGE }), invalidRequest);
    f.store.close();
  });

  test("row 6 'code_verifier MUST be enforced': a challenge without a verifier, or a wrong one, is invalid_grant", () => {
    const f = setup();
    const c = code(f, { codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
    assert.throws(() => exchange(f, c), invalidGrant);
    assert.throws(() => exchange(f, c, `${VERIFIER.slice(0, -1)}A`), invalidGrant);
    assert.throws(() => exchange(f, c, CHALLENGE), invalidGrant, "the challenge itself is not the verifier");
    f.store.close();
  });

  test("row 6 'downgrade': a verifier for a code issued without a challenge is invalid_grant", () => {
    const f = setup();
    assert.throws(() => exchange(f, code(f), VERIFIER), invalidGrant);
    f.store.close();
  });
});

describe("refresh", () => {
  test("row 14 'a refresh must return a different access token'; row 9/10: the refresh token is not rotated", () => {
    const f = setup();
    const first = link(f);
    const seen = new Set([first.access_token]);
    for (let i = 0; i < 5; i++) {
      f.clock.t += 3600 * SECOND;
      const next = f.grants.refresh({ clientId: ALEXA, refreshToken: first.refresh_token });
      assert.ok(!seen.has(next.access_token));
      seen.add(next.access_token);
      assert.equal(next.refresh_token, first.refresh_token);
      assert.equal(next.expires_in, 3600);
      assert.ok(f.grants.authenticate(next.access_token));
    }
    f.store.close();
  });

  test("row 10 'races break linking': two concurrent refreshes with the same token both succeed", async () => {
    const f = setup();
    const tokens = link(f);
    // A second connection to the same file, as a second process would have.
    const other = new Store(openDatabase(f.path));
    const otherGrants = new GrantService(other, { now: () => f.clock.t });
    const refresh = async (service: GrantService) =>
      service.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    const results = await Promise.all([refresh(f.grants), refresh(otherGrants), refresh(f.grants)]);
    assert.equal(new Set(results.map((r) => r.access_token)).size, 3);
    for (const r of results) {
      assert.equal(r.refresh_token, tokens.refresh_token);
      assert.ok(f.grants.authenticate(r.access_token));
    }
    other.close();
    f.store.close();
  });

  test("row 11 'expire if the client has been inactive': 179 days ok, 181 days refused, use resets the window", () => {
    const f = setup();
    const tokens = link(f);
    f.clock.t += 179 * DAY;
    assert.ok(f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }));
    f.clock.t += 179 * DAY; // 358 days after the link, 179 after the last use
    assert.ok(f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }));
    f.clock.t += 181 * DAY;
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), invalidGrant);
    assert.equal(f.grants.linkHealth()[0]?.lastError, "refresh token expired after inactivity");
    f.store.close();
  });

  test("row 9 'using a refresh token with another client's credentials → invalid_grant'", () => {
    const f = setup();
    const tokens = link(f);
    assert.throws(() => f.grants.refresh({ clientId: GOOGLE, refreshToken: tokens.refresh_token }), invalidGrant);
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.access_token }), invalidGrant);
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: "unknown" }), invalidGrant);
    assert.ok(f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), "still the owner's");
    f.store.close();
  });

  test("google.md §4 'for a DB outage, return 5xx and not invalid_grant': a database failure is no OAuthError", () => {
    const f = setup();
    const tokens = link(f);
    f.store.db.close();
    assert.throws(
      () => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }),
      (error: unknown) => !(error instanceof OAuthError),
    );
  });
});

describe("access tokens and revocation", () => {
  test("access tokens expire after 3600 s", () => {
    const f = setup();
    const tokens = link(f);
    f.clock.t += 3599 * SECOND;
    assert.equal(f.grants.authenticate(tokens.access_token)?.userId, f.userId);
    f.clock.t += SECOND;
    assert.equal(f.grants.authenticate(tokens.access_token), undefined);
    assert.equal(f.grants.authenticate(tokens.refresh_token), undefined, "a refresh token is no bearer token");
    f.store.close();
  });

  test("authenticate names the user, client, grant, scope and platform", () => {
    const f = setup();
    const tokens = link(f);
    const who = f.grants.authenticate(tokens.access_token);
    assert.deepEqual(
      { ...who, grantId: undefined },
      {
        userId: f.userId,
        clientId: ALEXA,
        grantId: undefined,
        scope: "smart_home",
        platform: "alexa",
      },
    );
    assert.equal(typeof who?.grantId, "string");
    f.store.close();
  });

  test("row 12 'revoking a refresh token SHOULD also revoke the access tokens of the same grant'", () => {
    const f = setup();
    const tokens = link(f);
    const refreshed = f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    const otherLink = link(f);
    f.grants.revoke({ clientId: ALEXA, token: tokens.refresh_token });
    assert.equal(f.grants.authenticate(tokens.access_token), undefined);
    assert.equal(f.grants.authenticate(refreshed.access_token), undefined);
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), invalidGrant);
    assert.ok(f.grants.authenticate(otherLink.access_token), "another grant is untouched");
    f.store.close();
  });

  test("row 12: revoking an access token ends only that token", () => {
    const f = setup();
    const tokens = link(f);
    f.grants.revoke({ clientId: ALEXA, token: tokens.access_token });
    assert.equal(f.grants.authenticate(tokens.access_token), undefined);
    const next = f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    assert.ok(f.grants.authenticate(next.access_token));
    f.store.close();
  });

  test("row 12 'answer 200 even for an unknown token': unknown and other clients' tokens are ignored", () => {
    const f = setup();
    const tokens = link(f);
    f.grants.revoke({ clientId: ALEXA, token: "no-such-token" });
    f.grants.revoke({ clientId: GOOGLE, token: tokens.refresh_token });
    f.grants.revoke({ clientId: GOOGLE, token: tokens.access_token });
    assert.ok(f.grants.authenticate(tokens.access_token));
    assert.ok(f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }));
    f.store.close();
  });

  test("row 11 'revoke them on security events (password change)': a new password ends the user's tokens", () => {
    const f = setup();
    const tokens = link(f);
    const pending = code(f);
    assert.equal(f.store.users.setPassword("anna", "scrypt$new", 2_000_000), true);
    assert.equal(f.grants.authenticate(tokens.access_token), undefined);
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), invalidGrant);
    assert.throws(
      () => f.grants.exchangeCode({ clientId: ALEXA, code: pending, redirectUri: ALEXA_URI }),
      invalidGrant,
      "a code issued before the change is void too",
    );
    assert.ok(f.grants.authenticate(link(f).access_token), "a new link works");
    f.store.close();
  });

  test("row 11: removing the user or the client ends their tokens", () => {
    const f = setup();
    const tokens = link(f);
    assert.equal(f.store.users.remove("anna"), true);
    assert.equal(f.grants.authenticate(tokens.access_token), undefined);
    assert.throws(() => f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }), invalidGrant);

    const g = setup();
    const byClient = link(g);
    assert.equal(g.store.oauthClients.remove(ALEXA), true);
    assert.equal(g.grants.authenticate(byClient.access_token), undefined);
    f.store.close();
    g.store.close();
  });

  test("revokeUser and revokeClient end every grant of that user or client", () => {
    const f = setup();
    const alexa = link(f);
    const google = f.grants.exchangeCode({
      clientId: GOOGLE,
      code: f.grants.issueCode({ clientId: GOOGLE, userId: f.userId, redirectUri: GOOGLE_URI, scope: "" }),
      redirectUri: GOOGLE_URI,
    });
    assert.equal(f.grants.revokeClient(GOOGLE), 1);
    assert.equal(f.grants.authenticate(google.access_token), undefined);
    assert.ok(f.grants.authenticate(alexa.access_token));
    assert.equal(f.grants.revokeUser(f.userId), 1);
    assert.equal(f.grants.authenticate(alexa.access_token), undefined);
    f.store.close();
  });

  test("a password change revokes inside its own transaction, which still commits with synchronous=FULL", () => {
    const f = setup();
    link(f);
    const modes: number[] = [];
    f.store.users.onCredentialsChanged(() => modes.push(f.store.db.pragma("synchronous", { simple: true }) as number));
    f.store.users.setPassword("anna", "scrypt$new", 2_000_000);
    assert.deepEqual(modes, [2], "FULL while the listeners run, after the nested revocation");
    assert.equal(f.store.db.pragma("synchronous", { simple: true }), 1, "NORMAL again afterwards");
    f.store.close();
  });
});

describe("storage and link health", () => {
  test("row 21 'no cleartext storage of credentials': the tables hold no issued code or token", () => {
    const f = setup();
    const c = code(f);
    const tokens = f.grants.exchangeCode({ clientId: ALEXA, code: c, redirectUri: ALEXA_URI });
    const refreshed = f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    const pending = code(f);
    const dump = ["oauth_codes", "oauth_grants", "oauth_tokens", "account_links"]
      .map((table) => JSON.stringify(f.store.db.prepare(`SELECT * FROM ${table}`).all()))
      .join("\n");
    for (const secret of [c, pending, tokens.access_token, tokens.refresh_token, refreshed.access_token]) {
      assert.ok(!dump.includes(secret), "plain value stored");
      assert.ok(!dump.includes(secret.slice(0, 12)), "a prefix stored");
      assert.ok(dump.includes(hashSecret(secret)), "looked up by hash");
    }
    f.store.close();
  });

  test("link health records the link, the last refresh and requests at most once a minute", () => {
    const f = setup();
    const t0 = f.clock.t;
    const tokens = link(f);
    assert.deepEqual(f.grants.linkHealth(), [
      {
        userId: f.userId,
        userName: "anna",
        platform: "alexa",
        linkedAt: t0,
        lastTokenAt: t0,
        lastRefreshAt: null,
        lastRequestAt: null,
        lastError: null,
        lastErrorAt: null,
        active: true,
      },
    ]);
    f.clock.t += 10 * SECOND;
    f.grants.authenticate(tokens.access_token);
    f.clock.t += 30 * SECOND;
    f.grants.authenticate(tokens.access_token);
    assert.equal(f.grants.linkHealth()[0]?.lastRequestAt, t0 + 10 * SECOND, "not rewritten within a minute");
    f.clock.t += 30 * SECOND;
    f.grants.authenticate(tokens.access_token);
    assert.equal(f.grants.linkHealth()[0]?.lastRequestAt, t0 + 70 * SECOND);
    f.clock.t += 3600 * SECOND;
    f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    const row = f.grants.linkHealth()[0];
    assert.equal(row?.lastRefreshAt, f.clock.t);
    assert.equal(row?.lastTokenAt, f.clock.t);
    f.grants.revoke({ clientId: ALEXA, token: tokens.refresh_token });
    assert.equal(f.grants.linkHealth()[0]?.active, false);
    assert.match(f.grants.linkHealth()[0]?.lastError ?? "", /revoked/);
    f.store.close();
  });

  test("expired access tokens of a grant are pruned at refresh, so hourly refreshes do not pile up", () => {
    const f = setup();
    const tokens = link(f);
    for (let i = 0; i < 30; i++) {
      f.clock.t += 3600 * SECOND;
      f.grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token });
    }
    const count = f.store.db.prepare("SELECT count(*) AS n FROM oauth_tokens").get() as { n: number };
    assert.ok(count.n <= 3, `${count.n} tokens kept`);
    f.store.close();
  });

  test("durability: tokens issued just before a kill -9 still authenticate after reopening", () => {
    const path = freshPath();
    const store = new Store(openDatabase(path));
    const userId = seed(store);
    store.close();
    const src = (file: string) => JSON.stringify(new URL(`../../src/${file}`, import.meta.url).href);
    const script = `
      import { Store, openDatabase } from ${src("store/index.ts")};
      import { GrantService } from ${src("oauth/grants.ts")};
      const grants = new GrantService(new Store(openDatabase(${JSON.stringify(path)})));
      const code = grants.issueCode({ clientId: ${JSON.stringify(ALEXA)}, userId: ${JSON.stringify(userId)},
        redirectUri: ${JSON.stringify(ALEXA_URI)}, scope: "smart_home" });
      const tokens = grants.exchangeCode({ clientId: ${JSON.stringify(ALEXA)}, code, redirectUri: ${JSON.stringify(ALEXA_URI)} });
      process.stdout.write(JSON.stringify(tokens) + "\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(child.signal, "SIGKILL", child.stderr);
    const tokens = JSON.parse(child.stdout) as TokenResponse;
    const reopened = new Store(openDatabase(path));
    const grants = new GrantService(reopened);
    assert.equal(grants.authenticate(tokens.access_token)?.userId, userId);
    assert.ok(grants.refresh({ clientId: ALEXA, refreshToken: tokens.refresh_token }).access_token);
    reopened.close();
  });
});
