/**
 * One error shape for the whole HTTP API — `{"error":{"code","message"}}` — and one mapping from typed
 * errors to status codes. Nothing else reaches a client: unexpected errors become a bare 500.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { NodeRegistryError } from "../devices/node-registry.ts";
import type { Logger } from "../log.ts";
import { CommandError, type CommandErrorCode } from "../model/index.ts";
import { SceneError, type SceneErrorCode } from "../scenes/errors.ts";
import { redactPath } from "./request-log.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const COMMAND_ERROR_STATUS: Record<CommandErrorCode, number> = {
  empty_command: 400,
  unknown_param: 400,
  read_only: 400,
  out_of_range: 400,
  invalid_type: 400,
  invalid_value: 400,
  unsupported_op: 400,
  unknown_device: 404,
  offline: 503,
  bridge_unavailable: 503,
  busy: 503,
  node_error: 502,
  timeout: 504,
  expired: 504,
};

const REGISTRY_ERROR_STATUS = { invalid_node_id: 400, node_exists: 409, unknown_node: 404 } as const;

const SCENE_ERROR_STATUS: Record<SceneErrorCode, number> = {
  unknown_scene: 404,
  read_only: 409,
  invalid_action: 400,
  invalid_scene: 400,
};

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json(errorBody("not_found", `no route for ${req.method} ${req.path}`));
};

/** The error handler needs a logger for the unexpected: the one thing it must not hide. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (res.headersSent) return;
    if (error instanceof CommandError) {
      res
        .status(COMMAND_ERROR_STATUS[error.code])
        .json(errorBody(error.code, error.message, error.param ? { param: error.param } : {}));
      return;
    }
    if (error instanceof NodeRegistryError) {
      res.status(REGISTRY_ERROR_STATUS[error.code]).json(errorBody(error.code, error.message));
      return;
    }
    if (error instanceof SceneError) {
      res.status(SCENE_ERROR_STATUS[error.code]).json(errorBody(error.code, error.message));
      return;
    }
    if (error instanceof HttpError) {
      res.status(error.status).json(errorBody(error.code, error.message));
      return;
    }
    // body-parser's own errors carry a `type`.
    const type = (error as { type?: string }).type;
    if (type === "entity.parse.failed") {
      res.status(400).json(errorBody("invalid_json", "the request body is not valid JSON"));
      return;
    }
    if (type === "entity.too.large") {
      res.status(413).json(errorBody("body_too_large", "the request body is too large"));
      return;
    }
    if (type === "encoding.unsupported" || type === "charset.unsupported") {
      res.status(415).json(errorBody("unsupported_encoding", "unsupported content encoding or charset"));
      return;
    }
    // The path as the request log writes it: a firmware download's token is not logged here either.
    log.error({ err: error, method: req.method, path: redactPath(req.path) }, "unhandled error in request");
    res.status(500).json(errorBody("internal", "internal error"));
  };
}
