/**
 * RFC 6750 §3: "If the protected resource request does not include authentication credentials or does not
 * contain an access token that enables access to the protected resource, the resource server MUST include
 * the HTTP WWW-Authenticate response header field" — and a 401 is what makes Google refresh the token.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import express from "express";
import { addClient, addUser } from "../../src/oauth/accounts.ts";
import { requireBearer } from "../../src/oauth/bearer.ts";
import { GrantService } from "../../src/oauth/grants.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { openDatabase, Store } from "../../src/store/index.ts";

let dir: string;
let store: Store;
let base: string;
let close: () => void;
let time = Date.now();
const grants = () => new GrantService(store, { now: () => time });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "hearth-bearer-"));
  store = new Store(openDatabase(join(dir, "hearth.db")));
  const app = express();
  app.get("/protected", requireBearer(grants()), (_req, res) => res.json(res.locals.principal));
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
after(() => {
  close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function linked() {
  const user = await addUser(store, `u${Math.floor(Math.random() * 1e9)}`, "correct horse battery", {
    hasher: new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } }),
  });
  const { client } = addClient(store, { platform: "google", projectId: "my-home" });
  const redirectUri = client.redirectUris[0] as string;
  const service = grants();
  const code = service.issueCode({ clientId: client.id, userId: user.id, redirectUri, scope: "devices" });
  return { user, client, tokens: service.exchangeCode({ clientId: client.id, code, redirectUri }) };
}

const call = (token?: string) =>
  fetch(`${base}/protected`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

test("a valid access token reaches the route as its user and client", async () => {
  const { user, client, tokens } = await linked();
  const response = await call(tokens.access_token);
  assert.equal(response.status, 200);
  const principal = (await response.json()) as { userId: string; clientId: string; platform: string };
  assert.deepEqual([principal.userId, principal.clientId, principal.platform], [user.id, client.id, "google"]);
});

test("no token: 401 with a bare Bearer challenge", async () => {
  const response = await call();
  assert.equal(response.status, 401);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="hearth"');
});

test("an unknown, revoked or expired token: 401 invalid_token, so the platform refreshes", async () => {
  const unknown = await call("not-a-token");
  assert.equal(unknown.status, 401);
  assert.match(unknown.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

  const revoked = await linked();
  grants().revoke({ clientId: revoked.client.id, token: revoked.tokens.access_token });
  assert.equal((await call(revoked.tokens.access_token)).status, 401);

  const expiring = await linked();
  assert.equal((await call(expiring.tokens.access_token)).status, 200);
  time += 3601_000;
  try {
    assert.equal((await call(expiring.tokens.access_token)).status, 401);
  } finally {
    time -= 3601_000;
  }
});

test("a refresh token is not accepted as an access token", async () => {
  const { tokens } = await linked();
  assert.equal((await call(tokens.refresh_token as string)).status, 401);
});
