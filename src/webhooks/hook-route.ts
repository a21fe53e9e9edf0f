/**
 * `POST /hooks/:hookId`: inbound webhooks. The hook is looked up and its rate limit taken before the body
 * is read; the body is read as raw bytes (never parsed by a JSON middleware, since re-serialised JSON
 * would not match its signature) and handed to the inbound hook logic, which verifies it before parsing
 * it. An unsigned hook's token travels in the query string (`?token=…`), which the request log never
 * writes. Every error is `{"error":{"code","message"}}`; an unknown hook id gets a bare 404.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import type { CommandService } from "../devices/commands.ts";
import type { Logger } from "../log.ts";
import type { SceneService } from "../scenes/index.ts";
import type { HookRecord, Store } from "../store/index.ts";
import { errorAnswer, type HookAnswer, InboundHooks, unknownHook } from "./inbound.ts";
import { HookRateLimiter } from "./rate-limit.ts";

export interface HookRouteDeps {
  config: Config;
  store: Store;
  commands: CommandService;
  scenes: SceneService;
  log: Logger;
  now?: () => number;
}

/** The media type of the body, without parameters such as the charset. */
function mediaType(req: Request): string {
  return (req.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function send(res: Response, answer: HookAnswer): void {
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  res.status(answer.status).json(answer.body);
}

export function hookRouter(deps: HookRouteDeps): Router {
  const router = Router();
  const inbound = new InboundHooks({
    store: deps.store,
    commands: deps.commands,
    scenes: deps.scenes,
    log: deps.log.child({ component: "hooks" }),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const limiter = new HookRateLimiter(deps.config.webhooks.requestsPerMinute, deps.now);

  /** Cheap checks first: an unknown hook or one over its limit costs no body read and no HMAC. */
  const admit: RequestHandler = (req, res, next) => {
    const hookId = req.params.hookId as string;
    const hook = deps.store.hooks.get(hookId);
    if (!hook) {
      limiter.forget(hookId);
      return send(res, errorAnswer(unknownHook()));
    }
    const decision = limiter.take(hook.id);
    if (!decision.allowed) {
      const refusal = {
        status: 429,
        code: "rate_limited",
        message: `more than ${deps.config.webhooks.requestsPerMinute} calls a minute to this hook`,
      };
      const headers = { "Retry-After": String(decision.retryAfterS) };
      // A flood writes one audit entry, not one per refused request.
      send(
        res,
        decision.firstRefusal ? inbound.refuse(hook, refusal, undefined, headers) : errorAnswer(refusal, headers),
      );
      return;
    }
    res.locals.hook = hook;
    next();
  };

  const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
    // A corrupt compressed body fails in zlib, whose errors carry a `code` (Z_DATA_ERROR…) and no `type`.
    const zlibCode = (error as { code?: unknown }).code;
    const type =
      (error as { type?: string }).type ??
      (typeof zlibCode === "string" && zlibCode.startsWith("Z_") ? "zlib" : undefined);
    if (type === undefined) return next(error);
    const hook = res.locals.hook as HookRecord;
    const refusal =
      type === "entity.too.large"
        ? { status: 413, code: "body_too_large", message: "the request body is too large" }
        : type === "encoding.unsupported" || type === "charset.unsupported"
          ? { status: 415, code: "unsupported_encoding", message: "unsupported content encoding" }
          : { status: 400, code: "invalid_body", message: "the request body could not be read" };
    send(res, inbound.refuse(hook, refusal));
  };

  router.post(
    "/hooks/:hookId",
    admit,
    // Whatever the content type, the bytes are kept as they are; the JSON check comes after verification.
    express.raw({ limit: deps.config.http.bodyLimitBytes, type: () => true }),
    bodyErrors,
    async (req: Request, res: Response) => {
      // Read again: the hook may have been removed or its secret rotated while the body arrived.
      const hook = deps.store.hooks.get((res.locals.hook as HookRecord).id);
      if (!hook) return send(res, errorAnswer(unknownHook()));
      const token = typeof req.query.token === "string" ? req.query.token : undefined;
      const answer = await inbound.call(hook, {
        header: (name) => req.get(name),
        token,
        isJson: mediaType(req) === "application/json",
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      });
      send(res, answer);
    },
  );
  return router;
}
