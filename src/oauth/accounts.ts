/**
 * Adding, changing and removing users and OAuth clients: the one place that checks user names and
 * passwords and creates client credentials. Shared by the CLI, which works on the database directly,
 * and by the admin API once it manages accounts.
 */
import { randomInt } from "node:crypto";
import { generateSecret, hashSecret } from "../security/secrets.ts";
import {
  type OAuthClientRecord,
  type OAuthPlatform,
  type Store,
  USER_NAME_PATTERN,
  type UserRecord,
} from "../store/index.ts";
import { AccountError } from "./errors.ts";
import { type PasswordHasher, passwordHasher, passwordProblem } from "./passwords.ts";
import { alexaRedirectUris, customRedirectUris, googleRedirectUris } from "./platforms.ts";

export interface AccountOptions {
  hasher?: PasswordHasher;
  now?: number;
}

export function userNameProblem(name: string): string | undefined {
  if (USER_NAME_PATTERN.test(name)) return undefined;
  return `"${name}" is not a valid user name: 1–64 characters of letters, digits and . _ @ -`;
}

function checkPassword(password: string, userName: string): void {
  const problem = passwordProblem(password, userName);
  if (problem) throw new AccountError("weak_password", problem);
}

function unknownUser(name: string): AccountError {
  return new AccountError("unknown_user", `no user "${name}"`);
}

/** Checks the name before a password is asked for, so nobody types a password for nothing. */
export function checkNewUserName(store: Store, name: string): void {
  const problem = userNameProblem(name);
  if (problem) throw new AccountError("invalid_user_name", problem);
  const existing = store.users.get(name);
  if (existing) throw new AccountError("user_exists", `user "${existing.name}" already exists`);
}

export async function addUser(
  store: Store,
  name: string,
  password: string,
  options: AccountOptions = {},
): Promise<UserRecord> {
  checkNewUserName(store, name);
  checkPassword(password, name);
  const hash = await (options.hasher ?? passwordHasher).hash(password);
  // Someone may have taken the name during the hash.
  const user = store.users.add(name, hash, options.now ?? Date.now());
  if (!user) throw new AccountError("user_exists", `user "${name}" already exists`);
  return user;
}

/** Sets a new password; the user's tokens are revoked through `users.onCredentialsChanged`. */
export async function changePassword(
  store: Store,
  name: string,
  password: string,
  options: AccountOptions = {},
): Promise<UserRecord> {
  const user = store.users.get(name);
  if (!user) throw unknownUser(name);
  checkPassword(password, user.name);
  const hash = await (options.hasher ?? passwordHasher).hash(password);
  if (!store.users.setPassword(user.name, hash, options.now ?? Date.now())) throw unknownUser(name);
  return store.users.get(user.name) ?? user;
}

export function removeUser(store: Store, name: string): void {
  if (!store.users.remove(name)) throw unknownUser(name);
}

export type ClientRequest = { label?: string | undefined; requirePkce?: boolean | undefined } & (
  | { platform: "alexa"; vendorId: string }
  | { platform: "google"; projectId: string }
  | { platform: "custom"; redirectUris: readonly string[] }
);

export interface NewClient {
  client: OAuthClientRecord;
  /** Shown once; only its SHA-256 hash is stored. */
  secret: string;
}

const LABEL_MAX_LENGTH = 100;
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_RANDOM_CHARS = 10;

function redirectUrisFor(request: ClientRequest): string[] {
  switch (request.platform) {
    case "alexa":
      return alexaRedirectUris(request.vendorId);
    case "google":
      return googleRedirectUris(request.projectId);
    case "custom":
      return customRedirectUris(request.redirectUris);
  }
}

function labelFor(request: ClientRequest): string {
  if (request.label !== undefined) {
    const label = request.label.trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being refused
    if (label === "" || label.length > LABEL_MAX_LENGTH || /[\u0000-\u001f\u007f]/.test(label)) {
      throw new AccountError("invalid_label", `a label is 1–${LABEL_MAX_LENGTH} characters on one line`);
    }
    return label;
  }
  switch (request.platform) {
    case "alexa":
      return `Alexa skill of vendor ${request.vendorId}`;
    case "google":
      return `Google project ${request.projectId}`;
    case "custom":
      return "custom client";
  }
}

/** `hearth-<platform>-<10 random characters>`: readable in logs and consoles, and not guessable. */
function newClientId(platform: OAuthPlatform): string {
  let suffix = "";
  for (let i = 0; i < ID_RANDOM_CHARS; i++) suffix += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return `hearth-${platform}-${suffix}`;
}

/**
 * Registers an OAuth client with its platform's redirect URIs and returns its credentials. The secret
 * is 32 random bytes (base64url), so a SHA-256 hash is enough to store it (docs/decisions.md).
 */
export function addClient(store: Store, request: ClientRequest, now = Date.now()): NewClient {
  const redirectUris = redirectUrisFor(request);
  const label = labelFor(request);
  const secret = generateSecret(32);
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = newClientId(request.platform);
    const pkce = request.requirePkce ? "required" : "optional";
    const added = store.oauthClients.add(
      { id, platform: request.platform, label, secretHash: hashSecret(secret), redirectUris, pkce },
      now,
    );
    if (added) return { client: { id, platform: request.platform, label, redirectUris, pkce, createdAt: now }, secret };
  }
  // 36^10 ids: five collisions in a row mean the random source is broken.
  throw new Error("could not find a free client id");
}

/** Removes a client; the tokens issued to it are revoked through `oauthClients.onRemoved`. */
export function removeClient(store: Store, clientId: string): void {
  if (!store.oauthClients.remove(clientId)) throw new AccountError("unknown_client", `no OAuth client "${clientId}"`);
}
