/**
 * Google's HomeGraph API (google.md §2): Report State, Request Sync and agentUsers.delete, authenticated
 * with the service-account key named by `google.serviceAccountKeyPath`. This is the only module that
 * imports `@googleapis/homegraph` and `google-auth-library`; the rest of Hearth sees plain outcomes. Both
 * are imported at the first call with a usable key, not with this module, which the daemon always loads:
 * without a service-account key they are never needed, and together they cost about 210 ms and 18 MiB of
 * memory (measured alone).
 *
 * Every method resolves, never rejects: what HomeGraph answered becomes an outcome and the caller decides
 * what follows (retry later, mark the user's link broken, give up). Nothing is retried here, so one call
 * is at most one request, or two when an access token has to be fetched first.
 */
import { createPrivateKey, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { GlobalOptions, homegraph_v1 } from "@googleapis/homegraph";
import type { JWT } from "google-auth-library";
import { z } from "zod";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";

export const HOMEGRAPH_SCOPE = "https://www.googleapis.com/auth/homegraph";

/** Why a call failed, in the terms a caller acts on (google.md §2.4). */
export type HomeGraphFailureReason =
  /** 404: Google has no linked user with that id, or a reported device was never synced (or not yet). */
  | "not_found"
  /** 400: the body is wrong (a state of a trait the device did not declare, a value out of range). */
  | "invalid_argument"
  /** 401/403 from HomeGraph, or the token endpoint refusing the key: the key or the project is wrong. */
  | "permission_denied"
  /** 429, 5xx, no answer in time, no connection: worth trying again later. */
  | "unavailable"
  /** No key path is set, or the key file is missing, unreadable or not a service-account key. */
  | "not_configured"
  | "other";

/**
 * `status` is HomeGraph's HTTP status when HomeGraph answered; it is absent when the request never got
 * there (no key, no token, no connection). `message` is for logs and the link's last error: it never
 * carries a key or a token.
 */
export type HomeGraphOutcome =
  | { ok: true }
  | { ok: false; status?: number; reason: HomeGraphFailureReason; message: string };

export interface ReportStateOptions {
  /** Ties a follow-up notification to the EXECUTE it answers (google.md §1.4). */
  eventId?: string;
  /** Per device id, e.g. `{LockUnlock: {priority: 0, followUpResponse: {…}}}`. */
  notifications?: Record<string, object>;
}

export interface HomeGraphOptions {
  config: Config["google"];
  log: Logger;
  /** Only paces re-reading a broken key file; token lifetimes follow the library's own clock. */
  now?: () => number;
}

/**
 * Where google-auth-library sends the JWT-bearer exchange, as found in its 10.x sources: `JWT` hands the
 * exchange to its bundled gtoken (`build/src/gtoken/getToken.js`, `jwsSign.js`), which POSTs to the
 * constant `https://oauth2.googleapis.com/token` and signs the same constant as the JWT's `aud`. Neither
 * `JWT` nor `GoogleAuth` reads the key file's `token_uri` (only the GDCH client does) and no constructor
 * option changes the URL. Two hooks exist, and Hearth uses them when the key names another `token_uri`
 * (as Google's Python library honours it): `additionalClaims` are spread into the JWT after `aud`, so they
 * can set it, and every request goes through the client's `transporter` (a Gaxios instance), whose
 * request interceptor can redirect the exchange. A key from the Cloud console names Google's own URL, and
 * then nothing is changed.
 */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

/** A hung HomeGraph must not hold reports back for long; the caller decides whether to try again. */
const REQUEST_TIMEOUT_MS = 10_000;
/** A key file that could not be used is read again after this long, so fixing it needs no restart. */
const KEY_RETRY_MS = 60_000;

const SETTING = "google.serviceAccountKeyPath";
const NOT_CONFIGURED = `HomeGraph is not configured: set ${SETTING} to the service-account JSON key`;

/** The fields of a service-account key that Hearth uses; the Cloud console's file has a few more. */
const ServiceAccountKeySchema = z.object({
  type: z.literal("service_account"),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  project_id: z.string().optional(),
  token_uri: z.url({ protocol: /^https?$/ }).optional(),
});

/** Google's error body (AIP-193): `{"error":{"code":404,"message":"…","status":"NOT_FOUND"}}`. */
const GoogleErrorSchema = z.object({
  error: z.object({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional() }),
});

/** The token endpoint's refusal: `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`. */
const TokenErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/**
 * What Gaxios rejects with, as far as Hearth reads it. Its `config` (the request, bearer token included)
 * is only tested for presence, never logged: an error without one was thrown before any request left.
 */
const HttpFailureSchema = z.object({
  config: z.object({}).loose(),
  code: z.union([z.string(), z.number()]).optional(),
  response: z.object({ status: z.number().int(), data: z.unknown() }).optional(),
});

/** What a parsed key file gives: everything a session needs. */
export interface ServiceAccount {
  email: string;
  key: string;
  keyId: string | undefined;
  tokenUrl: string;
  /** The Google Cloud project the key belongs to, when the file names it. */
  projectId: string | undefined;
}

/** A key file read and checked, or what is wrong with it in words that never include the key. */
export type ServiceAccountKeyResult = { ok: true; account: ServiceAccount } | { ok: false; problem: string };

/**
 * Reads and checks a service-account key file as HomeGraph will use it: JSON, `type` service_account, a
 * client_email, a private_key that parses as PEM, a token_uri if any. Shared with `hearth doctor`.
 */
export async function readServiceAccountKey(path: string): Promise<ServiceAccountKeyResult> {
  const problem = (what: string): ServiceAccountKeyResult => ({ ok: false, problem: what });
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return problem("the file does not exist");
    return problem(`the file cannot be read (${code ?? "unknown error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return problem("the file is not JSON; use the JSON key the Google Cloud console downloads for the service account");
  }
  const parsed = ServiceAccountKeySchema.safeParse(json);
  if (!parsed.success) return problem(keyProblem(parsed.error.issues));
  try {
    createPrivateKey(parsed.data.private_key);
  } catch {
    return problem("its private_key is not a PEM private key");
  }
  return {
    ok: true,
    account: {
      email: parsed.data.client_email,
      key: parsed.data.private_key,
      keyId: parsed.data.private_key_id,
      tokenUrl: parsed.data.token_uri ?? GOOGLE_TOKEN_URL,
      projectId: parsed.data.project_id,
    },
  };
}

/** The two client libraries, imported once, at the first session (see the top of this file). */
type Libraries = {
  homegraph: typeof import("@googleapis/homegraph").homegraph;
  gaxios: typeof import("google-auth-library").gaxios;
  JWT: typeof import("google-auth-library").JWT;
};
let libraries: Promise<Libraries> | undefined;

function loadLibraries(): Promise<Libraries> {
  libraries ??= Promise.all([import("@googleapis/homegraph"), import("google-auth-library")]).then(
    ([{ homegraph }, { gaxios, JWT }]) => ({ homegraph, gaxios, JWT }),
  );
  return libraries;
}

type KeyState = { ok: true; account: ServiceAccount } | { ok: false; message: string; readAt: number };

/** An authenticated client: the JWT caches its access token until five minutes before it expires. */
interface Session {
  auth: JWT;
  api: homegraph_v1.Homegraph;
}

type Failure = Extract<HomeGraphOutcome, { ok: false }>;

/** Google's texts go into messages; anything long or odd is cut so a log line stays a line. */
function shortText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 200);
}

function parsedBody(data: unknown): unknown {
  if (typeof data !== "string") return data;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function transportProblem(code: string | number | undefined): string {
  return code === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : "connection failed";
}

/** Hints for the person running Hearth, by HomeGraph's status (google.md §2.4). */
const HINTS: Record<number, string> = {
  400: "the request is malformed; in a report, usually a state of a trait the device did not declare or a value out of range",
  401: "HomeGraph refused the access token; the next call fetches a new one",
  403: "check that the service-account key belongs to the Google project of the integration and that the HomeGraph API is enabled there",
  404: "Google has no linked user with this id (never linked, or unlinked), or a device is not synced yet",
};

function reasonOf(status: number): HomeGraphFailureReason {
  if (status === 404) return "not_found";
  if (status === 400) return "invalid_argument";
  if (status === 401 || status === 403) return "permission_denied";
  if (status === 429 || status >= 500) return "unavailable";
  return "other";
}

/** Names the fields that are wrong, never their values: the file holds a private key. */
function keyProblem(issues: readonly z.core.$ZodIssue[]): string {
  if (issues.some((issue) => issue.path.length === 0)) return "it is not a JSON object";
  const fields = [...new Set(issues.map((issue) => String(issue.path[0])))];
  if (fields.includes("type")) return 'it is not a service-account key ("type" is not "service_account")';
  return `it lacks a valid ${fields.join(", ")}`;
}

export class HomeGraph {
  private readonly config: Config["google"];
  private readonly log: Logger;
  private readonly now: () => number;
  private keyState: KeyState | undefined;
  /** One read of the key file at a time, however many calls arrive together. */
  private keyReading: Promise<KeyState> | undefined;
  private session: Session | undefined;
  /** The last problem logged as a warning; the same one is not logged again until a call succeeds. */
  private lastWarning: string | undefined;

  constructor(options: HomeGraphOptions) {
    this.config = options.config;
    this.log = options.log;
    this.now = options.now ?? Date.now;
  }

  /** A key path is set; whether the file is usable shows at the first call. */
  get configured(): boolean {
    return this.config.serviceAccountKeyPath !== undefined;
  }

  /** Pushes device states, and notifications such as a follow-up, for one user. */
  reportState(
    agentUserId: string,
    states: Record<string, object>,
    options: ReportStateOptions = {},
  ): Promise<HomeGraphOutcome> {
    const requestBody: homegraph_v1.Schema$ReportStateAndNotificationRequest = {
      requestId: randomUUID(),
      agentUserId,
      ...(options.eventId !== undefined ? { eventId: options.eventId } : {}),
      payload: {
        devices: { states, ...(options.notifications !== undefined ? { notifications: options.notifications } : {}) },
      },
    };
    return this.call("Report State", (api) => api.devices.reportStateAndNotification({ requestBody }));
  }

  /** Asks Google to send a SYNC for the user. Queued at Google (`async`), so it answers at once. */
  requestSync(agentUserId: string): Promise<HomeGraphOutcome> {
    return this.call("Request Sync", (api) => api.devices.requestSync({ requestBody: { agentUserId, async: true } }));
  }

  /** Unlinks the user at Google and deletes everything Google holds about their devices. */
  deleteAgentUser(agentUserId: string): Promise<HomeGraphOutcome> {
    return this.call("agentUsers.delete", (api) =>
      // The path template expands `{+agentUserId}` without encoding reserved characters: encoded here.
      api.agentUsers.delete({ agentUserId: `agentUsers/${encodeURIComponent(agentUserId)}`, requestId: randomUUID() }),
    );
  }

  private async call(what: string, send: (api: homegraph_v1.Homegraph) => Promise<unknown>): Promise<HomeGraphOutcome> {
    try {
      const session = await this.ready();
      if ("reason" in session) return session;
      // The token first, on its own, so that a refusal of the key is told apart from one of HomeGraph.
      const token = await this.accessToken(session);
      if (token) return token;
      try {
        await send(session.api);
      } catch (error) {
        return this.refused(what, session, error);
      }
      this.lastWarning = undefined;
      this.log.debug({ what }, "HomeGraph accepted a request");
      return { ok: true };
    } catch (error) {
      return this.unexpected(what, error);
    }
  }

  /** Not an answer, nor a failed connection: a fault in Hearth or in the library. */
  private unexpected(what: string, error: unknown): Failure {
    const message = `${what} failed unexpectedly: ${shortText((error as Error)?.message ?? String(error))}`;
    this.log.error({ what }, message);
    return { ok: false, reason: "other", message };
  }

  /** A problem the person running Hearth must fix: a warning, once, rather than at every state change. */
  private warnOnce(message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    this.log.warn(message);
  }

  /** The session, built at the first call from the key file; a failure when the key cannot be used. */
  private async ready(): Promise<Session | Failure> {
    if (this.session) return this.session;
    const key = await this.key();
    if (!key.ok) return { ok: false, reason: "not_configured", message: key.message };
    const libs = await loadLibraries();
    this.session ??= this.open(key.account, libs);
    return this.session;
  }

  private async key(): Promise<KeyState> {
    const known = this.keyState;
    if (known?.ok || (known && this.now() - known.readAt < KEY_RETRY_MS)) return known;
    this.keyReading ??= this.readKey().finally(() => {
      this.keyReading = undefined;
    });
    const state = await this.keyReading;
    this.keyState = state;
    if (!state.ok) this.warnOnce(state.message);
    return state;
  }

  private async readKey(): Promise<KeyState> {
    const path = this.config.serviceAccountKeyPath;
    const readAt = this.now();
    if (path === undefined) return { ok: false, message: NOT_CONFIGURED, readAt };
    const key = await readServiceAccountKey(path);
    if (key.ok) return key;
    return {
      ok: false,
      message: `${SETTING} (${path}): ${key.problem}; HomeGraph calls are skipped until it is fixed`,
      readAt,
    };
  }

  private open(account: ServiceAccount, { homegraph, gaxios, JWT }: Libraries): Session {
    // Timeout and no retries for every request of this client: the token exchange asks Gaxios to retry
    // POSTs three times, and googleapis turns retries on for each call; `retry: 0` wins over both.
    const transporter = new gaxios.Gaxios({ timeout: REQUEST_TIMEOUT_MS, retryConfig: { retry: 0 } });
    const ownTokenUrl = account.tokenUrl !== GOOGLE_TOKEN_URL;
    if (ownTokenUrl) {
      const tokenUrl = new URL(account.tokenUrl);
      transporter.interceptors.request.add({
        resolved: async (request) => {
          if (request.url.href === GOOGLE_TOKEN_URL) request.url = tokenUrl;
          return request;
        },
      });
    }
    const auth = new JWT({
      email: account.email,
      key: account.key,
      ...(account.keyId !== undefined ? { keyId: account.keyId } : {}),
      scopes: [HOMEGRAPH_SCOPE],
      transporter,
      ...(ownTokenUrl ? { additionalClaims: { aud: account.tokenUrl } } : {}),
    });
    const api = homegraph({
      version: "v1",
      // googleapis-common types `auth` with its own pinned copy of google-auth-library; the client only
      // calls `request` and `getUniverseDomain` on it, which this JWT has.
      auth: auth as unknown as GlobalOptions["auth"],
      rootUrl: this.config.homegraphUrl,
      timeout: REQUEST_TIMEOUT_MS,
      retry: false,
    });
    return { auth, api };
  }

  /** Undefined when the client holds a valid access token (fetched now, or cached); a failure otherwise. */
  private async accessToken(session: Session): Promise<Failure | undefined> {
    try {
      const { token } = await session.auth.getAccessToken();
      if (token) return undefined;
      return { ok: false, reason: "other", message: "the token endpoint answered without an access token" };
    } catch (error) {
      return this.tokenFailure(error);
    }
  }

  private tokenFailure(error: unknown): Failure {
    const tokenUrl = this.keyState?.ok ? this.keyState.account.tokenUrl : GOOGLE_TOKEN_URL;
    const failure = HttpFailureSchema.safeParse(error);
    if (!failure.success) return this.unexpected("the access token request", error);
    const status = failure.data.response?.status;
    if (status === undefined) {
      const message = `could not get a HomeGraph access token from ${tokenUrl} (${transportProblem(failure.data.code)})`;
      this.log.debug(message);
      return { ok: false, reason: "unavailable", message };
    }
    const refusal = TokenErrorSchema.safeParse(parsedBody(failure.data.response?.data));
    const detail = refusal.success
      ? `${refusal.data.error}${refusal.data.error_description ? `: ${shortText(refusal.data.error_description)}` : ""}`
      : `HTTP ${status}`;
    if (status === 429 || status >= 500) {
      const message = `the token endpoint ${tokenUrl} answered ${detail}`;
      this.log.debug(message);
      return { ok: false, reason: "unavailable", message };
    }
    const message =
      `Google refused the service-account key of ${SETTING} (${detail}): ` +
      "check that the key was not deleted or disabled in the Cloud console and that this machine's clock is right";
    this.warnOnce(message);
    return { ok: false, reason: "permission_denied", message };
  }

  private refused(what: string, session: Session, error: unknown): Failure {
    const failure = HttpFailureSchema.safeParse(error);
    if (!failure.success) return this.unexpected(what, error);
    const { response, code } = failure.data;
    if (response === undefined) {
      const message = `${what} did not reach HomeGraph at ${this.config.homegraphUrl} (${transportProblem(code)})`;
      this.log.debug({ what }, message);
      return { ok: false, reason: "unavailable", message };
    }
    const { status } = response;
    // A token HomeGraph refuses is not used again: the next call starts a session with a new one.
    if (status === 401 && this.session === session) this.session = undefined;
    const body = GoogleErrorSchema.safeParse(parsedBody(response.data));
    const googleStatus = body.success ? body.data.error.status : undefined;
    const googleMessage = body.success ? body.data.error.message : undefined;
    const hint = HINTS[status];
    const message =
      `HomeGraph refused ${what}: ${status}${googleStatus ? ` ${googleStatus}` : ""}` +
      `${googleMessage ? ` (${shortText(googleMessage)})` : ""}${hint ? `: ${hint}` : ""}`;
    this.log.debug({ what, status }, message);
    return { ok: false, status, reason: reasonOf(status), message };
  }
}
