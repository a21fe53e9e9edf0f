/**
 * `POST /oauth/token` (RFC 6749 §4.1.3, §6) and `POST /oauth/revoke` (RFC 7009). The client authenticates
 * with HTTP Basic (Alexa's default) or with `client_id`/`client_secret` in the body (Google, and Alexa's
 * other scheme) — never both at once (§2.3). Failed client authentication is throttled per address before
 * any secret is compared, and secrets are compared in constant time (stored as hashes).
 * Every answer carries `Cache-Control: no-store` (§5.1) and errors are the §5.2 JSON.
 */
import express, { type NextFunction, type Request, type Response, Router } from "express";
import type { Logger } from "../log.ts";
import type { Store } from "../store/index.ts";
import { OAUTH_PATHS } from "./endpoints.ts";
import { OAuthError } from "./errors.ts";
import type { LoginThrottle } from "./login-throttle.ts";

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

/** The grant service as the token endpoint uses it. */
export interface TokenIssuer {
  exchangeCode(request: {
    clientId: string;
    code: string;
    redirectUri: string;
    codeVerifier?: string;
  }): TokenResponse | Promise<TokenResponse>;
  refresh(request: { clientId: string; refreshToken: string }): TokenResponse | Promise<TokenResponse>;
  revoke(request: { clientId: string; token: string }): void | Promise<void>;
}

/** Told of every answered token request (metrics). */
export interface TokenMetrics {
  /**
   * `platform` is the authenticated client's (undefined when it did not authenticate); `grantType` is
   * `authorization_code`, `refresh_token` or `other`; `outcome` is `ok` or the OAuth error code.
   */
  oauthToken(platform: string | undefined, grantType: string, outcome: string): void;
}

export interface TokenDeps {
  store: Store;
  grants: TokenIssuer;
  /** Throttles failed client authentication (a separate instance from the login throttle). */
  throttle: LoginThrottle;
  log: Logger;
  metrics?: TokenMetrics | undefined;
}

function single(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** RFC 6749 §2.3.1: the Basic user and password are form-urlencoded before base64. */
function basicCredentials(req: Request): { id: string; secret: string } | undefined | "malformed" {
  const header = req.get("authorization");
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return "malformed";
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return "malformed";
  try {
    const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, " "));
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return "malformed";
  }
}

export function tokenRouter(deps: TokenDeps): Router {
  const { store, grants, throttle, log, metrics } = deps;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: 8192 });

  const noStore = (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Pragma", "no-cache");
    next();
  };

  /** Step 1 of both endpoints: who is calling. Throws invalid_client / invalid_request. */
  const authenticateClient = (req: Request, res: Response): string => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const basic = basicCredentials(req);
    const bodyId = single(body.client_id);
    const bodySecret = single(body.client_secret);
    if (basic === "malformed") throw new OAuthError("invalid_request", "malformed Authorization header");
    if (basic && (bodySecret !== undefined || (bodyId !== undefined && bodyId !== basic.id))) {
      throw new OAuthError("invalid_request", "client credentials were sent both in the header and in the body");
    }
    const credentials = basic ?? (bodyId && bodySecret ? { id: bodyId, secret: bodySecret } : undefined);
    if (!credentials) {
      if (!basic) res.setHeader("WWW-Authenticate", 'Basic realm="hearth"');
      throw new OAuthError("invalid_client", "client authentication is required");
    }
    // Per address only: a client id is public (it is in every sign-in URL), and counting failures per client
    // would let anyone slow Amazon's or Google's own token requests. A 256-bit secret needs no per-client
    // guessing limit.
    const keys = [`ip:${req.ip ?? "unknown"}`];
    if (throttle.waitMs(keys) > 0) {
      throw new OAuthError("invalid_client", "too many failed client authentications; try again later");
    }
    if (!store.oauthClients.verifySecret(credentials.id, credentials.secret)) {
      throttle.recordFailure(keys);
      if (basic) res.setHeader("WWW-Authenticate", 'Basic realm="hearth"');
      throw new OAuthError("invalid_client", "unknown client or wrong secret");
    }
    throttle.recordSuccess(keys);
    // Which assistant is asking, for the metrics (the request's duration too): one lookup, only when counted.
    if (metrics) res.locals.platform = store.oauthClients.get(credentials.id)?.platform;
    return credentials.id;
  };

  // Google's own sample reads grant_type from the query as well as the body.
  const grantTypeOf = (req: Request) =>
    single(((req.body ?? {}) as Record<string, unknown>).grant_type) ?? single(req.query.grant_type);

  const issue = async (req: Request, res: Response): Promise<void> => {
    const clientId = authenticateClient(req, res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grantType = grantTypeOf(req);
    if (grantType === "authorization_code") {
      const code = single(body.code);
      const redirectUri = single(body.redirect_uri);
      if (!code || !redirectUri) throw new OAuthError("invalid_request", "code and redirect_uri are required");
      const verifier = single(body.code_verifier);
      res.json(
        await grants.exchangeCode({ clientId, code, redirectUri, ...(verifier ? { codeVerifier: verifier } : {}) }),
      );
      return;
    }
    if (grantType === "refresh_token") {
      const refreshToken = single(body.refresh_token);
      if (!refreshToken) throw new OAuthError("invalid_request", "refresh_token is required");
      res.json(await grants.refresh({ clientId, refreshToken }));
      return;
    }
    throw new OAuthError(
      grantType ? "unsupported_grant_type" : "invalid_request",
      grantType ? `grant_type ${grantType} is not supported` : "grant_type is required",
    );
  };

  router.post(OAUTH_PATHS.token, noStore, form, async (req, res) => {
    if (!metrics) return issue(req, res);
    const count = (outcome: string) => {
      const grantType = grantTypeOf(req);
      const label = grantType === "authorization_code" || grantType === "refresh_token" ? grantType : "other";
      metrics.oauthToken(res.locals.platform, label, outcome);
    };
    try {
      await issue(req, res);
    } catch (error) {
      count(error instanceof OAuthError ? error.error : "server_error");
      throw error;
    }
    count("ok");
  });

  router.post(OAUTH_PATHS.revoke, noStore, form, async (req, res) => {
    const clientId = authenticateClient(req, res);
    const token = single(((req.body ?? {}) as Record<string, unknown>).token);
    if (!token) throw new OAuthError("invalid_request", "token is required");
    await grants.revoke({ clientId, token });
    // RFC 7009 §2.2: 200 whether or not the token was known. The body is ignored by the spec, but clients
    // that parse every answer as JSON (simple-oauth2 does) need one.
    res.status(200).json({});
  });

  // §5.2 JSON for every failure on these routes; a database failure is a server_error, never invalid_grant.
  router.use(
    [OAUTH_PATHS.token, OAUTH_PATHS.revoke],
    (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(error);
      if (error instanceof OAuthError) {
        res.status(error.status).json(error.toJSON());
        return;
      }
      const type = (error as { type?: string }).type;
      if (type === "entity.too.large" || type === "entity.parse.failed") {
        res.status(400).json(new OAuthError("invalid_request", "the request body cannot be read").toJSON());
        return;
      }
      log.error({ err: error }, "token endpoint failed");
      res.status(500).json(new OAuthError("server_error", "the request could not be completed; try again").toJSON());
    },
  );

  return router;
}
