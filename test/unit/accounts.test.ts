/**
 * Account management shared by the CLI and the admin API: user names, the password policy on add and
 * change, revocation hooks, and OAuth client credentials (random id, secret shown once, hash stored).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addClient, addUser, changePassword, removeClient, removeUser } from "../../src/oauth/accounts.ts";
import { AccountError } from "../../src/oauth/errors.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { hashSecret } from "../../src/security/secrets.ts";
import { openDatabase, Store } from "../../src/store/index.ts";

const hasher = new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } });
const refused = (code: string) => (error: unknown) => error instanceof AccountError && error.code === code;
const memoryStore = () => new Store(openDatabase(":memory:"));

describe("users", () => {
  test("add stores a verifiable scrypt hash; names and passwords are checked first", async () => {
    const store = memoryStore();
    const user = await addUser(store, "anna", "a long enough password", { hasher, now: 1000 });
    const stored = store.users.credentials("anna")?.passwordHash as string;
    assert.match(stored, /^scrypt\$10\$/);
    assert.equal(await hasher.verify("a long enough password", stored), true);
    assert.equal(user.createdAt, 1000);
    await assert.rejects(addUser(store, "ANNA", "another long password", { hasher }), refused("user_exists"));
    await assert.rejects(
      addUser(store, "bad name", "a long enough password", { hasher }),
      refused("invalid_user_name"),
    );
    await assert.rejects(addUser(store, "bob", "too short", { hasher }), refused("weak_password"));
    await assert.rejects(addUser(store, "bob.builder1", "bob.builder1", { hasher }), refused("weak_password"));
    assert.deepEqual(
      store.users.list().map((u) => u.name),
      ["anna"],
    );
    store.close();
  });

  test("a password change stores a new hash and fires the revocation hook; removal too", async () => {
    const store = memoryStore();
    const user = await addUser(store, "anna", "a long enough password", { hasher, now: 1000 });
    const changes: string[] = [];
    store.users.onCredentialsChanged((id, change) => changes.push(`${id === user.id ? "anna" : id}:${change}`));
    const before = store.users.credentials("anna")?.passwordHash;
    const changed = await changePassword(store, "Anna", "a different password", { hasher, now: 2000 });
    assert.equal(changed.passwordChangedAt, 2000);
    assert.notEqual(store.users.credentials("anna")?.passwordHash, before);
    await assert.rejects(changePassword(store, "anna", "short", { hasher }), refused("weak_password"));
    await assert.rejects(
      changePassword(store, "nobody", "a long enough password", { hasher }),
      refused("unknown_user"),
    );
    removeUser(store, "anna");
    assert.throws(() => removeUser(store, "anna"), refused("unknown_user"));
    assert.deepEqual(changes, ["anna:password_changed", "anna:removed"]);
    store.close();
  });
});

describe("OAuth clients", () => {
  test("an Alexa client gets a random id, a 256-bit secret stored as a hash, and Amazon's URIs", () => {
    const store = memoryStore();
    const { client, secret } = addClient(store, { platform: "alexa", vendorId: "ABCDEFGHIJ" }, 1000);
    assert.match(client.id, /^hearth-alexa-[a-z0-9]{10}$/);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(client.label, "Alexa skill of vendor ABCDEFGHIJ");
    assert.equal(client.redirectUris.length, 3);
    assert.deepEqual(store.oauthClients.get(client.id), client);
    assert.equal(store.oauthClients.verifySecret(client.id, secret), true);
    const row = store.db.prepare("SELECT secret_hash FROM oauth_clients").get() as { secret_hash: string };
    assert.equal(row.secret_hash, hashSecret(secret));
    const other = addClient(store, { platform: "alexa", vendorId: "ABCDEFGHIJ" }, 1000);
    assert.notEqual(other.client.id, client.id);
    assert.notEqual(other.secret, secret);
    store.close();
  });

  test("labels are checked, invalid platform input is refused, removal of an unknown client too", () => {
    const store = memoryStore();
    const google = addClient(store, { platform: "google", projectId: "my-home-1", label: "  Home  " });
    assert.equal(google.client.label, "Home");
    assert.throws(
      () => addClient(store, { platform: "google", projectId: "x", label: "ok" }),
      refused("invalid_project_id"),
    );
    assert.throws(
      () => addClient(store, { platform: "custom", redirectUris: ["https://a.example/cb"], label: "a\nb" }),
      refused("invalid_label"),
    );
    assert.throws(
      () => addClient(store, { platform: "custom", redirectUris: ["http://a.example/cb"] }),
      refused("invalid_redirect_uri"),
    );
    assert.equal(store.oauthClients.list().length, 1);
    removeClient(store, google.client.id);
    assert.throws(() => removeClient(store, google.client.id), refused("unknown_client"));
    store.close();
  });
});
