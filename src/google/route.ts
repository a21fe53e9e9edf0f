/**
 * `POST /google/fulfillment`: Google's SYNC, QUERY, EXECUTE and DISCONNECT. The bearer token is checked by
 * the account-linking middleware; a refused one is a 401, which makes Google refresh it rather than
 * unlink. The body is limited in size and must be JSON; everything else is the fulfillment's business.
 */
import { performance } from "node:perf_hooks";
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  Router,
} from "express";
import type { Config } from "../config/index.ts";
import { requireBearer, type TokenAuthenticator, type UnauthorizedResponder } from "../oauth/bearer.ts";
import type { GoogleFulfillment } from "./fulfillment.ts";
import { INTENTS } from "./messages.ts";

/** Told of every answered request, refusals included (metrics). */
export interface IntentMetrics {
  /**
   * `intent` is SYNC, QUERY, EXECUTE, DISCONNECT, or `other` (unknown, or not read because the token was
   * refused); `outcome` is `ok`, `pending`, or a Google error code (`authFailure`, `deviceOffline`…).
   */
  googleIntent(intent: string, outcome: string, seconds: number): void;
}

export interface GoogleRouteDeps {
  config: Config;
  fulfillment: GoogleFulfillment;
  tokens: TokenAuthenticator;
  metrics?: IntentMetrics | undefined;
}

/** Platforms whose tokens may drive the Google route: Google's own link, and custom clients for testing. */
const ACCEPTED_PLATFORMS = new Set(["google", "custom"]);

const INTENT_LABELS = new Map<unknown, string>(
  Object.values(INTENTS).map((intent) => [intent, intent.slice("action.devices.".length)]),
);

/** The intent of a request body as a metric label: one of Google's four, else `other`. */
export function intentLabel(body: unknown): string {
  const inputs = (body as { inputs?: unknown } | null)?.inputs;
  const first = Array.isArray(inputs) ? (inputs[0] as { intent?: unknown } | undefined) : undefined;
  return INTENT_LABELS.get(first?.intent) ?? "other";
}

/**
 * `ok`, or what Google is told went wrong: the top-level `errorCode`, else for an EXECUTE the first command that
 * did not succeed (`pending`, or its `errorCode`).
 */
export function intentOutcome(body: Record<string, unknown>): string {
  const payload = body.payload as { errorCode?: unknown; commands?: unknown } | undefined;
  if (typeof payload?.errorCode === "string") return payload.errorCode;
  if (!Array.isArray(payload?.commands)) return "ok";
  for (const command of payload.commands as Array<{ status?: unknown; errorCode?: unknown }>) {
    if (command.status === "SUCCESS") continue;
    if (command.status === "PENDING") return "pending";
    return typeof command.errorCode === "string" ? command.errorCode : "error";
  }
  return "ok";
}

/** Where the route keeps when a request arrived, for its duration. */
const STARTED = "googleStartedAt";

type Reply = (req: Request, res: Response, status: number, body: Record<string, unknown>) => void;

function replier(metrics: IntentMetrics | undefined): Reply {
  return (req, res, status, body) => {
    res.status(status).json(body);
    const started = res.locals[STARTED];
    if (metrics === undefined || typeof started !== "number") return;
    metrics.googleIntent(intentLabel(req.body), intentOutcome(body), (performance.now() - started) / 1000);
  };
}

function unauthorized(reply: Reply): UnauthorizedResponder {
  return (req, res, reason) => {
    reply(req, res, 401, { payload: { errorCode: reason === "expired" ? "authExpired" : "authFailure" } });
  };
}

function bodyErrors(reply: Reply): ErrorRequestHandler {
  return (error, req, res, next) => {
    const type = (error as { type?: string }).type;
    if (type === undefined) return next(error);
    const status = type === "entity.too.large" ? 413 : 400;
    reply(req, res, status, {
      payload: { errorCode: "protocolError", debugString: "the body is not a JSON request" },
    });
  };
}

export function googleRouter(deps: GoogleRouteDeps): Router {
  const router = Router();
  const reply = replier(deps.metrics);
  router.post(
    "/google/fulfillment",
    ((_req, res, next) => {
      if (deps.metrics) res.locals[STARTED] = performance.now();
      next();
    }) satisfies RequestHandler,
    requireBearer(deps.tokens, { unauthorized: unauthorized(reply) }),
    // A token Alexa's skill was given does not open Google's door.
    (req: Request, res: Response, next: NextFunction) => {
      if (ACCEPTED_PLATFORMS.has(res.locals.principal.platform)) return next();
      res.setHeader("WWW-Authenticate", 'Bearer realm="hearth", error="invalid_token"');
      reply(req, res, 401, { payload: { errorCode: "authFailure" } });
    },
    express.json({ limit: deps.config.http.bodyLimitBytes, type: () => true }),
    bodyErrors(reply),
    async (req: Request, res: Response) => {
      const answer = await deps.fulfillment.handle(req.body, res.locals.principal);
      reply(req, res, answer.status, answer.body);
    },
  );
  return router;
}
