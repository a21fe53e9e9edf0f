/**
 * Login with Amazon's token endpoint: the grant code of an AcceptGrant becomes a per-user access token
 * (one hour) and refresh token for the event gateway (alexa.md §8). The client credentials are the
 * skill's "Alexa Skill Messaging" ones, sent in the form body as LWA's documentation does it:
 * `grant_type=authorization_code&code=…&client_id=…&client_secret=…`, without a redirect_uri, because
 * no redirect ever happened.
 */
import type { AuthorizationCode, ModuleOptions } from "simple-oauth2";
import { z } from "zod";
import type { AlexaTokens } from "../store/index.ts";

/** Codes that are not OAuth error codes: the request never got an OAuth answer. */
export type LwaFailure = "network_error" | "invalid_response";

/**
 * A refusal or failure at LWA. `code` is the OAuth error (`invalid_grant`, `invalid_client`, …) when LWA
 * answered one, and `status` its HTTP status; a network failure has no status. Messages never carry
 * credentials or tokens.
 */
export class LwaError extends Error {
  override readonly name = "LwaError";

  constructor(
    readonly code: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface LoginWithAmazonOptions {
  /** LWA's token endpoint, `https://api.amazon.com/auth/o2/token` unless the config says otherwise. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  now?: () => number;
  /** Per request: LWA answering nothing must not hold a directive or a report for long. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

const TokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.coerce.number().int().positive(),
});

const ErrorResponseSchema = z.object({
  error: z.string().min(1),
  error_description: z.string().optional(),
});

/** What simple-oauth2 rejects with: a Boom error from its HTTP client (@hapi/wreck). */
interface HttpClientError {
  message?: string;
  output?: { statusCode?: number };
  data?: { isResponseError?: boolean; payload?: unknown; res?: { statusCode?: number } } | null;
}

/** Descriptions are LWA's own text; anything long or odd is cut so a log line stays a line. */
function shortText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 200);
}

function toLwaError(error: unknown, tokenUrl: string): LwaError {
  if (error instanceof LwaError) return error;
  const failure = (error ?? {}) as HttpClientError;
  const status = failure.data?.res?.statusCode;
  if (status === undefined) {
    const reason = failure.output?.statusCode === 504 ? "no answer in time" : "connection failed";
    return new LwaError("network_error", undefined, `could not reach Login with Amazon at ${tokenUrl} (${reason})`);
  }
  const refusal = ErrorResponseSchema.safeParse(failure.data?.payload);
  if (refusal.success) {
    const description = refusal.data.error_description ? `: ${shortText(refusal.data.error_description)}` : "";
    return new LwaError(
      refusal.data.error,
      status,
      `Login with Amazon refused (${status} ${refusal.data.error})${description}`,
    );
  }
  if (status >= 400) return new LwaError("server_error", status, `Login with Amazon answered HTTP ${status}`);
  return new LwaError("invalid_response", status, "Login with Amazon answered something that is not a token");
}

export class LoginWithAmazon {
  private readonly settings: ModuleOptions;
  /** Created at the first exchange or refresh; see client(). */
  private oauth: Promise<AuthorizationCode> | undefined;
  private readonly tokenUrl: string;
  private readonly now: () => number;

  constructor(options: LoginWithAmazonOptions) {
    const url = new URL(options.tokenUrl);
    this.tokenUrl = `${url.origin}${url.pathname}`;
    this.now = options.now ?? Date.now;
    this.settings = {
      client: { id: options.clientId, secret: options.clientSecret },
      auth: { tokenHost: url.origin, tokenPath: `${url.pathname}${url.search}` },
      options: { authorizationMethod: "body", bodyFormat: "form" },
      http: { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
    };
  }

  /**
   * simple-oauth2 (with joi and @hapi/wreck) is imported at the first token request rather than with this
   * module, which the daemon always loads: without Alexa event credentials it is never needed, and it costs
   * about 150 ms and 16 MiB of memory (measured alone).
   */
  private client(): Promise<AuthorizationCode> {
    this.oauth ??= import("simple-oauth2").then(({ AuthorizationCode }) => new AuthorizationCode(this.settings));
    return this.oauth;
  }

  /** Exchanges an AcceptGrant code, which works once and only for a few minutes. */
  async exchangeCode(code: string): Promise<AlexaTokens> {
    const oauth = await this.client();
    const startedAt = this.now();
    let answer: unknown;
    try {
      // No redirect_uri: LWA only checks it when the authorization request carried one.
      answer = (await oauth.getToken({ code } as Parameters<AuthorizationCode["getToken"]>[0])).token;
    } catch (error) {
      throw toLwaError(error, this.tokenUrl);
    }
    const tokens = this.tokensOf(answer, startedAt);
    if (tokens.refreshToken === undefined) {
      throw new LwaError("invalid_response", 200, "Login with Amazon answered the code without a refresh token");
    }
    return { ...tokens, refreshToken: tokens.refreshToken };
  }

  /** A new access token. LWA may rotate the refresh token; when it sends none, the old one stays valid. */
  async refresh(refreshToken: string): Promise<AlexaTokens> {
    const oauth = await this.client();
    const startedAt = this.now();
    let answer: unknown;
    try {
      answer = (await oauth.createToken({ refresh_token: refreshToken }).refresh()).token;
    } catch (error) {
      throw toLwaError(error, this.tokenUrl);
    }
    const tokens = this.tokensOf(answer, startedAt);
    return { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken };
  }

  /** The lifetime counts from when the request left: a slow answer must not make a token look fresher. */
  private tokensOf(answer: unknown, startedAt: number): Omit<AlexaTokens, "refreshToken"> & { refreshToken?: string } {
    const parsed = TokenResponseSchema.safeParse(answer);
    if (!parsed.success) {
      throw new LwaError("invalid_response", 200, "Login with Amazon answered something that is not a token");
    }
    return {
      accessToken: parsed.data.access_token,
      expiresAt: startedAt + parsed.data.expires_in * 1000,
      ...(parsed.data.refresh_token ? { refreshToken: parsed.data.refresh_token } : {}),
    };
  }
}
