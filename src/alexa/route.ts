/**
 * `POST /alexa/smarthome`: the route the Lambda forwarder calls with each directive. The user's token is
 * read from the directive itself (Alexa puts it in the endpoint scope, the Discover payload or the
 * AcceptGrant grantee), and an optional shared secret proves the call came from the forwarder. Every
 * answer, including a refused token or an unparsable body, is an Alexa message the forwarder can hand
 * back as it is.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { bearerToken, requireBearer, type TokenAuthenticator, type UnauthorizedResponder } from "../oauth/bearer.ts";
import { hashSecret, verifySecret } from "../security/secrets.ts";
import { AlexaError } from "./errors.ts";
import { addressOf, directiveToken, parseDirective } from "./messages.ts";
import { errorResponse } from "./responses.ts";
import type { AlexaSmartHome } from "./smart-home.ts";

export const FORWARDER_SECRET_HEADER = "x-hearth-forwarder-secret";

export interface AlexaRouteDeps {
  config: Config;
  smartHome: AlexaSmartHome;
  tokens: TokenAuthenticator;
  log: Logger;
}

function isAcceptGrant(body: unknown): boolean {
  const header = (body as { directive?: { header?: { namespace?: unknown; name?: unknown } } } | null)?.directive
    ?.header;
  return header?.namespace === "Alexa.Authorization" && header.name === "AcceptGrant";
}

function tokenOf(req: Request): string | undefined {
  const parsed = parseDirective(req.body);
  return (parsed.success ? directiveToken(parsed.data.directive) : undefined) ?? bearerToken(req);
}

/**
 * EXPIRED makes Alexa refresh the token and retry; INVALID means the link is gone. Amazon asks for these
 * two types only when the token really is the problem.
 */
const unauthorized: UnauthorizedResponder = (req, res, reason) => {
  const error = isAcceptGrant(req.body)
    ? new AlexaError("ACCEPT_GRANT_FAILED", "the grantee token is not valid", {}, "Alexa.Authorization")
    : reason === "expired"
      ? new AlexaError("EXPIRED_AUTHORIZATION_CREDENTIAL", "the access token has expired")
      : new AlexaError("INVALID_AUTHORIZATION_CREDENTIAL", "the access token is not valid");
  res.status(401).json(errorResponse(addressOf(req.body), error));
};

/** A forwarder secret, when configured, is compared in constant time before any token work. */
function requireForwarderSecret(secret: string | undefined, log: Logger): RequestHandler {
  const expected = secret === undefined ? undefined : hashSecret(secret);
  return (req, res, next) => {
    if (expected === undefined) return next();
    const presented = req.get(FORWARDER_SECRET_HEADER);
    if (presented !== undefined && verifySecret(presented, expected)) return next();
    log.warn({ ip: req.ip }, "an Alexa directive arrived without the forwarder's secret");
    res
      .status(403)
      .json(
        errorResponse(
          addressOf(req.body),
          new AlexaError(
            "INTERNAL_ERROR",
            "the forwarder's secret is missing or wrong: the forwarder's HEARTH_FORWARDER_SECRET must equal Hearth's alexa.forwarderSecret",
          ),
        ),
      );
  };
}

/** Unparsable or oversized bodies still get an Alexa answer. */
const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
  const type = (error as { type?: string }).type;
  if (type === undefined) return next(error);
  const status = type === "entity.too.large" ? 413 : 400;
  const message = type === "entity.too.large" ? "the directive is too large" : "the body is not a JSON directive";
  res.status(status).json(errorResponse({}, new AlexaError("INVALID_DIRECTIVE", message)));
};

export function alexaRouter(deps: AlexaRouteDeps): Router {
  const router = Router();
  router.post(
    "/alexa/smarthome",
    // Whatever content type the caller claims, the body must be a JSON directive.
    express.json({ limit: deps.config.http.bodyLimitBytes, type: () => true }),
    bodyErrors,
    requireForwarderSecret(deps.config.alexa.forwarderSecret, deps.log),
    requireBearer(deps.tokens, { token: tokenOf, unauthorized }),
    async (req: Request, res: Response) => {
      res.json(await deps.smartHome.handle(req.body, res.locals.principal));
    },
  );
  return router;
}
