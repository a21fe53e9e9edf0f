/**
 * `POST /alexa/smarthome`: the route the Lambda forwarder calls with each directive. The user's token is
 * read from the directive itself (Alexa puts it in the endpoint scope, the Discover payload or the
 * AcceptGrant grantee), and an optional shared secret proves the call came from the forwarder. Every
 * answer, including a refused token or an unparsable body, is an Alexa message the forwarder can hand
 * back as it is.
 */
import { performance } from "node:perf_hooks";
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { bearerToken, requireBearer, type TokenAuthenticator, type UnauthorizedResponder } from "../oauth/bearer.ts";
import { hashSecret, verifySecret } from "../security/secrets.ts";
import { DEVICE_INTERFACES } from "./endpoints.ts";
import { AlexaError } from "./errors.ts";
import { type AlexaEvent, addressOf, directiveToken, parseDirective } from "./messages.ts";
import { errorResponse } from "./responses.ts";
import type { AlexaSmartHome } from "./smart-home.ts";

export const FORWARDER_SECRET_HEADER = "x-hearth-forwarder-secret";

/** Told of every answered directive, refusals included (metrics). */
export interface DirectiveMetrics {
  /**
   * `namespace` and `name` are those of a directive Hearth handles, else `other`; `outcome` is `ok`, `deferred`,
   * the ErrorResponse's type, or `forbidden` for a call without the forwarder's secret.
   */
  alexaDirective(namespace: string, name: string, outcome: string, seconds: number): void;
}

export interface AlexaRouteDeps {
  config: Config;
  smartHome: AlexaSmartHome;
  tokens: TokenAuthenticator;
  log: Logger;
  metrics?: DirectiveMetrics | undefined;
}

/** The directives Hearth handles, by namespace: the only names a metric label may take. */
const KNOWN_DIRECTIVES = (() => {
  const known = new Map<string, Set<string>>([
    ["Alexa", new Set(["ReportState"])],
    ["Alexa.Discovery", new Set(["Discover"])],
    ["Alexa.Authorization", new Set(["AcceptGrant"])],
    ["Alexa.SceneController", new Set(["Activate"])],
  ]);
  for (const i of DEVICE_INTERFACES) {
    const names = known.get(i.namespace) ?? new Set<string>();
    for (const name of Object.keys(i.directives)) names.add(name);
    known.set(i.namespace, names);
  }
  return known;
})();

function headerOf(body: unknown): { namespace?: unknown; name?: unknown } | undefined {
  return (body as { directive?: { header?: { namespace?: unknown; name?: unknown } } } | null)?.directive?.header;
}

/** The directive's namespace as a metric label: `other` for a namespace Hearth does not handle. */
export function directiveNamespace(body: unknown): string {
  const namespace = headerOf(body)?.namespace;
  return typeof namespace === "string" && KNOWN_DIRECTIVES.has(namespace) ? namespace : "other";
}

/** The directive's name as a metric label: `other` for a name Hearth does not handle in `namespace`. */
export function directiveName(body: unknown, namespace: string): string {
  const name = headerOf(body)?.name;
  return typeof name === "string" && KNOWN_DIRECTIVES.get(namespace)?.has(name) ? name : "other";
}

/** `ok`, `deferred`, or the type of an ErrorResponse. */
export function directiveOutcome(answer: AlexaEvent): string {
  const { header, payload } = answer.event;
  if (header.name === "ErrorResponse") return typeof payload.type === "string" ? payload.type : "error";
  if (header.name === "DeferredResponse") return "deferred";
  return "ok";
}

/** Where the route keeps when a directive arrived, for its duration. */
const STARTED = "alexaStartedAt";

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
/** Sends an answer, and tells the metrics what it was and how long it took. */
type Reply = (req: Request, res: Response, status: number, answer: AlexaEvent, outcome?: string) => void;

function replier(metrics: DirectiveMetrics | undefined): Reply {
  return (req, res, status, answer, outcome) => {
    res.status(status).json(answer);
    const started = res.locals[STARTED];
    if (metrics === undefined || typeof started !== "number") return;
    const namespace = directiveNamespace(req.body);
    const name = directiveName(req.body, namespace);
    metrics.alexaDirective(namespace, name, outcome ?? directiveOutcome(answer), (performance.now() - started) / 1000);
  };
}

function unauthorized(reply: Reply): UnauthorizedResponder {
  return (req, res, reason) => {
    const error = isAcceptGrant(req.body)
      ? new AlexaError("ACCEPT_GRANT_FAILED", "the grantee token is not valid", {}, "Alexa.Authorization")
      : reason === "expired"
        ? new AlexaError("EXPIRED_AUTHORIZATION_CREDENTIAL", "the access token has expired")
        : new AlexaError("INVALID_AUTHORIZATION_CREDENTIAL", "the access token is not valid");
    reply(req, res, 401, errorResponse(addressOf(req.body), error));
  };
}

/** A forwarder secret, when configured, is compared in constant time before any token work. */
function requireForwarderSecret(secret: string | undefined, log: Logger, reply: Reply): RequestHandler {
  const expected = secret === undefined ? undefined : hashSecret(secret);
  return (req, res, next) => {
    if (expected === undefined) return next();
    const presented = req.get(FORWARDER_SECRET_HEADER);
    if (presented !== undefined && verifySecret(presented, expected)) return next();
    log.warn({ ip: req.ip }, "an Alexa directive arrived without the forwarder's secret");
    const error = new AlexaError(
      "INTERNAL_ERROR",
      "the forwarder's secret is missing or wrong: the forwarder's HEARTH_FORWARDER_SECRET must equal Hearth's alexa.forwarderSecret",
    );
    // Counted apart from Hearth's own internal errors: this one is a caller without the secret.
    reply(req, res, 403, errorResponse(addressOf(req.body), error), "forbidden");
  };
}

/** Unparsable or oversized bodies still get an Alexa answer. */
function bodyErrors(reply: Reply): ErrorRequestHandler {
  return (error, req, res, next) => {
    const type = (error as { type?: string }).type;
    if (type === undefined) return next(error);
    const status = type === "entity.too.large" ? 413 : 400;
    const message = type === "entity.too.large" ? "the directive is too large" : "the body is not a JSON directive";
    reply(req, res, status, errorResponse({}, new AlexaError("INVALID_DIRECTIVE", message)));
  };
}

export function alexaRouter(deps: AlexaRouteDeps): Router {
  const router = Router();
  const reply = replier(deps.metrics);
  router.post(
    "/alexa/smarthome",
    ((_req, res, next) => {
      if (deps.metrics) res.locals[STARTED] = performance.now();
      next();
    }) satisfies RequestHandler,
    // Whatever content type the caller claims, the body must be a JSON directive.
    express.json({ limit: deps.config.http.bodyLimitBytes, type: () => true }),
    bodyErrors(reply),
    requireForwarderSecret(deps.config.alexa.forwarderSecret, deps.log, reply),
    requireBearer(deps.tokens, { token: tokenOf, unauthorized: unauthorized(reply) }),
    async (req: Request, res: Response) => {
      reply(req, res, 200, await deps.smartHome.handle(req.body, res.locals.principal));
    },
  );
  return router;
}
