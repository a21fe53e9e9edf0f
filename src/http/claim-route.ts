/**
 * `POST /api/v1/claim`: a board trades its one-time claim token for MQTT credentials. No admin token (a new
 * board has none): the claim token is the credential. Failed attempts are counted per address and locked
 * out before any token is hashed or looked up, so guessing costs the guesser and not us.
 */
import express, { Router } from "express";
import { type ClaimDeps, ClaimError, ClaimRequestSchema, claimNode } from "../devices/claim.ts";
import type { Logger } from "../log.ts";
import { FailureLimiter } from "../security/failure-limiter.ts";
import { parseBody } from "./admin-api.ts";
import { errorBody, HttpError } from "./errors.ts";

/** Ten wrong tokens per address per quarter hour: plenty for a person retyping, nothing for a guesser. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 15 * 60_000;

export function claimRouter(deps: ClaimDeps & { log: Logger; now?: () => number }): Router {
  const now = deps.now ?? Date.now;
  const failures = new FailureLimiter(MAX_FAILURES, FAILURE_WINDOW_MS, now);
  const router = Router();
  router.post(
    "/api/v1/claim",
    (req, res, next) => {
      if (failures.isLocked(req.ip ?? "unknown")) {
        res.setHeader("Retry-After", String(FAILURE_WINDOW_MS / 1000));
        throw new HttpError(429, "too_many_attempts", "too many failed claims from this address; try again later");
      }
      next();
    },
    express.json({ limit: 4096 }),
    async (req, res) => {
      if (!req.is("application/json")) {
        throw new HttpError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json");
      }
      const request = parseBody(ClaimRequestSchema, req.body);
      const ip = req.ip ?? "unknown";
      try {
        const credentials = await claimNode(deps, request, now());
        failures.reset(ip);
        deps.log.info({ node: credentials.node_id }, "node claimed");
        // The body holds a password: no cache anywhere may keep it.
        res.setHeader("Cache-Control", "no-store");
        res.json(credentials);
      } catch (error) {
        if (!(error instanceof ClaimError)) throw error;
        failures.recordFailure(ip);
        deps.store.audit.record(
          { actor: `address:${ip}`, action: "node_claim", target: request.node_id, outcome: error.code },
          now(),
        );
        deps.log.warn({ node: request.node_id, reason: error.code }, "claim refused");
        res.status(error.status).json(errorBody(error.code, error.message));
      }
    },
  );
  return router;
}
