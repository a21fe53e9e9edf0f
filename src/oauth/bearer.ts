/**
 * The bearer check in front of the assistants' fulfillment routes (RFC 6750). A valid access token maps
 * to its user and client in `res.locals.principal`; a missing, unknown, expired or revoked one gets 401
 * with `WWW-Authenticate`, which is what makes Google and Alexa refresh the token instead of unlinking.
 * Each platform answers in its own format and may carry the token elsewhere (Alexa puts it inside the
 * directive), so the route may pass its own token source and `unauthorized` responder.
 */
import type { Request, RequestHandler, Response } from "express";
import type { AuthenticationResult } from "./grants.ts";

export interface TokenAuthenticator {
  check(accessToken: string): AuthenticationResult;
}

export type UnauthorizedReason = "missing" | "invalid" | "expired";
export type UnauthorizedResponder = (req: Request, res: Response, reason: UnauthorizedReason) => void;

export interface BearerOptions {
  /** Where the token is: the Authorization header unless the platform puts it elsewhere. */
  token?: (req: Request) => string | undefined;
  unauthorized?: UnauthorizedResponder;
}

const REALM = "hearth";

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(req.get("authorization") ?? "");
  return match?.[1];
}

const jsonUnauthorized: UnauthorizedResponder = (_req, res, reason) => {
  res.status(401).json({
    error: reason === "missing" ? "invalid_request" : "invalid_token",
    error_description: reason === "missing" ? "an access token is required" : "the access token is invalid or expired",
  });
};

export function requireBearer(authenticator: TokenAuthenticator, options: BearerOptions = {}): RequestHandler {
  const tokenOf = options.token ?? bearerToken;
  const unauthorized = options.unauthorized ?? jsonUnauthorized;
  return (req, res, next) => {
    const token = tokenOf(req);
    const result: AuthenticationResult | undefined = token ? authenticator.check(token) : undefined;
    if (!result || "failure" in result) {
      const reason = result?.failure ?? "missing";
      // RFC 6750 §3: no error attribute when the request carried no credentials at all.
      res.setHeader(
        "WWW-Authenticate",
        reason === "missing" ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`,
      );
      unauthorized(req, res, reason);
      return;
    }
    res.locals.principal = result.principal;
    next();
  };
}
