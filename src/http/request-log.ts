/**
 * One log line per finished request: method, path (never the query string, which may carry a token, nor
 * the token in a firmware download's path), status and duration. Headers and bodies are never logged.
 * Errors and refusals log at warn/error so they show at the default level; successful requests log at
 * info only when info is enabled — the level check comes first, so a quiet production log costs nothing
 * per request. A successful scrape of `/metrics` logs at debug: Prometheus asks every few seconds.
 *
 * The same `finish` tells the metrics (an optional observer) each request's duration.
 */
import { performance } from "node:perf_hooks";
import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "../log.ts";

/** Told of every finished request with its duration in seconds. */
export type RequestObserver = (req: Request, res: Response, seconds: number) => void;

function isScrape(url: string): boolean {
  return url === "/metrics" || url.startsWith("/metrics?");
}

/** A firmware download URL carries its token in the path (`/ota/<job>/<token>`): the token is never logged. */
export function redactPath(path: string): string {
  return path.replace(/^(\/ota\/[^/]+\/)[^/]+/, "$1…");
}

export function requestLog(log: Logger, observe?: RequestObserver): RequestHandler {
  // Request ids only need to be unique within this process's log: a counter, not random bytes.
  const prefix = Date.now().toString(36);
  let counter = 0;
  return (req, res, next) => {
    const started = performance.now();
    const id = `${prefix}-${(++counter).toString(36)}`;
    res.setHeader("X-Request-Id", id);
    res.on("finish", () => {
      // A plain number, not a bigint: nothing is allocated for a request below the log level.
      const ms = performance.now() - started;
      observe?.(req, res, ms / 1000);
      const level =
        res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : isScrape(req.originalUrl) ? "debug" : "info";
      if (!log.isLevelEnabled(level)) return;
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
