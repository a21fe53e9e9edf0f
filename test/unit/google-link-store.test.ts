/**
 * The Google link of each user on a real SQLite file: states, the last error and the last report, and
 * that a link is never recorded for a user who does not exist.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addClient } from "../../src/oauth/accounts.ts";
import { GrantService } from "../../src/oauth/grants.ts";
import { Store } from "../../src/store/index.ts";

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-google-links-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

function storeWithUsers(...names: string[]): { store: Store; dir: string; ids: string[] } {
  const dir = join(root, `data-${++counter}`);
  const store = Store.open(dir);
  const ids = names.map((name) => {
    const user = store.users.add(name, "scrypt$x", 0);
    assert.ok(user);
    return user.id;
  });
  return { store, dir, ids };
}

describe("GoogleLinkStore", () => {
  test("a user without a link has no record; markActive creates one and it outlives a reopen", () => {
    const { store, dir, ids } = storeWithUsers("anna");
    const [anna] = ids as [string];
    assert.equal(store.googleLinks.get(anna), undefined);
    assert.equal(store.googleLinks.markActive(anna, 1000), true);
    store.close();
    const reopened = Store.open(dir);
    assert.deepEqual(reopened.googleLinks.get(anna), {
      userId: anna,
      state: "active",
      lastReportAt: null,
      lastError: null,
      lastErrorAt: null,
      updatedAt: 1000,
    });
    reopened.close();
  });

  test("errors and reports are recorded without changing the state; a relink clears the error", () => {
    const { store, ids } = storeWithUsers("anna");
    const [anna] = ids as [string];
    store.googleLinks.markActive(anna, 1000);
    store.googleLinks.recordReport(anna, 2000);
    store.googleLinks.recordError(anna, "HomeGraph refused Report State: 503 UNAVAILABLE", 3000);
    assert.deepEqual(store.googleLinks.get(anna), {
      userId: anna,
      state: "active",
      lastReportAt: 2000,
      lastError: "HomeGraph refused Report State: 503 UNAVAILABLE",
      lastErrorAt: 3000,
      updatedAt: 1000,
    });

    store.googleLinks.markBroken(anna, "HomeGraph does not know the user: link Hearth again", 4000);
    assert.deepEqual(store.googleLinks.get(anna), {
      userId: anna,
      state: "broken",
      lastReportAt: 2000,
      lastError: "HomeGraph does not know the user: link Hearth again",
      lastErrorAt: 4000,
      updatedAt: 4000,
    });

    store.googleLinks.markDisconnected(anna, 5000);
    const disconnected = store.googleLinks.get(anna);
    assert.equal(disconnected?.state, "disconnected");
    assert.equal(disconnected?.updatedAt, 5000);
    assert.equal(disconnected?.lastError, "HomeGraph does not know the user: link Hearth again", "kept for the view");

    store.googleLinks.markActive(anna, 6000);
    assert.deepEqual(store.googleLinks.get(anna), {
      userId: anna,
      state: "active",
      lastReportAt: 2000,
      lastError: null,
      lastErrorAt: null,
      updatedAt: 6000,
    });
    store.close();
  });

  test("markBroken and markDisconnected also create the row; nothing is recorded for an unknown user", () => {
    const { store, ids } = storeWithUsers("anna", "ben");
    const [anna, ben] = ids as [string, string];
    assert.equal(store.googleLinks.markBroken(anna, "HomeGraph answered 404", 1000), true);
    assert.equal(store.googleLinks.markDisconnected(ben, 1000), true);
    assert.equal(store.googleLinks.get(anna)?.state, "broken");
    assert.equal(store.googleLinks.get(anna)?.lastErrorAt, 1000);
    assert.equal(store.googleLinks.get(ben)?.state, "disconnected");
    assert.equal(store.googleLinks.get(ben)?.lastError, null);

    assert.equal(store.googleLinks.markActive("no-such-user", 1000), false);
    store.googleLinks.recordReport("no-such-user", 1000);
    store.googleLinks.recordError("no-such-user", "x", 1000);
    assert.equal(store.googleLinks.get("no-such-user"), undefined);
    store.close();
  });

  test("list names the users, in name order, and an unknown state reads as broken", () => {
    const { store, ids } = storeWithUsers("ben", "anna", "carl");
    const [ben, anna] = ids as [string, string];
    store.googleLinks.markActive(ben, 1000);
    store.googleLinks.markActive(anna, 2000);
    store.db.prepare("UPDATE google_links SET state = 'paused' WHERE user_id = ?").run(ben);
    assert.deepEqual(
      store.googleLinks.list().map(({ userName, state }) => ({ userName, state })),
      [
        { userName: "anna", state: "active" },
        { userName: "ben", state: "broken" },
      ],
    );
    store.close();
  });

  test("reportable: an active link of a user who still holds a Google grant", () => {
    const { store, ids } = storeWithUsers("anna", "ben", "carl", "dora");
    const [anna, ben, carl, dora] = ids as [string, string, string, string];
    const { client: google } = addClient(store, { platform: "google", projectId: "hearth-test" });
    const { client: alexa } = addClient(store, { platform: "alexa", vendorId: "M2HEARTHTEST" });
    const linking = new GrantService(store);
    const link = (userId: string, clientId: string, redirectUri: string) => {
      const code = linking.issueCode({ clientId, userId, redirectUri, scope: "smart_home" });
      linking.exchangeCode({ clientId, code, redirectUri });
    };
    link(anna, google.id, google.redirectUris[0] as string);
    link(ben, google.id, google.redirectUris[0] as string);
    link(carl, alexa.id, alexa.redirectUris[0] as string);
    link(dora, google.id, google.redirectUris[0] as string);
    for (const userId of ids) store.googleLinks.markActive(userId, 1000);
    store.googleLinks.markBroken(ben, "HomeGraph answered 404", 2000);
    assert.deepEqual(store.googleLinks.reportable(), [anna, dora].sort(), "ben is broken, carl linked only Alexa");

    store.grants.revokeUser(dora, 3000);
    assert.deepEqual(store.googleLinks.reportable(), [anna], "a grant ended on Hearth's side ends the reports");
    store.close();
  });

  test("the link goes with its user", () => {
    const { store, ids } = storeWithUsers("anna");
    const [anna] = ids as [string];
    store.googleLinks.markActive(anna, 1000);
    store.db.prepare("DELETE FROM users WHERE id = ?").run(anna);
    assert.equal(store.googleLinks.get(anna), undefined);
    store.close();
  });
});
