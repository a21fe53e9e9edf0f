/**
 * `GET /metrics`: the Prometheus text format of the daemon's own registry. With `metrics.token` set, the request
 * must carry `Authorization: Bearer <token>`, compared as a hash in constant time; anything else is a 401 in the
 * API's error shape. Without a token the route is open, and the start-up warnings say so when HTTP listens
 * beyond loopback. Nothing in the output is a secret: label values are fixed sets of the code (see index.ts).
 */
import { Router } from "express";
import { errorBody } from "../http/errors.ts";
import { hashSecret, verifySecret } from "../security/secrets.ts";
import type { Metrics } from "./index.ts";

export const METRICS_PATH = "/metrics";

export function metricsRouter(metrics: Metrics, token: string | undefined): Router {
  const expected = token === undefined ? undefined : hashSecret(token);
  const router = Router();
  router.get(METRICS_PATH, async (req, res) => {
    if (expected !== undefined) {
      const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "")?.[1];
      if (presented === undefined || !verifySecret(presented, expected)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="hearth-metrics"');
        res
          .status(401)
          .json(errorBody("unauthorized", "GET /metrics needs Authorization: Bearer <token> with the metrics.token"));
        return;
      }
    }
    const text = await metrics.scrape();
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Content-Type", metrics.contentType);
    res.send(text);
  });
  return router;
}
