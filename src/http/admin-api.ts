/**
 * The admin REST API under /api/v1: nodes, devices, commands, scenes, hooks, firmware updates, the audit
 * log. Every route needs an admin token (`hearth admin token`) as `Authorization: Bearer …`; repeated
 * failures from one address are locked out before any token work is done.
 */
import express, { type RequestHandler, Router } from "express";
import { z } from "zod";
import type { Config } from "../config/index.ts";
import type { CommandService } from "../devices/commands.ts";
import type { DeviceLink } from "../devices/link.ts";
import type { MosquittoAccounts } from "../devices/mosquitto-accounts.ts";
import { addNode, NodeRegistryError } from "../devices/node-registry.ts";
import { DEVICE_OPS } from "../model/index.ts";
import { otaAdminRouter } from "../ota/routes.ts";
import type { OtaService } from "../ota/service.ts";
import { type Scene, SceneDefinitionSchema, SceneError, type SceneService, sceneView } from "../scenes/index.ts";
import { FailureLimiter } from "../security/failure-limiter.ts";
import type { Store } from "../store/index.ts";
import { hookAdminRouter } from "../webhooks/hook-admin.ts";
import type { WebhookDispatcher } from "../webhooks/outbox.ts";
import { subscriptionAdminRouter } from "../webhooks/subscription-admin.ts";
import { errorBody, HttpError } from "./errors.ts";
import { deviceView, linkViews, nodeView } from "./views.ts";

export interface AdminApiDeps {
  config: Config;
  store: Store;
  commands: CommandService;
  link: DeviceLink;
  scenes: SceneService;
  /** The external mosquitto's password file, when Hearth keeps node accounts in it. */
  accounts?: MosquittoAccounts;
  /** Closes a removed node's connection on the embedded broker (absent with an external broker). */
  disconnectNode?: (nodeId: string) => void;
  embeddedPort?: () => number;
  now?: () => number;
  /** Woken by a replay, so that the delivery is attempted at once. */
  webhooks?: Pick<WebhookDispatcher, "wake">;
  /** Firmware updates: pushes and jobs. */
  ota?: OtaService;
}

const CommandBody = z.strictObject({
  op: z.enum(DEVICE_OPS).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

const NodeBody = z.strictObject({ node_id: z.string(), rotate: z.boolean().optional() });

/** The id comes from the path, so a body cannot name a different scene than the URL. */
const SceneBody = SceneDefinitionSchema.omit({ id: true });
const ActivateBody = z.strictObject({});

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  throw new HttpError(400, "invalid_request", `${where}${issue?.message ?? "invalid body"}`);
}

export function requireAdminToken(store: Store, now: () => number): RequestHandler {
  const failures = new FailureLimiter(20, 15 * 60_000, now);
  return (req, res, next) => {
    const ip = req.ip ?? "unknown";
    if (failures.isLocked(ip)) {
      res.setHeader("Retry-After", "900");
      throw new HttpError(429, "too_many_attempts", "too many failed authentication attempts; try again later");
    }
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const identity = match ? store.adminTokens.identify(match[1] as string, now()) : undefined;
    if (!identity) {
      failures.recordFailure(ip);
      res.setHeader("WWW-Authenticate", 'Bearer realm="hearth-admin"');
      throw new HttpError(
        401,
        "unauthorized",
        match ? "invalid or expired admin token" : "an admin token is required (hearth admin token)",
      );
    }
    // Who acted, for the command log: the token's label (`cli` for the CLI's own short-lived tokens).
    res.locals.actor = `admin:${identity.label}`;
    next();
  };
}

export function adminApi(deps: AdminApiDeps): Router {
  const { store, commands, link, config, scenes } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();
  router.use(requireAdminToken(store, now));
  // Before the JSON parser and its content-type check: a firmware image is raw bytes, and the only body
  // here that may exceed http.bodyLimitBytes, on its one route.
  if (deps.ota) router.use(otaAdminRouter({ ota: deps.ota, config, now }));
  router.use(express.json({ limit: config.http.bodyLimitBytes }));
  // A body the JSON parser skipped (no or another content type) would otherwise read as "no params".
  router.use((req, _res, next) => {
    const hasBody = Number(req.get("content-length") ?? 0) > 0 || req.get("transfer-encoding") !== undefined;
    if (hasBody && !req.is("application/json")) {
      throw new HttpError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json");
    }
    next();
  });

  router.get("/devices", (_req, res) => {
    res.json(store.devices.list().map(deviceView));
  });

  router.get("/devices/:id", (req, res) => {
    const device = store.devices.get(req.params.id as string);
    if (!device?.present) throw new HttpError(404, "unknown_device", `no device "${req.params.id}"`);
    res.json(deviceView(device));
  });

  router.post("/devices/:id/commands", async (req, res) => {
    const body = parseBody(CommandBody, req.body);
    const result = await commands.send({
      deviceId: req.params.id as string,
      ...(body.op ? { op: body.op } : {}),
      params: body.params ?? {},
      actor: String(res.locals.actor ?? "admin"),
    });
    res.status(result.status === "accepted" ? 202 : 200).json({
      status: result.status,
      command_id: result.commandId,
      device: result.deviceId,
      state: result.state,
      latency_ms: result.latencyMs,
    });
  });

  router.get("/scenes", (_req, res) => {
    res.json(scenes.list().map(sceneView));
  });

  router.get("/scenes/:id", (req, res) => {
    const scene = scenes.get(req.params.id as string);
    if (!scene) throw new SceneError("unknown_scene", `no scene "${req.params.id}"`);
    res.json(sceneView(scene));
  });

  router.put("/scenes/:id", (req, res) => {
    const body = parseBody(SceneBody, req.body);
    const id = req.params.id as string;
    const { created } = scenes.put({ id, ...body });
    res.status(created ? 201 : 200).json(sceneView(scenes.get(id) as Scene));
  });

  router.delete("/scenes/:id", (req, res) => {
    scenes.remove(req.params.id as string);
    res.status(204).end();
  });

  router.post("/scenes/:id/activate", async (req, res) => {
    parseBody(ActivateBody, req.body);
    const activation = await scenes.activate(req.params.id as string, String(res.locals.actor ?? "admin"));
    if (activation.status === "error") {
      // Nothing happened: a failure to the caller, with each action's reason.
      const message = `every action of scene "${activation.scene.id}" failed`;
      res.status(502).json(errorBody("scene_failed", message, { results: activation.results }));
      return;
    }
    res.json({ status: activation.status, results: activation.results });
  });

  router.use("/hooks", hookAdminRouter({ store, config, now }));

  router.get("/nodes", (_req, res) => {
    res.json(store.nodes.list().map(nodeView));
  });

  router.post("/nodes", async (req, res) => {
    const body = parseBody(NodeBody, req.body);
    const port = deps.embeddedPort?.();
    const credentials = addNode(store, config, body.node_id, {
      rotate: body.rotate ?? false,
      ...(port ? { embeddedPort: port } : {}),
      now: now(),
    });
    // A node whose password changed must log in again with the new one.
    if (body.rotate) deps.disconnectNode?.(body.node_id);
    await deps.accounts?.upsert(credentials.username, credentials.password);
    res.status(201).json(credentials);
  });

  router.delete("/nodes/:id", async (req, res) => {
    const nodeId = req.params.id as string;
    const devices = store.devices.list({ nodeId, includeRemoved: true });
    if (!store.nodes.remove(nodeId)) throw new NodeRegistryError("unknown_node", `no node "${nodeId}"`);
    link.announceRemoval(
      nodeId,
      devices.filter((d) => d.present).map((d) => d.id),
    );
    const devIds = devices.map((d) => d.devId);
    deps.disconnectNode?.(nodeId);
    await deps.accounts?.remove(nodeId);
    await link.clearRetained(nodeId, devIds);
    res.status(204).end();
  });

  router.use("/subscriptions", subscriptionAdminRouter({ store, config, now, webhooks: deps.webhooks }));

  router.get("/links", (_req, res) => {
    res.json(linkViews(store));
  });

  router.get("/commands", (req, res) => {
    const device = typeof req.query.device === "string" ? req.query.device : undefined;
    const limit = typeof req.query.limit === "string" ? Number.parseInt(req.query.limit, 10) || 50 : 50;
    res.json(
      store.commands.recent({ ...(device ? { deviceId: device } : {}), limit }).map((c) => ({
        id: c.id,
        device: c.deviceId,
        actor: c.actor,
        op: c.op,
        params: c.params,
        status: c.status,
        error_code: c.errorCode,
        state: c.resultState,
        attempts: c.attempts,
        created_at: new Date(c.createdAt).toISOString(),
        latency_ms: c.latencyMs,
      })),
    );
  });

  router.get("/audit", (req, res) => {
    const action = typeof req.query.action === "string" ? req.query.action : undefined;
    const limit = typeof req.query.limit === "string" ? Number.parseInt(req.query.limit, 10) || 50 : 50;
    let before: number | undefined;
    if (req.query.before !== undefined) {
      // A cursor that cannot be read must not quietly restart the listing at the newest entry.
      const cursor = req.query.before;
      if (typeof cursor !== "string" || !/^[1-9][0-9]{0,14}$/.test(cursor)) {
        throw new HttpError(400, "invalid_request", "before: the id of an audit entry");
      }
      before = Number(cursor);
    }
    res.json(
      store.audit
        .list({ limit, ...(action ? { action } : {}), ...(before === undefined ? {} : { before }) })
        .map((e) => ({
          id: e.id,
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          action: e.action,
          target: e.target,
          outcome: e.outcome,
          detail: e.detail,
        })),
    );
  });

  return router;
}
