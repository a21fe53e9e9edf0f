/**
 * The HTTP side of firmware updates. `GET /ota/:jobId/:token` serves an image to the node, without an admin
 * token (a node has none): the one-time token in the URL is the credential, and every refusal is the same
 * 404 so that an answer never tells an unknown job from a wrong token or an ended job. Requests are counted
 * per address before any token work. The admin routes push an image (the raw bytes as the body; the only
 * route under /api/v1 that takes more than http.bodyLimitBytes) and list jobs.
 */
import { createReadStream } from "node:fs";
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import { HttpError } from "../http/errors.ts";
import { HookRateLimiter } from "../webhooks/rate-limit.ts";
import { otaJobView } from "./jobs.ts";
import { OtaError, type OtaService } from "./service.ts";

/** A node needs one download per update, a few with retries; far more from one address is not a node. */
export const DOWNLOADS_PER_MINUTE = 30;

export interface OtaRouteDeps {
  ota: OtaService;
  config: Config;
  now?: () => number;
}

function notFound(): HttpError {
  return new HttpError(404, "not_found", "no firmware image here");
}

export function otaDownloadRouter(deps: OtaRouteDeps): Router {
  const router = Router();
  const limiter = new HookRateLimiter(DOWNLOADS_PER_MINUTE, deps.now);
  router.use("/ota", (req, res, next) => {
    const decision = limiter.take(req.ip ?? "unknown");
    if (!decision.allowed) {
      res.setHeader("Retry-After", String(decision.retryAfterS));
      throw new HttpError(429, "rate_limited", "too many firmware downloads from this address; try again later");
    }
    next();
  });
  router.get("/ota/:jobId/:token", (req, res) => {
    const image = deps.ota.download(req.params.jobId as string, req.params.token as string);
    if (!image) throw notFound();
    const stream = createReadStream(image.path);
    // The job may end (and its image go) between the check and the open: that is a 404 like any other.
    stream.once("error", (error) => {
      if (res.headersSent) res.destroy(error);
      else res.status(404).json({ error: { code: "not_found", message: "no firmware image here" } });
    });
    stream.once("open", () => {
      res.status(200);
      res.setHeader("Content-Type", "application/octet-stream");
      res.setHeader("Content-Length", String(image.size));
      res.setHeader("Cache-Control", "no-store");
      stream.pipe(res);
    });
    res.once("close", () => stream.destroy());
  });
  // Any other path here gets the same answer as a wrong token: none of them tells what exists.
  router.all("/ota/{*rest}", () => {
    throw notFound();
  });
  return router;
}

/** Only raw bytes: a JSON or form body is a mistake, refused before it is read. */
const octetStreamOnly: RequestHandler = (req, _res, next) => {
  const type = req.get("content-type");
  if (type !== undefined && !req.is("application/octet-stream")) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      "send the image as the body with Content-Type: application/octet-stream",
    );
  }
  next();
};

/** Mounted inside the admin API, after its token check and before its JSON parser. */
export function otaAdminRouter(deps: OtaRouteDeps): Router {
  const { ota, config } = deps;
  const router = Router();
  const tooLarge: ErrorRequestHandler = (error, _req, _res, next) => {
    if ((error as { type?: string }).type !== "entity.too.large") return next(error);
    next(
      new OtaError("image_too_large", `the image is larger than ota.maxImageBytes (${config.ota.maxImageBytes} bytes)`),
    );
  };

  router.post(
    "/nodes/:id/ota",
    octetStreamOnly,
    express.raw({ type: () => true, limit: config.ota.maxImageBytes }),
    tooLarge,
    async (req: Request, res: Response) => {
      const version = req.query.version;
      if (typeof version !== "string" || version === "") {
        throw new OtaError("invalid_version", "give the image's version: ?version=1.4.3");
      }
      const job = await ota.push({
        nodeId: req.params.id as string,
        version,
        image: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        actor: String(res.locals.actor ?? "admin"),
      });
      res.status(202).json(otaJobView(job));
    },
  );

  router.get("/ota", (req, res) => {
    const node = typeof req.query.node === "string" ? req.query.node : undefined;
    const limit = typeof req.query.limit === "string" ? Number.parseInt(req.query.limit, 10) || 50 : 50;
    res.json(ota.jobs.list({ ...(node ? { nodeId: node } : {}), limit }).map(otaJobView));
  });

  router.get("/ota/:jobId", (req, res) => {
    res.json(otaJobView(ota.get(req.params.jobId as string)));
  });

  return router;
}
