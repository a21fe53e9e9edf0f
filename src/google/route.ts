/**
 * `POST /google/fulfillment`: Google's SYNC, QUERY, EXECUTE and DISCONNECT. The bearer token is checked by
 * the account-linking middleware; a refused one is a 401, which makes Google refresh it rather than
 * unlink. The body is limited in size and must be JSON; everything else is the fulfillment's business.
 */
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import { requireBearer, type TokenAuthenticator, type UnauthorizedResponder } from "../oauth/bearer.ts";
import type { GoogleFulfillment } from "./fulfillment.ts";

export interface GoogleRouteDeps {
  config: Config;
  fulfillment: GoogleFulfillment;
  tokens: TokenAuthenticator;
}

/** Platforms whose tokens may drive the Google route: Google's own link, and custom clients for testing. */
const ACCEPTED_PLATFORMS = new Set(["google", "custom"]);

const unauthorized: UnauthorizedResponder = (_req, res, reason) => {
  res.status(401).json({
    payload: { errorCode: reason === "expired" ? "authExpired" : "authFailure" },
  });
};

const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
  const type = (error as { type?: string }).type;
  if (type === undefined) return next(error);
  const status = type === "entity.too.large" ? 413 : 400;
  res.status(status).json({ payload: { errorCode: "protocolError", debugString: "the body is not a JSON request" } });
};

export function googleRouter(deps: GoogleRouteDeps): Router {
  const router = Router();
  router.post(
    "/google/fulfillment",
    requireBearer(deps.tokens, { unauthorized }),
    // A token Alexa's skill was given does not open Google's door.
    (_req: Request, res: Response, next: NextFunction) => {
      if (ACCEPTED_PLATFORMS.has(res.locals.principal.platform)) return next();
      res.setHeader("WWW-Authenticate", 'Bearer realm="hearth", error="invalid_token"');
      res.status(401).json({ payload: { errorCode: "authFailure" } });
    },
    express.json({ limit: deps.config.http.bodyLimitBytes, type: () => true }),
    bodyErrors,
    async (req: Request, res: Response) => {
      const answer = await deps.fulfillment.handle(req.body, res.locals.principal);
      res.status(answer.status).json(answer.body);
    },
  );
  return router;
}
