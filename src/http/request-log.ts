/**
 * One log line per finished request: method, path (never the query string, which may carry a token, nor
 * the token in a firmware download's path), status and duration. Headers and bodies are never logged.
 * Errors and refusals log at warn/error so they show at the default level; successful requests log at
 * info only when info is enabled — the level check comes first, so a quiet production log costs nothing
 * per request.
 */
import type { RequestHandler } from "express";
import type { Logger } from "../log.ts";

/** A firmware download URL carries its token in the path (`/ota/<job>/<token>`): the token is never logged. */
function redactPath(path: string): string {
  return path.replace(/^(\/ota\/[^/]+\/)[^/]+/, "$1…");
}

export function requestLog(log: Logger): RequestHandler {
  // Request ids only need to be unique within this process's log: a counter, not random bytes.
  const prefix = Date.now().toString(36);
  let counter = 0;
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const id = `${prefix}-${(++counter).toString(36)}`;
    res.setHeader("X-Request-Id", id);
    res.on("finish", () => {
      const level = res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info";
      if (!log.isLevelEnabled(level)) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log[level](
        {
          reqId: id,
          method: req.method,
          path: redactPath(req.originalUrl.split("?")[0] ?? ""),
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
        },
        "request",
      );
    });
    next();
  };
}
