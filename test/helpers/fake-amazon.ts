/**
 * Amazon, as far as Hearth talks to it on its own initiative: Login with Amazon's token endpoint and the
 * Alexa event gateway, on one local HTTP server (127.0.0.1, random port). It records every request so a
 * test can check exactly what Hearth sent, and answers the way alexa.md §8 describes Amazon answering.
 *
 * - `POST /auth/o2/token` (form-encoded, client credentials in the body as LWA takes them):
 *   `grant_type=authorization_code` exchanges a code registered with `issueCode` once for fresh tokens
 *   (`Atza|…` access, `Atzr|…` refresh, `expires_in` 3600); an unknown or reused code is 400
 *   invalid_grant. `grant_type=refresh_token` with a known refresh token gives a new access token
 *   (see `refreshTokens` for rotation); a revoked or unknown one is 400 invalid_grant. Wrong client
 *   credentials are 401 invalid_client.
 * - `POST /v3/events` (JSON): answers what `queueEventResponse` queued, in order; with nothing queued, 202
 *   with an empty body when the bearer token is a live access token issued here, 401
 *   INVALID_ACCESS_TOKEN_EXCEPTION otherwise. Error bodies have the gateway's shape
 *   (`gatewayException`).
 *
 * Usage:
 *   const amazon = await FakeAmazon.start({ clientId: "id", clientSecret: "secret" });
 *   amazon.issueCode("grant-code");                 // what Alexa puts in AcceptGrant
 *   // config: { lwaTokenUrl: amazon.lwaTokenUrl, eventGatewayUrl: amazon.eventsUrl, clientId, clientSecret }
 *   amazon.queueEventResponse(429);                // the next event is throttled, the one after accepted
 *   const [event] = await amazon.waitForEvents(1);
 *   await amazon.stop();
 */

import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { closeServer, listenLocally, RequestWaiters } from "./local-service.ts";

export interface FakeAmazonOptions {
  /** The Alexa Skill Messaging client id Hearth must present; "amzn1.application-oa2-client.test" by default. */
  clientId?: string;
  clientSecret?: string;
}

export interface TokenRequest {
  headers: IncomingHttpHeaders;
  /** The form fields as received, client_secret included. */
  form: Record<string, string>;
}

export interface EventRequest {
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** What the fake answered. */
  status: number;
}

/**
 * How a refresh answers about the refresh token: `same` returns the one presented (LWA's usual answer),
 * `rotate` returns a new one and revokes the old, `omit` leaves `refresh_token` out of the answer.
 */
export type RefreshTokenMode = "same" | "rotate" | "omit";

interface QueuedResponse {
  status: number;
  body: unknown;
}

/** The gateway's error body (alexa.md §8). */
export function gatewayException(code: string, description = `fake gateway: ${code}`): object {
  return {
    header: { namespace: "System", name: "Exception", messageId: randomBytes(8).toString("hex") },
    payload: { code, description },
  };
}

/** The code the real gateway sends with each status, for queued errors without a body. */
const EXCEPTION_CODES: Record<number, string> = {
  400: "INVALID_REQUEST_EXCEPTION",
  401: "INVALID_ACCESS_TOKEN_EXCEPTION",
  403: "INSUFFICIENT_PERMISSION_EXCEPTION",
  413: "REQUEST_ENTITY_TOO_LARGE_EXCEPTION",
  429: "THROTTLING_EXCEPTION",
  500: "INTERNAL_SERVICE_EXCEPTION",
  503: "SERVICE_UNAVAILABLE_EXCEPTION",
};

const ACCESS_TOKEN_SECONDS = 3600;

function newToken(prefix: "Atza|" | "Atzr|"): string {
  return `${prefix}${randomBytes(24).toString("base64url")}`;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function answerJson(response: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  response.writeHead(status, { "content-type": "application/json;charset=UTF-8" }).end(JSON.stringify(body));
}

export class FakeAmazon {
  readonly tokenRequests: TokenRequest[] = [];
  readonly events: EventRequest[] = [];
  /** How the next refreshes answer about the refresh token; may be changed at any time. */
  refreshTokens: RefreshTokenMode = "same";

  private readonly codes = new Map<string, "issued" | "used">();
  private readonly refreshTokenSet = new Set<string>();
  /** Access token → when it stops working (epoch ms). */
  private readonly accessTokens = new Map<string, number>();
  private readonly queued: QueuedResponse[] = [];
  private readonly eventWaiters = new RequestWaiters();

  private constructor(
    private readonly server: Server,
    private readonly clientId: string,
    private readonly clientSecret: string,
    readonly baseUrl: string,
  ) {}

  static async start(options: FakeAmazonOptions = {}): Promise<FakeAmazon> {
    let fake: FakeAmazon | undefined;
    const { server, baseUrl } = await listenLocally((request, response) =>
      (fake as FakeAmazon).handle(request, response),
    );
    fake = new FakeAmazon(
      server,
      options.clientId ?? "amzn1.application-oa2-client.test",
      options.clientSecret ?? "fake-skill-messaging-secret",
      baseUrl,
    );
    return fake;
  }

  get lwaTokenUrl(): string {
    return `${this.baseUrl}/auth/o2/token`;
  }

  get eventsUrl(): string {
    return `${this.baseUrl}/v3/events`;
  }

  /** Registers a grant code, as Alexa's AcceptGrant would carry it; it exchanges once. */
  issueCode(code: string): void {
    this.codes.set(code, "issued");
  }

  /** The refresh token stops working (the user removed the skill's access in their Amazon account). */
  revokeRefreshToken(token: string): void {
    this.refreshTokenSet.delete(token);
  }

  /** Every access token issued so far stops working, as after its hour. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /** Access tokens the gateway accepts now. */
  validAccessTokens(): string[] {
    const now = Date.now();
    return [...this.accessTokens].filter(([, expiresAt]) => expiresAt > now).map(([token]) => token);
  }

  /**
   * Answers the next event request with `status` (in the order queued). Without a body, an error status
   * gets the gateway's exception body with the code Amazon uses for it, and a success an empty body.
   */
  queueEventResponse(status: number, body?: unknown): void {
    const code = EXCEPTION_CODES[status];
    this.queued.push({ status, body: body ?? (status >= 400 && code ? gatewayException(code) : undefined) });
  }

  /** Resolves with the events received once there are at least `count`; rejects after `timeoutMs`. */
  waitForEvents(count: number, timeoutMs = 5000): Promise<EventRequest[]> {
    return this.eventWaiters.waitFor(() => this.events, count, timeoutMs, "event");
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const path = new URL(request.url ?? "/", this.baseUrl).pathname;
    if (request.method === "POST" && path === "/auth/o2/token") {
      const form = Object.fromEntries(new URLSearchParams(text));
      this.tokenRequests.push({ headers: request.headers, form });
      const answer = this.tokenAnswer(request.headers, form);
      answerJson(response, answer.status, answer.body);
    } else if (request.method === "POST" && path === "/v3/events") {
      this.event(request, text, response);
    } else {
      answerJson(response, 404, { error: "not_found" });
    }
  }

  private tokenAnswer(headers: IncomingHttpHeaders, form: Record<string, string>): QueuedResponse {
    const refusal = (status: number, error: string, description: string) => ({
      status,
      body: { error, error_description: description },
    });
    if (!(headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return refusal(400, "invalid_request", "The request must be form-encoded");
    }
    if (form.client_id !== this.clientId || form.client_secret !== this.clientSecret) {
      return refusal(401, "invalid_client", "Client authentication failed");
    }
    if (form.grant_type === "authorization_code") {
      const code = form.code ?? "";
      if (this.codes.get(code) !== "issued") {
        return refusal(400, "invalid_grant", "The request has an invalid grant parameter : code");
      }
      this.codes.set(code, "used");
      return { status: 200, body: this.tokens(newToken("Atzr|")) };
    }
    if (form.grant_type === "refresh_token") {
      const presented = form.refresh_token ?? "";
      if (!this.refreshTokenSet.has(presented)) {
        return refusal(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token");
      }
      if (this.refreshTokens === "rotate") {
        this.refreshTokenSet.delete(presented);
        return { status: 200, body: this.tokens(newToken("Atzr|")) };
      }
      const body = this.tokens(presented);
      if (this.refreshTokens === "omit") delete body.refresh_token;
      return { status: 200, body };
    }
    return refusal(400, "unsupported_grant_type", "The authorization grant type is not supported");
  }

  private tokens(refreshToken: string): Record<string, unknown> {
    const accessToken = newToken("Atza|");
    this.accessTokens.set(accessToken, Date.now() + ACCESS_TOKEN_SECONDS * 1000);
    this.refreshTokenSet.add(refreshToken);
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      token_type: "bearer",
      expires_in: ACCESS_TOKEN_SECONDS,
    };
  }

  private event(request: IncomingMessage, text: string, response: ServerResponse): void {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text: the test sees what was sent
    }
    const queued = this.queued.shift();
    const answer = queued ?? this.defaultEventAnswer(request, body);
    this.events.push({ headers: request.headers, body, status: answer.status });
    answerJson(response, answer.status, answer.body);
    this.eventWaiters.notify();
  }

  private defaultEventAnswer(request: IncomingMessage, body: unknown): QueuedResponse {
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const expiresAt = bearer === undefined ? undefined : this.accessTokens.get(bearer);
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      return { status: 401, body: gatewayException("INVALID_ACCESS_TOKEN_EXCEPTION", "Access token is not valid.") };
    }
    if (typeof body !== "object" || body === null) {
      return { status: 400, body: gatewayException("INVALID_REQUEST_EXCEPTION", "The body is not JSON.") };
    }
    return { status: 202, body: undefined };
  }
}
