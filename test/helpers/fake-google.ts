/**
 * Google, as far as Hearth talks to it on its own initiative: the OAuth token endpoint that turns a
 * service account's signed JWT into an access token, and the HomeGraph API (google.md §2), on one local
 * HTTP server (127.0.0.1, random port). It records every request so a test can check exactly what Hearth
 * sent, and answers the way google.md §2 describes Google answering.
 *
 * - `POST /token` (form-encoded JWT-bearer grant,
 *   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`): the JWT must be RS256,
 *   signed with a key written by `writeServiceAccountKey`, with `iss` = that key's client_email, `aud` =
 *   this endpoint's URL, a `scope` that includes HomeGraph's, and at most an hour between `iat` and `exp`.
 *   Answers `{access_token, expires_in: 3600, token_type: "Bearer"}`, or 400 `invalid_grant` /
 *   `invalid_scope` / `unsupported_grant_type` with Google's texts.
 * - `POST /v1/devices:reportStateAndNotification`, `POST /v1/devices:requestSync`,
 *   `DELETE /v1/agentUsers/<id>?requestId=…`: checked in Google's order. A missing or unknown bearer token
 *   is 401 UNAUTHENTICATED; a body that is not the API's shape (unknown fields included) is 400
 *   INVALID_ARGUMENT; then a queued answer, if any (`queueResponse`); then an agentUserId not in
 *   `linkedUsers` is 404 NOT_FOUND "Requested entity was not found.", like Google for a user who never
 *   linked or unlinked. Otherwise 200: `{requestId}` for a report, `{}` for the others; a delete also
 *   removes the user from `linkedUsers`.
 *
 * The states inside a report are checked for shape only (an object per device id); checking them against
 * the traits a device declared is the conformance schemas' job.
 *
 * Usage:
 *   const google = await FakeGoogle.start();
 *   const keyPath = google.writeServiceAccountKey(dir);
 *   // config: { serviceAccountKeyPath: keyPath, homegraphUrl: google.homegraphUrl }
 *   google.linkedUsers.add(userId);
 *   google.queueResponse("report", 503);          // the next well-formed report is refused, later ones not
 *   const [report] = await google.waitFor("report", 1);
 *   await google.stop();
 */

import { generateKeyPairSync, type KeyObject, randomBytes, verify } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { join } from "node:path";
import { z } from "zod";
import { closeServer, listenLocally, RequestWaiters } from "./local-service.ts";

export const HOMEGRAPH_SCOPE = "https://www.googleapis.com/auth/homegraph";
export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** What `queueResponse` and `waitFor` take: the token endpoint or one of the HomeGraph methods. */
export type FakeGoogleKind = "token" | "report" | "sync" | "delete";

export interface TokenRequest {
  headers: IncomingHttpHeaders;
  /** The form fields as received, the assertion included. */
  form: Record<string, string>;
  /** The JWT's claims when it could be decoded, verified or not. */
  claims: Record<string, unknown> | undefined;
  /** The JWT's RS256 signature checked out against a key written by `writeServiceAccountKey`. */
  verified: boolean;
  /** What the fake answered. */
  status: number;
}

export interface HomeGraphRequest {
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, the raw text when it was not JSON, undefined when empty (a delete). */
  body: unknown;
  /** The query string's parameters (a delete's `requestId`). */
  query: Record<string, string>;
  /** From the body, or from the path of a delete. */
  agentUserId: string | undefined;
  /** What the fake answered. */
  status: number;
}

interface Answer {
  status: number;
  body: unknown;
}

interface WrittenKey {
  email: string;
  publicKey: KeyObject;
}

/** Google's error body (AIP-193), as HomeGraph sends it. */
export function googleError(code: number, status: string, message: string): object {
  return { error: { code, message, status } };
}

/** The status and text Google sends with each HTTP status, for queued errors without a body. */
const GOOGLE_ERRORS: Record<number, [string, string]> = {
  400: ["INVALID_ARGUMENT", "Request contains an invalid argument."],
  401: [
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
  ],
  403: ["PERMISSION_DENIED", "The caller does not have permission"],
  404: ["NOT_FOUND", "Requested entity was not found."],
  429: ["RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Report state requests'."],
  500: ["INTERNAL", "Internal error encountered."],
  503: ["UNAVAILABLE", "The service is currently unavailable."],
};

function defaultErrorBody(kind: FakeGoogleKind, status: number): unknown {
  if (status < 400) return kind === "report" ? { requestId: "queued" } : {};
  if (kind === "token") {
    return status < 500
      ? { error: "invalid_grant", error_description: "Invalid JWT Signature." }
      : { error: "internal_failure", error_description: "Backend error." };
  }
  const [name, message] = GOOGLE_ERRORS[status] ?? ["UNKNOWN", "Unknown error."];
  return googleError(status, name, message);
}

const ACCESS_TOKEN_SECONDS = 3600;
/** Google takes JWTs whose `iat` is at most this far in the future (clock skew). */
const CLOCK_SKEW_SECONDS = 300;

const DeviceMapSchema = z.record(z.string().min(1), z.record(z.string(), z.unknown()));

/** `devices.reportStateAndNotification`'s request, as the API's discovery document declares it. */
const ReportBodySchema = z.strictObject({
  requestId: z.string().optional(),
  agentUserId: z.string().min(1),
  eventId: z.string().optional(),
  followUpToken: z.string().optional(),
  payload: z.strictObject({
    devices: z.strictObject({ states: DeviceMapSchema.optional(), notifications: DeviceMapSchema.optional() }),
  }),
});

const SyncBodySchema = z.strictObject({ agentUserId: z.string().min(1), async: z.boolean().optional() });

const JwtHeaderSchema = z.object({ alg: z.string(), typ: z.string().optional(), kid: z.string().optional() });

const ClaimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  scope: z.string(),
  iat: z.number(),
  exp: z.number(),
});

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function answerJson(response: ServerResponse, answer: Answer): void {
  if (answer.body === undefined) {
    response.writeHead(answer.status).end();
    return;
  }
  response
    .writeHead(answer.status, { "content-type": "application/json; charset=UTF-8" })
    .end(JSON.stringify(answer.body));
}

function jsonOf(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

function invalidArgument(message: string): Answer {
  return { status: 400, body: googleError(400, "INVALID_ARGUMENT", message) };
}

export class FakeGoogle {
  readonly tokenRequests: TokenRequest[] = [];
  readonly reports: HomeGraphRequest[] = [];
  readonly syncRequests: HomeGraphRequest[] = [];
  readonly deletes: HomeGraphRequest[] = [];
  /** The agentUserIds Google knows as linked; reports and syncs for anyone else are 404. Tests add users. */
  readonly linkedUsers = new Set<string>();

  private readonly keys: WrittenKey[] = [];
  /** Access token → when it stops working (epoch ms). */
  private readonly accessTokens = new Map<string, number>();
  private readonly queued = new Map<FakeGoogleKind, Answer[]>();
  private readonly waiters = new RequestWaiters();
  private keyCounter = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<FakeGoogle> {
    let fake: FakeGoogle | undefined;
    const { server, baseUrl } = await listenLocally((request, response) =>
      (fake as FakeGoogle).handle(request, response),
    );
    fake = new FakeGoogle(server, baseUrl);
    return fake;
  }

  /** The token endpoint; written into keys as `token_uri`, and the `aud` their JWTs must carry. */
  get tokenUrl(): string {
    return `${this.baseUrl}/token`;
  }

  /** What `google.homegraphUrl` is set to. */
  get homegraphUrl(): string {
    return this.baseUrl;
  }

  /**
   * Generates an RSA key pair and writes a service-account key file as the Cloud console would, with
   * `token_uri` pointing here, to `dir/fileName` (mode 0600). Returns its path. Each call makes a new key
   * and a new client_email; all of them stay valid.
   */
  writeServiceAccountKey(dir: string, fileName = "service-account.json"): string {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const number = ++this.keyCounter;
    const email = `hearth-homegraph-${number}@hearth-test.iam.gserviceaccount.com`;
    this.keys.push({ email, publicKey });
    const key = {
      type: "service_account",
      project_id: "hearth-test",
      private_key_id: randomBytes(20).toString("hex"),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: email,
      client_id: String(100000000000000000000n + BigInt(number)),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.tokenUrl,
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: "googleapis.com",
    };
    const path = join(dir, fileName);
    writeFileSync(path, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
    return path;
  }

  /** Access tokens HomeGraph accepts now. */
  validAccessTokens(): string[] {
    const now = Date.now();
    return [...this.accessTokens].filter(([, expiresAt]) => expiresAt > now).map(([token]) => token);
  }

  /** Every access token issued so far stops working, as after its hour or when its key is deleted. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /**
   * Answers the next request of `kind` with `status` (in the order queued), after the bearer token and
   * the body were found good. Without a body, an error gets Google's body for that status (for "token",
   * `invalid_grant` below 500), and a success `{}` (`{requestId}` for a report).
   */
  queueResponse(kind: FakeGoogleKind, status: number, body?: unknown): void {
    const queue = this.queued.get(kind) ?? [];
    queue.push({ status, body: body ?? defaultErrorBody(kind, status) });
    this.queued.set(kind, queue);
  }

  /** Resolves with the requests of `kind` once there are at least `count`; rejects after `timeoutMs`. */
  waitFor(kind: "token", count: number, timeoutMs?: number): Promise<TokenRequest[]>;
  waitFor(kind: Exclude<FakeGoogleKind, "token">, count: number, timeoutMs?: number): Promise<HomeGraphRequest[]>;
  waitFor(kind: FakeGoogleKind, count: number, timeoutMs = 5000): Promise<Array<TokenRequest | HomeGraphRequest>> {
    return this.waiters.waitFor(() => this.recordsOf(kind), count, timeoutMs, kind);
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  private recordsOf(kind: FakeGoogleKind): Array<TokenRequest | HomeGraphRequest> {
    switch (kind) {
      case "token":
        return this.tokenRequests;
      case "report":
        return this.reports;
      case "sync":
        return this.syncRequests;
      case "delete":
        return this.deletes;
    }
  }

  private takeQueued(kind: FakeGoogleKind): Answer | undefined {
    return this.queued.get(kind)?.shift();
  }

  private notify(): void {
    this.waiters.notify();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const url = new URL(request.url ?? "/", this.baseUrl);
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    if (request.method === "POST" && path === "/token") {
      this.token(request, text, response);
      return;
    }
    const deleted = /^\/v1\/agentUsers\/(.+)$/.exec(path);
    if (request.method === "POST" && path === "/v1/devices:reportStateAndNotification") {
      this.homegraph("report", request, text, query, response);
    } else if (request.method === "POST" && path === "/v1/devices:requestSync") {
      this.homegraph("sync", request, text, query, response);
    } else if (request.method === "DELETE" && deleted) {
      this.homegraph("delete", request, text, query, response, decodeURIComponent(deleted[1] as string));
    } else {
      answerJson(response, {
        status: 404,
        body: googleError(404, "NOT_FOUND", `The requested URL ${path} was not found on this server.`),
      });
    }
  }

  private token(request: IncomingMessage, text: string, response: ServerResponse): void {
    const form = Object.fromEntries(new URLSearchParams(text));
    const record: TokenRequest = { headers: request.headers, form, claims: undefined, verified: false, status: 0 };
    const answer = this.tokenAnswer(request.headers, form, record);
    record.status = answer.status;
    this.tokenRequests.push(record);
    answerJson(response, answer);
    this.notify();
  }

  private tokenAnswer(headers: IncomingHttpHeaders, form: Record<string, string>, record: TokenRequest): Answer {
    const refusal = (error: string, description: string): Answer => ({
      status: 400,
      body: { error, error_description: description },
    });
    if (!(headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return refusal("invalid_request", "Invalid Content-Type.");
    }
    if (form.grant_type !== JWT_BEARER_GRANT) return refusal("unsupported_grant_type", "Invalid grant_type.");
    const parts = (form.assertion ?? "").split(".");
    if (parts.length !== 3) return refusal("invalid_grant", "Invalid JWT.");
    const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
    const header = JwtHeaderSchema.safeParse(jsonOf(headerPart));
    const claimsJson = jsonOf(claimsPart);
    if (typeof claimsJson === "object" && claimsJson !== null) record.claims = claimsJson as Record<string, unknown>;
    const claims = ClaimsSchema.safeParse(claimsJson);
    if (!header.success || !claims.success) return refusal("invalid_grant", "Invalid JWT.");
    if (header.data.alg !== "RS256") return refusal("invalid_grant", "Invalid JWT: unsupported algorithm.");
    const signed = Buffer.from(`${headerPart}.${claimsPart}`);
    const signature = Buffer.from(signaturePart, "base64url");
    record.verified = this.keys.some(
      (key) => key.email === claims.data.iss && verify("RSA-SHA256", signed, key.publicKey, signature),
    );
    if (!record.verified) return refusal("invalid_grant", "Invalid JWT Signature.");
    if (claims.data.aud !== this.tokenUrl) {
      return refusal("invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${this.tokenUrl}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims.data;
    if (iat > now + CLOCK_SKEW_SECONDS || exp <= now || exp - iat > ACCESS_TOKEN_SECONDS) {
      return refusal(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    if (!claims.data.scope.split(" ").includes(HOMEGRAPH_SCOPE)) {
      return refusal("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    const queued = this.takeQueued("token");
    if (queued) return queued;
    const accessToken = `ya29.fake-${randomBytes(24).toString("base64url")}`;
    this.accessTokens.set(accessToken, Date.now() + ACCESS_TOKEN_SECONDS * 1000);
    return { status: 200, body: { access_token: accessToken, expires_in: ACCESS_TOKEN_SECONDS, token_type: "Bearer" } };
  }

  private homegraph(
    kind: Exclude<FakeGoogleKind, "token">,
    request: IncomingMessage,
    text: string,
    query: Record<string, string>,
    response: ServerResponse,
    pathUser?: string,
  ): void {
    let body: unknown = text === "" ? undefined : text;
    try {
      if (text !== "") body = JSON.parse(text);
    } catch {
      // kept as text: the test sees what was sent
    }
    const named =
      typeof body === "object" && body !== null ? (body as { agentUserId?: unknown }).agentUserId : undefined;
    const agentUserId = pathUser ?? (typeof named === "string" ? named : undefined);
    const answer = this.homegraphAnswer(kind, request.headers, body, agentUserId);
    this.recordsOf(kind).push({ headers: request.headers, body, query, agentUserId, status: answer.status });
    answerJson(response, answer);
    this.notify();
  }

  private homegraphAnswer(
    kind: Exclude<FakeGoogleKind, "token">,
    headers: IncomingHttpHeaders,
    body: unknown,
    agentUserId: string | undefined,
  ): Answer {
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
    const expiresAt = bearer === undefined ? undefined : this.accessTokens.get(bearer);
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      const [name, message] = GOOGLE_ERRORS[401] as [string, string];
      return { status: 401, body: googleError(401, name, message) };
    }
    if (kind === "delete") {
      if (body !== undefined) return invalidArgument("A delete has no body.");
    } else {
      if (!(headers["content-type"] ?? "").startsWith("application/json")) {
        return invalidArgument("The body must be JSON.");
      }
      const shape = (kind === "report" ? ReportBodySchema : SyncBodySchema).safeParse(body);
      if (!shape.success) {
        const fields = shape.error.issues.map((issue) => issue.path.join(".") || "(body)").join(", ");
        return invalidArgument(`Invalid JSON payload received: ${fields}`);
      }
    }
    const queued = this.takeQueued(kind);
    if (queued) return queued;
    if (agentUserId === undefined || !this.linkedUsers.has(agentUserId)) {
      const [name, message] = GOOGLE_ERRORS[404] as [string, string];
      return { status: 404, body: googleError(404, name, message) };
    }
    if (kind === "delete") {
      this.linkedUsers.delete(agentUserId);
      return { status: 200, body: {} };
    }
    if (kind === "report")
      return { status: 200, body: { requestId: (body as { requestId?: string }).requestId ?? "" } };
    return { status: 200, body: {} };
  }
}
