/**
 * Managing hooks, shared by `hearth hook` and the admin API: what a new hook may say, how a hook is shown
 * (never with its secret, except once when it is issued), and the admin routes under /api/v1/hooks. Adding,
 * removing and rotating are audited like other credential changes.
 */
import { type Request, Router } from "express";
import { z } from "zod";
import type { Config } from "../config/index.ts";
import { HttpError } from "../http/errors.ts";
import { SCENE_ID_PATTERN } from "../scenes/index.ts";
import { HOOK_NAME_PATTERN, type HookRecord, type IssuedHook, type Store } from "../store/index.ts";

/** Allow-lists longer than this are a mistake, not a use case. */
const MAX_ALLOWED = 256;

export const NewHookSchema = z
  .strictObject({
    name: z
      .string()
      .regex(HOOK_NAME_PATTERN, "hook names are 1–32 characters of a-z, 0-9, _ and -, starting with a letter or digit"),
    devices: z.array(z.string().min(3).max(66)).max(MAX_ALLOWED).default([]),
    scenes: z.array(z.string().regex(SCENE_ID_PATTERN, "not a scene id")).max(MAX_ALLOWED).default([]),
    async: z.boolean().default(false),
    unsigned: z.boolean().default(false),
  })
  .refine((hook) => hook.devices.length + hook.scenes.length > 0, {
    message: "allow at least one device or scene: a hook may act on nothing else",
  });
export type NewHookInput = z.input<typeof NewHookSchema>;

/** Where senders reach Hearth: `publicUrl` when set, else the given local address. */
export function hooksBaseUrl(config: Config, localUrl: string): string {
  return (config.publicUrl ?? localUrl).replace(/\/+$/, "");
}

export function hookUrl(baseUrl: string, hookId: string): string {
  return `${baseUrl}/hooks/${hookId}`;
}

/** A hook as the CLI's `--json` and the admin API show it: never its secret or token. */
export function hookView(hook: HookRecord, baseUrl: string) {
  return {
    id: hook.id,
    name: hook.name,
    url: hookUrl(baseUrl, hook.id),
    mode: hook.mode,
    devices: hook.devices,
    scenes: hook.scenes,
    async: hook.async,
    created_at: new Date(hook.createdAt).toISOString(),
    last_used_at: hook.lastUsedAt === null ? null : new Date(hook.lastUsedAt).toISOString(),
  };
}

/**
 * A hook just issued, with the one credential its sender needs, shown only now: the signing secret, or
 * the token, which is then part of the URL to call.
 */
export function issuedHookView({ hook, credential }: IssuedHook, baseUrl: string) {
  const view = hookView(hook, baseUrl);
  if (hook.mode === "signed") return { ...view, secret: credential };
  return { ...view, url: `${view.url}?token=${credential}`, token: credential };
}

/** Audits a change to a hook's existence or credentials; never the credential itself. */
export function auditHookChange(
  store: Store,
  actor: string,
  action: "hook_add" | "hook_remove" | "hook_rotate",
  hook: HookRecord,
  now: number,
): void {
  store.audit.record({ actor, action, target: hook.id, outcome: "ok", detail: `hook ${hook.name}` }, now);
}

function parseNewHook(body: unknown) {
  const result = NewHookSchema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  throw new HttpError(400, "invalid_request", `${where}${issue?.message ?? "invalid body"}`);
}

export interface HookAdminDeps {
  config: Config;
  store: Store;
  now?: () => number;
}

/** The admin routes, mounted at /api/v1/hooks behind the admin token. */
export function hookAdminRouter(deps: HookAdminDeps): Router {
  const { store, config } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();
  // Without publicUrl, the address the administrator reached Hearth at is the best guess at a sender's.
  const baseUrl = (req: Request) => hooksBaseUrl(config, `${req.protocol}://${req.get("host")}`);
  const actor = (res: { locals: Record<string, unknown> }) => String(res.locals.actor ?? "admin");
  const unknown = (name: string) => new HttpError(404, "unknown_hook", `no hook "${name}"`);

  router.get("/", (req, res) => {
    res.json(store.hooks.list().map((hook) => hookView(hook, baseUrl(req))));
  });

  router.post("/", (req, res) => {
    const hook = parseNewHook(req.body);
    const issued = store.hooks.add(hook, now());
    if (!issued) throw new HttpError(409, "hook_exists", `a hook named "${hook.name}" exists`);
    auditHookChange(store, actor(res), "hook_add", issued.hook, now());
    res.status(201).json(issuedHookView(issued, baseUrl(req)));
  });

  router.delete("/:name", (req, res) => {
    const name = req.params.name as string;
    const hook = store.hooks.getByName(name);
    if (!hook || !store.hooks.remove(name)) throw unknown(name);
    auditHookChange(store, actor(res), "hook_remove", hook, now());
    res.status(204).end();
  });

  router.post("/:name/rotate-secret", (req, res) => {
    const name = req.params.name as string;
    const issued = store.hooks.rotate(name);
    if (!issued) throw unknown(name);
    auditHookChange(store, actor(res), "hook_rotate", issued.hook, now());
    res.json(issuedHookView(issued, baseUrl(req)));
  });

  return router;
}
