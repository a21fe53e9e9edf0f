/**
 * Redirect URIs by platform: Alexa's three regional URIs per Vendor ID (alexa.md §10), Google's two per
 * project (google.md §4), and the rules for custom clients (RFC 9700 §2.6: no http except loopback;
 * RFC 6749 §3.1.2: no fragment).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AccountError } from "../../src/oauth/errors.ts";
import {
  alexaRedirectUris,
  customRedirectUris,
  googleRedirectUris,
  redirectUriProblem,
} from "../../src/oauth/platforms.ts";

const refused = (code: string) => (error: unknown) => error instanceof AccountError && error.code === code;

describe("Alexa", () => {
  test("a Vendor ID gives exactly the three regional redirect URIs", () => {
    assert.deepEqual(alexaRedirectUris("M2ABCDEFGHIJ7K"), [
      "https://pitangui.amazon.com/api/skill/link/M2ABCDEFGHIJ7K",
      "https://layla.amazon.com/api/skill/link/M2ABCDEFGHIJ7K",
      "https://alexa.amazon.co.jp/api/skill/link/M2ABCDEFGHIJ7K",
    ]);
    assert.equal(alexaRedirectUris("ABCDEFGHIJ").length, 3, "Amazon's own example id");
  });

  test("malformed Vendor IDs are refused", () => {
    for (const id of ["", "ABC", "m2abcdefghij", "M2ABC/../x", "M2ABC DEF", "A".repeat(33), "M2ABCDEFG?x=1"]) {
      assert.throws(() => alexaRedirectUris(id), refused("invalid_vendor_id"), JSON.stringify(id));
    }
  });
});

describe("Google", () => {
  test("a project id gives exactly the production and sandbox redirect URIs", () => {
    assert.deepEqual(googleRedirectUris("my-home-4711"), [
      "https://oauth-redirect.googleusercontent.com/r/my-home-4711",
      "https://oauth-redirect-sandbox.googleusercontent.com/r/my-home-4711",
    ]);
  });

  test("project ids follow Google's rules", () => {
    for (const id of ["abcdef", `a${"b".repeat(29)}`, "home-2"]) assert.doesNotThrow(() => googleRedirectUris(id), id);
    for (const id of [
      "abcde",
      `a${"b".repeat(30)}`,
      "1home-bridge",
      "Home-bridge",
      "home_bridge",
      "home-bridge-",
      "",
    ]) {
      assert.throws(() => googleRedirectUris(id), refused("invalid_project_id"), JSON.stringify(id));
    }
  });
});

describe("custom clients", () => {
  test("https URLs and http on localhost or 127.0.0.1 are accepted, exactly as written", () => {
    const uris = [
      "https://client.example.org/callback",
      "https://client.example.org:8443/cb?tenant=1",
      "http://localhost:3000/callback",
      "http://127.0.0.1/callback",
    ];
    assert.deepEqual(customRedirectUris(uris), uris);
  });

  test("repeats are dropped, order kept", () => {
    assert.deepEqual(customRedirectUris(["https://a.example/cb", "https://b.example/cb", "https://a.example/cb"]), [
      "https://a.example/cb",
      "https://b.example/cb",
    ]);
  });

  test("everything else is refused with the reason", () => {
    const cases: Array<[string, RegExp]> = [
      ["http://client.example.org/callback", /uses http/],
      ["http://192.168.1.5/callback", /uses http/],
      ["https://client.example.org/callback#frag", /fragment/],
      ["https://client.example.org/callback#", /fragment/],
      ["/callback", /absolute/],
      ["client.example.org/callback", /absolute/],
      ["ftp://client.example.org/", /absolute/],
      ["HTTPS://client.example.org/", /absolute/],
      ["https://user:pw@client.example.org/", /user name or password/],
      [" https://client.example.org/", /spaces/],
      ["https://client.example.org/a b", /spaces/],
      ["https://", /not a valid URL/],
      [`https://client.example.org/${"x".repeat(2000)}`, /longer than/],
    ];
    for (const [uri, reason] of cases) {
      assert.match(redirectUriProblem(uri) ?? "(accepted)", reason, uri);
      assert.throws(() => customRedirectUris([uri]), refused("invalid_redirect_uri"), uri);
    }
  });

  test("a custom client needs at least one and at most ten URIs", () => {
    assert.throws(() => customRedirectUris([]), refused("invalid_redirect_uri"));
    const eleven = Array.from({ length: 11 }, (_, i) => `https://client.example.org/cb${i}`);
    assert.throws(() => customRedirectUris(eleven), refused("invalid_redirect_uri"));
  });
});
